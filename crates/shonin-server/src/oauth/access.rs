//! Resource requests to Shonin's own APIs (`/userinfo`, `/transactions`): the access token from
//! the `Authorization` header, verified with its sender constraint (FAPI 2.0 §5.3.3; the DPoP
//! proof of RFC 9449 §7 or the client certificate of RFC 8705 §3) by
//! `shonin_oauth::resource::verify`. The proof's `jti` is staged in the request's unit of work,
//! which the handler commits with its own writes before it answers (RFC 9449 §11.1).
//!
//! [`Access`] is an axum extractor: a handler takes `Result<Access, OAuthError>` and audits a
//! refusal under its own action.

use crate::error::OAuthError;
use crate::oauth::dpop::proof_header;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use shonin_keys::KeySource;
use shonin_oauth::ClientId;
use shonin_oauth::resource::{self, ResourceError, ResourceRequest, VerifiedAccess};
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;

/// A verified resource request.
#[derive(Debug)]
pub struct Access {
    pub token: VerifiedAccess,
    /// Holds the DPoP proof's `jti`; commit it (with the handler's writes) before answering.
    pub unit: UnitOfWork,
    /// The scheme the client used, for the challenge of a later refusal.
    pub scheme: &'static str,
}

impl Access {
    /// The `client_id` the token was issued to.
    pub fn client_id(&self) -> &str {
        self.token
            .claims
            .get("client_id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    }

    /// Refuses a token without `scope` (RFC 6750 §3.1 `insufficient_scope`, 403).
    pub fn require_scope(&self, scope: &str) -> Result<(), OAuthError> {
        if self.token.has_scope(scope) {
            Ok(())
        } else {
            Err(refusal(
                self.scheme,
                &ResourceError::InsufficientScope(scope.into()),
            ))
        }
    }

    /// Verifies the request to `path` (the route as the client addressed it).
    pub async fn verify(
        state: &AppState,
        meta: &RequestMeta,
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        path: &str,
    ) -> Result<Access, OAuthError> {
        let scheme = scheme(headers);
        let token_in_query = query.is_some_and(|q| {
            q.split('&')
                .any(|p| p == "access_token" || p.starts_with("access_token="))
        });
        let dpop = proof_header(headers)
            .map_err(|e| OAuthError::resource("DPoP", e.oauth_error(), e.to_string()))?;
        let url = state.oauth.url_for(meta.endpoint_base(), path);
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
        let verifier = state.oauth.dpop_for(require_nonce);
        let mut unit = UnitOfWork::new();
        let token = resource::verify(
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
            let err = refusal(scheme, &e);
            if err.error == ErrorCode::UseDpopNonce {
                err.with_nonce(state.oauth.dpop_with_nonce.issue_nonce(now))
            } else {
                err
            }
        })?;
        Ok(Access {
            token,
            unit,
            scheme,
        })
    }
}

impl FromRequestParts<AppState> for Access {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OAuthError> {
        let meta = match RequestMeta::from_request_parts(parts, state).await {
            Ok(m) => m,
            Err(never) => match never {},
        };
        // The path as the client addressed it (the DPoP proof's `htu`), before any nesting.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        Access::verify(
            state,
            &meta,
            &parts.method,
            &parts.headers,
            uri.query(),
            uri.path(),
        )
        .await
    }
}

/// A replayed DPoP proof, found when the unit commits, is refused with the resource challenge.
pub fn replay_challenge(e: OAuthError) -> OAuthError {
    if e.error == ErrorCode::InvalidDpopProof {
        OAuthError::resource("DPoP", ErrorCode::InvalidDpopProof, e.description)
    } else {
        e
    }
}

/// The refusal of a resource request, with its `WWW-Authenticate` challenge.
pub fn refusal(scheme: &'static str, e: &ResourceError) -> OAuthError {
    // A DPoP-bound token sent as Bearer is told to use DPoP (RFC 9449 §7.2).
    let scheme = match e {
        ResourceError::BoundTokenAsBearer
        | ResourceError::MissingProof
        | ResourceError::Dpop(_) => "DPoP",
        _ => scheme,
    };
    match e.challenge_error() {
        None => OAuthError::unauthenticated(scheme, e.to_string()),
        Some(code) => OAuthError::resource(scheme, code, e.to_string()),
    }
}

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
