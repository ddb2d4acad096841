//! `GET|POST /userinfo` (OIDC Core §5.3) behind the resource-server checks of FAPI 2.0 §5.3.3.

use crate::oauth::commit::commit;
use crate::oauth::dpop::proof_header;
use crate::oauth::reject::{OAuthError, RequestMeta, audited};
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shonin_identity::{User, UserStore};
use shonin_keys::KeySource;
use shonin_oauth::ClientId;
use shonin_oauth::metadata::USERINFO_ENDPOINT_PATH;
use shonin_oauth::resource::{self, ResourceError, ResourceRequest};
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;

const ACTION: &str = "oauth.userinfo";

/// The challenge scheme follows the scheme the client used: `DPoP` (RFC 9449 §7.1) unless it
/// presented a Bearer token, which only certificate-bound tokens are (RFC 8705 §3, RFC 6750 §3).
fn scheme(headers: &HeaderMap) -> &'static str {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case("Bearer"));
    if bearer { "Bearer" } else { "DPoP" }
}

pub async fn userinfo(
    State(state): State<AppState>,
    meta: RequestMeta,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match answer(&state, &meta, &method, &headers, query.as_deref()).await {
        Ok(resp) => resp,
        Err(e) => audited(&state, &meta, ACTION, None, e).await,
    }
}

async fn answer(
    state: &AppState,
    meta: &RequestMeta,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, OAuthError> {
    let to_oauth = |e: &ResourceError| {
        // A DPoP-bound token sent as Bearer is told to use DPoP (RFC 9449 §7.2).
        let scheme = match e {
            ResourceError::BoundTokenAsBearer
            | ResourceError::MissingProof
            | ResourceError::Dpop(_) => "DPoP",
            _ => scheme(headers),
        };
        match e.challenge_error() {
            None => OAuthError::unauthenticated(scheme, e.to_string()),
            Some(code) => OAuthError::resource(scheme, code, e.to_string()),
        }
    };
    let token_in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "access_token" || p.starts_with("access_token="))
    });
    let dpop = proof_header(headers)
        .map_err(|e| OAuthError::resource("DPoP", e.oauth_error(), e.to_string()))?;
    let url = state.oauth.url_for(meta, USERINFO_ENDPOINT_PATH);
    let thumbprint = meta
        .certificate
        .as_ref()
        .and_then(crate::oauth::mtls::PresentedCertificate::thumbprint);
    let req = ResourceRequest {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        dpop,
        method: method.as_str(),
        url: &url,
        token_in_query,
        client_certificate: thumbprint.as_deref(),
    };
    let jwks = state.keys.published_jwks();
    let now = state.clock.now();
    // A client that asked for DPoP nonces gets them here too (RFC 9449 §9).
    let require_nonce = match resource::unverified_client_id(req.authorization)
        .and_then(|id| ClientId::try_from(id.as_str()).ok())
    {
        Some(id) => state
            .oauth
            .clients
            .get(&state.store, &id)
            .await
            .map_err(|e| OAuthError::storage(&e))?
            .is_some_and(|c| c.require_dpop_nonce),
        None => false,
    };
    let verifier = if require_nonce {
        &state.oauth.dpop_with_nonce
    } else {
        &state.oauth.dpop
    };
    let mut unit = UnitOfWork::new();
    let access = resource::verify(
        req,
        &state.config.issuer,
        &jwks,
        verifier,
        &state.store,
        &mut unit,
        now,
    )
    .await
    .map_err(|e| {
        let err = to_oauth(&e);
        if err.error == ErrorCode::UseDpopNonce {
            err.with_nonce(state.oauth.dpop_with_nonce.issue_nonce(now))
        } else {
            err
        }
    })?;
    // The proof's jti is claimed before anything is revealed (RFC 9449 §11.1); a replay is
    // refused with the resource challenge.
    let _ = commit(state, meta, unit, None).await.map_err(|e| {
        if e.error == ErrorCode::InvalidDpopProof {
            OAuthError::resource("DPoP", ErrorCode::InvalidDpopProof, e.description)
        } else {
            e
        }
    })?;
    if !access.has_scope("openid") {
        return Err(to_oauth(&ResourceError::InsufficientScope("openid".into())));
    }
    let sub = access.subject().unwrap_or_default().to_owned();
    let user: Option<User> = state
        .store
        .get_user(&sub)
        .await
        .map_err(|e| OAuthError::storage(&e))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(to_oauth(&ResourceError::Inactive));
    };
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), json!(sub));
    body.insert("preferred_username".into(), json!(user.username.as_str()));
    if let Some(name) = &user.display_name {
        body.insert("name".into(), json!(name));
    }
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::Value::Object(body)),
    )
        .into_response())
}
