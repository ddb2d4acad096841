//! Client-side tokenization, the page's side: a checkout page holding a client token (issued to
//! its merchant by `POST /vault/client-tokens`) posts the card here and gets a one-time payment
//! nonce, which only the merchant can exchange (`POST /vault/nonces/exchange`). The card number
//! never passes through the merchant's systems (PCI DSS scope: SAQ A rather than SAQ D).
//!
//! - `POST /vault/nonces` with `Authorization: Bearer <client token>` and the card (as
//!   `POST /vault/cards` takes it, CVV allowed). A browser's request must come from the token's
//!   origin (`Origin`); the answer then carries CORS headers for it (Fetch standard §3.2), and
//!   for no other origin. Requests from Shonin's own origin (the hosted fields below) and from
//!   apps, which send no `Origin`, are allowed.
//! - `OPTIONS /vault/nonces`: the CORS preflight. It cannot see the token (a preflight carries
//!   no credentials), so it allows any well-formed origin; the post itself is what is checked.
//! - `GET /vault/hosted-fields?client_token=…`: the hosted card fields, a page that only the
//!   token's origin may frame (CSP `frame-ancestors`); its script posts the card from Shonin's
//!   own origin and hands the nonce to the parent page by `postMessage` addressed to that origin
//!   alone, so the merchant's page never sees the number.

use crate::pages::{self, ErrorPage, Frame, HostedFieldsPage};
use crate::request_meta::RequestMeta;
use crate::routes::vault::{Call, Refused, answer, card_input, rfc3339, settled};
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use shonin_keys::KeySource;
use shonin_types::unit::UnitOfWork;
use shonin_vault::client_token::{self, ClientGrant};
use shonin_vault::{VaultError, WebOrigin};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vault/nonces", post(issue).options(preflight))
        .route("/vault/hosted-fields", get(hosted_fields))
}

/// The client token of this request, verified against the server's published keys.
fn grant(state: &AppState, token: Option<&str>) -> Result<ClientGrant, VaultError> {
    let token = token.ok_or(VaultError::ClientToken("a client token is required"))?;
    client_token::verify(
        token,
        &state.keys.published_jwks(),
        &state.config.issuer,
        state.clock.now(),
    )
}

/// The token of `Authorization: Bearer …` (RFC 6750 §2.1).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `POST /vault/nonces`: 201 with a nonce for the card, its brand and last four digits.
pub async fn issue(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let call = Call {
        state,
        meta,
        action: "vault.nonce",
    };
    let grant = match grant(&call.state, bearer(&headers)) {
        Ok(g) => g,
        Err(e) => return call.refuse("", "-", e.into()).await,
    };
    let client = grant.client_id.as_str();
    let origin = headers.get(header::ORIGIN).map(HeaderValue::as_bytes);
    // The token's origin (the merchant's own form), or ours (the hosted fields page).
    let own = own_origin(&call.state.config.issuer);
    let cross_origin = origin.is_some_and(|o| o != own.as_bytes());
    if cross_origin && origin != Some(grant.origin.as_str().as_bytes()) {
        return call
            .refuse(client, &grant.id, VaultError::WrongOrigin.into())
            .await;
    }
    let result = async {
        let input = card_input(&bytes)?;
        let keks = call.keks();
        let vault = &call.state.vault;
        let issued = settled(
            &call,
            client,
            UnitOfWork::new(),
            || vault.issue_nonce(&keks, client, &grant.id, &input, call.now()),
            |issued| format!("nonce:{}", issued.nonce.digest()),
        )
        .await?;
        Ok(answer(
            StatusCode::CREATED,
            json!({
                "nonce": issued.nonce.as_str(),
                "expires_at": rfc3339(issued.expires_at),
                "card": {
                    "brand": issued.brand,
                    "last4": issued.last4,
                    "exp_month": issued.exp_month,
                    "exp_year": issued.exp_year,
                },
            }),
        ))
    }
    .await;
    let mut resp = call.finish(client, &grant.id, result).await;
    if cross_origin {
        allow_origin(&mut resp, &grant.origin);
    }
    resp
}

/// The server's own origin, as browsers send it (`https://host[:port]`), from the issuer.
fn own_origin(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// CORS answer headers for `origin` (Fetch standard §3.2.3).
fn allow_origin(resp: &mut Response, origin: &WebOrigin) {
    if let Ok(v) = HeaderValue::from_str(origin.as_str()) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// `OPTIONS /vault/nonces`: the preflight of a cross-origin post with a bearer token and JSON.
pub async fn preflight(headers: HeaderMap) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| WebOrigin::parse(o).ok());
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let Some(origin) = origin else {
        return resp;
    };
    allow_origin(&mut resp, &origin);
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

#[derive(Debug, Deserialize)]
pub struct HostedQuery {
    client_token: Option<String>,
}

/// `GET /vault/hosted-fields?client_token=…`: the card form for the token's origin to frame.
/// A missing, forged or expired token gets an error page (audited) that any page may frame, so
/// the shopper sees why.
pub async fn hosted_fields(
    State(state): State<AppState>,
    meta: RequestMeta,
    query: Result<Query<HostedQuery>, QueryRejection>,
) -> Response {
    let lang = meta.lang;
    // A query that does not parse (a repeated parameter, say) is as good as no token: refused
    // with the page and audited, not answered by the extractor.
    let client_token = query.ok().and_then(|Query(q)| q.client_token);
    let grant = match grant(&state, client_token.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            let call = Call {
                state,
                meta,
                action: "vault.hosted_fields",
            };
            // Audited like any refusal; the answer is a page, not the JSON problem.
            if let Err(resp) = call.record_refusal("", "-", &Refused::Vault(e)).await {
                return resp;
            }
            let page = ErrorPage {
                f: Frame::new(lang, ""),
                message: lang.texts().hf_expired,
                request_id: call.meta.request_id.as_deref().unwrap_or_default(),
            };
            return pages::render_framed(StatusCode::BAD_REQUEST, &page, None);
        }
    };
    let page = HostedFieldsPage {
        f: Frame::new(lang, ""),
        client_token: client_token.as_deref().unwrap_or_default(),
        origin: grant.origin.as_str(),
    };
    pages::render_framed_by(StatusCode::OK, &page, grant.origin.as_str())
}
