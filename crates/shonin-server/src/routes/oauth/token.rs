//! `POST /token` (RFC 6749 §3.2): client authentication, the sender constraints the client is
//! registered for (FAPI 2.0: sender-constrained tokens only) — a DPoP proof (RFC 9449), the
//! client certificate (RFC 8705 §3), or both — then one grant.

use super::{ClientRequest, client_request};
use crate::oauth::deferred_claims::DeferredClaims;
use crate::oauth::dpop;
use crate::oauth::mtls;
use crate::oauth::one_commit::{self, DeferredTokens};
use crate::oauth::reject::{OAuthError, RequestMeta, audited, record_success};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use shonin_audit::{Actor, ActorKind};
use shonin_keys::KeySource;
use shonin_oauth::Confirmation;
use shonin_oauth::grant::{self, CodeRequest, GrantContext, GrantError};
use shonin_oauth::metadata::TOKEN_ENDPOINT_PATH;

const ACTION: &str = "oauth.token";

fn from_grant(e: &GrantError) -> OAuthError {
    OAuthError::new(e.oauth_error(), e.to_string())
}

pub async fn token(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&state, &meta, &headers, &body).await {
        Ok(resp) => resp,
        Err((client_id, e)) => audited(&state, &meta, ACTION, client_id.as_deref(), e).await,
    }
}

async fn exchange(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, (Option<String>, OAuthError)> {
    // The assertion's and the proof's jti are claimed together once both signatures hold.
    let claims = DeferredClaims::default();
    let req = client_request(state, meta, headers, body, TOKEN_ENDPOINT_PATH, &claims).await?;
    let fail = |e: OAuthError| req.refuse(e);
    let (form, client) = (&req.form, &req.client);
    let cnf = confirmation(state, &req, headers, &claims)
        .await
        .map_err(fail)?;
    let grant_type = form.get("grant_type");
    // client_credentials writes everything in one commit at the end (oauth/one_commit.rs); the
    // other grants claim the one-time values before they touch stored state.
    let one_commit = grant_type == Some("client_credentials");
    let deferred = DeferredTokens::new(&state.store);
    let claims = if one_commit {
        Some(claims)
    } else {
        claims.settle(&state.store).await.map_err(fail)?;
        None
    };
    let signer = state.keys.current_signer();
    let gctx = GrantContext {
        policy: &state.oauth.tokens,
        signer: signer.as_ref(),
        flows: &state.store,
        tokens: if one_commit { &deferred } else { &state.store },
        now: state.clock.now(),
    };
    let result = match grant_type {
        None => Err(GrantError::MissingGrantType),
        Some("authorization_code") => {
            let req = CodeRequest {
                code: form.get("code"),
                redirect_uri: form.get("redirect_uri"),
                code_verifier: form.get("code_verifier"),
            };
            grant::authorization_code(&gctx, client, &cnf, req).await
        }
        Some("refresh_token") => {
            grant::refresh_token(
                &gctx,
                client,
                &cnf,
                form.get("refresh_token"),
                form.get("scope"),
            )
            .await
        }
        Some("client_credentials") => {
            grant::client_credentials(&gctx, client, &cnf, form.get("scope")).await
        }
        // FAPI 2.0 §5.3.2.1 item 2: the password grant is rejected like any unknown grant.
        Some(other) => Err(GrantError::UnsupportedGrantType(
            other.chars().take(64).collect(),
        )),
    };
    let response = result.map_err(|e| fail(from_grant(&e)))?;
    let actor = Actor {
        kind: ActorKind::Client,
        id: client.client_id.as_str().to_owned(),
    };
    let target = grant_type.unwrap_or_default();
    match claims {
        Some(claims) => {
            one_commit::commit(state, meta, claims, deferred, ACTION, actor, target).await
        }
        None => record_success(state, meta, ACTION, actor, target).await,
    }
    .map_err(fail)?;
    let mut resp = Json(response).into_response();
    let h = resp.headers_mut();
    // RFC 6749 §5.1.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if client.require_dpop_nonce
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
    headers: &HeaderMap,
    replay: &DeferredClaims,
) -> Result<Confirmation, OAuthError> {
    let client = &req.client;
    let jkt = if client.dpop_bound_access_tokens {
        let ctx = dpop::ProofContext {
            method: "POST",
            url: &req.url,
            access_token: None,
            expected_jkt: None,
            require_nonce: client.require_dpop_nonce,
            at_resource: false,
            replay,
        };
        Some(dpop::require(state, headers, ctx).await?.jkt)
    } else {
        if headers.contains_key("dpop") {
            return Err(OAuthError::new(
                "invalid_dpop_proof",
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
        OAuthError::new("server_error", "client has no sender constraint")
    })
}
