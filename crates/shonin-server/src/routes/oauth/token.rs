//! `POST /token` (RFC 6749 §3.2): client authentication, the sender constraints the client is
//! registered for (FAPI 2.0: sender-constrained tokens only) — a DPoP proof (RFC 9449), the
//! client certificate (RFC 8705 §3), or both — then one grant.

use super::client_form::{ClientEndpoint, ClientForm, ClientRequest, Refused, respond};
use crate::error::OAuthError;
use crate::oauth::commit::{Committed, Success, commit};
use crate::oauth::mtls;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use shonin_audit::{Actor, ActorKind};
use shonin_keys::{KeyPurpose, KeySource};
use shonin_oauth::Confirmation;
use shonin_oauth::grant::{GrantError, GrantRequest, TokenService};
use shonin_oauth::metadata::TOKEN_ENDPOINT_PATH;
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;

const ACTION: &str = "oauth.token";

fn from_grant(e: &GrantError) -> OAuthError {
    OAuthError::new(e.oauth_error(), e.to_string())
}

/// The token endpoint (RFC 6749 §3.2), for [`ClientForm`].
#[derive(Debug)]
pub struct Token;

impl ClientEndpoint for Token {
    const ACTION: &'static str = ACTION;
    const PATH: &'static str = TOKEN_ENDPOINT_PATH;
    const DPOP: bool = true;
}

pub async fn token(State(state): State<AppState>, form: ClientForm<Token>) -> Response {
    let result = exchange(&state, &form.meta, form.req).await;
    respond::<Token>(&state, &form.meta, result).await
}

/// Authenticates the client, checks its sender constraint, runs the grant and commits what the
/// grant staged — the assertion's and the proof's `jti`, the token records, the code's
/// redemption — with the success entry, before the response leaves.
async fn exchange(
    state: &AppState,
    meta: &RequestMeta,
    mut req: ClientRequest,
) -> Result<Response, Refused> {
    let mut unit = std::mem::take(&mut req.unit);
    let fail = |e: OAuthError| req.refuse(e);
    let cnf = confirmation(state, &req, &mut unit).await.map_err(fail)?;
    let grant = GrantRequest::from_form(&req.form).map_err(|e| fail(from_grant(&e)))?;
    let signer = state
        .keys
        .signer_for(KeyPurpose::Tokens)
        .map_err(|e| fail(OAuthError::new(ErrorCode::ServerError, e.to_string())))?;
    let service = TokenService {
        policy: &state.oauth.tokens,
        signer: signer.as_ref(),
        flows: &state.store,
        tokens: &state.store,
        now: state.clock.now(),
    };
    let exchange = service
        .exchange(&req.client, &cnf, grant, &mut unit)
        .await
        .map_err(|e| fail(from_grant(&e)))?;
    let success = Success {
        action: ACTION,
        actor: Actor {
            kind: ActorKind::Client,
            id: req.client.client_id.as_str().to_owned(),
        },
        target: grant.grant_type(),
    };
    if let Committed::Conflict { .. } = commit(state, meta, unit, Some(success))
        .await
        .map_err(fail)?
    {
        let e = service.settle_conflict(exchange.on_conflict).await;
        return Err(fail(from_grant(&e)));
    }
    let mut resp = Json(exchange.response).into_response();
    let h = resp.headers_mut();
    // RFC 6749 §5.1.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if req.client.require_dpop_nonce
        && let Some(n) = state
            .oauth
            .dpop_with_nonce
            .issue_nonce(state.clock.now())
            .and_then(|n| HeaderValue::from_str(&n).ok())
    {
        h.insert("dpop-nonce", n);
    }
    Ok(resp)
}

/// What this request's tokens are bound to, per the client's registration: its DPoP key
/// (`dpop_bound_access_tokens`, RFC 9449 §5) and/or its client certificate
/// (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3). A client registered for only
/// one of them must not send the other: a DPoP proof from a client whose tokens are
/// certificate-bound is refused rather than ignored, so the client does not believe its tokens
/// are DPoP-bound.
async fn confirmation(
    state: &AppState,
    req: &ClientRequest,
    unit: &mut UnitOfWork,
) -> Result<Confirmation, OAuthError> {
    let client = &req.client;
    let jkt = if client.dpop_bound_access_tokens {
        let proof = req.verify_dpop(state, unit).await?.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "a DPoP proof is required (sender-constrained tokens only)",
            )
        })?;
        Some(proof.jkt)
    } else {
        if req.dpop.is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's tokens are certificate-bound (RFC 8705); it must not send DPoP proofs",
            ));
        }
        None
    };
    let x5t = if client.tls_client_certificate_bound_access_tokens {
        // The certificate that authenticated the client, or, for a private_key_jwt client, the
        // one it presented on this request (RFC 8705 §3: binding needs possession only).
        let cert = match &req.certificate {
            Some(cert) => cert.clone(),
            None => mtls::checked_leaf(client, req.presented.as_ref(), state.clock.now())
                .map_err(|e| mtls::invalid_client(&e))?,
        };
        Some(cert.thumbprint().to_owned())
    } else {
        None
    };
    Confirmation::new(jkt, x5t).ok_or_else(|| {
        // validate() refuses such a client; a stored one from elsewhere is a server fault.
        OAuthError::new(ErrorCode::ServerError, "client has no sender constraint")
    })
}
