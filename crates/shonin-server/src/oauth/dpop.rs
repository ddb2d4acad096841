//! DPoP proofs (RFC 9449) as the HTTP layer sees them: one `DPoP` header, checked against the
//! method and the endpoint's public URL, with server nonces for clients that require them.

use super::reject::OAuthError;
use crate::state::AppState;
use axum::http::HeaderMap;
use shonin_jose::JoseError;
use shonin_oauth::{DpopError, DpopRequest, Htu, VerifiedProof};
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;

/// The single `DPoP` header, if present; two headers are an error (RFC 9449 §4.3 item 1).
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
    let mut values = headers.get_all("dpop").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(DpopError::Malformed(JoseError::Malformed(
            "more than one DPoP header",
        )));
    }
    first
        .map(|v| {
            v.to_str()
                .map_err(|_| DpopError::Malformed(JoseError::Malformed("DPoP header is not ASCII")))
        })
        .transpose()
}

/// Where the proof is checked and what it must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub access_token: Option<&'a str>,
    pub expected_jkt: Option<&'a str>,
    pub require_nonce: bool,
    /// Resource endpoints answer with `WWW-Authenticate: DPoP …` (RFC 9449 §7.1).
    pub at_resource: bool,
}

fn to_oauth(state: &AppState, ctx: &ProofContext<'_>, e: &DpopError) -> OAuthError {
    let code = e.oauth_error();
    let err = if ctx.at_resource {
        OAuthError::resource("DPoP", code, e.to_string())
    } else {
        OAuthError::new(code, e.to_string())
    };
    // RFC 9449 §8: a missing or stale nonce is answered with a fresh one.
    let nonce = if code == ErrorCode::UseDpopNonce {
        state.oauth.dpop_with_nonce.issue_nonce(state.clock.now())
    } else {
        None
    };
    err.with_nonce(nonce)
}

/// Verifies `proof` for the request described by `ctx`, staging the claim of its `jti` in
/// `unit`.
pub async fn verify(
    state: &AppState,
    proof: &str,
    ctx: ProofContext<'_>,
    unit: &mut UnitOfWork,
) -> Result<VerifiedProof, OAuthError> {
    let htu =
        Htu::parse(ctx.url).map_err(|e| OAuthError::new(ErrorCode::ServerError, e.to_string()))?;
    let req = DpopRequest {
        method: ctx.method,
        uri: &htu,
        access_token: ctx.access_token,
        expected_jkt: ctx.expected_jkt,
    };
    let verifier = if ctx.require_nonce {
        &state.oauth.dpop_with_nonce
    } else {
        &state.oauth.dpop
    };
    verifier
        .verify_proof(proof, &req, state.clock.now(), unit)
        .await
        .map_err(|e| to_oauth(state, &ctx, &e))
}

/// A proof is required (FAPI 2.0: sender-constrained tokens only).
pub async fn require(
    state: &AppState,
    headers: &HeaderMap,
    ctx: ProofContext<'_>,
    unit: &mut UnitOfWork,
) -> Result<VerifiedProof, OAuthError> {
    match proof_header(headers).map_err(|e| to_oauth(state, &ctx, &e))? {
        Some(p) => verify(state, p, ctx, unit).await,
        None if ctx.at_resource => Err(OAuthError::resource(
            "DPoP",
            ErrorCode::InvalidDpopProof,
            "a DPoP proof is required",
        )),
        None => Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "a DPoP proof is required (sender-constrained tokens only)",
        )),
    }
}
