//! DPoP proofs (RFC 9449) as the HTTP layer sees them: the one `DPoP` header a request may carry,
//! the verifier a client gets (with server nonces when it requires them, §8), and a refusal as
//! the OAuth error with a fresh nonce when one is needed. The request a proof is checked against
//! is `shonin_oauth::DpopRequest`; the extractors carry the header (`ClientForm` at PAR and
//! token, `Access` at resource endpoints).

use super::OAuth;
use crate::error::OAuthError;
use axum::http::HeaderMap;
use shonin_jose::JoseError;
use shonin_oauth::{DpopError, DpopVerifier};
use shonin_types::ErrorCode;
use time::OffsetDateTime;

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

impl OAuth {
    /// The verifier for a client: with server nonces when it requires them (RFC 9449 §8).
    pub fn dpop_for(&self, require_nonce: bool) -> &DpopVerifier {
        if require_nonce {
            &self.dpop_with_nonce
        } else {
            &self.dpop
        }
    }

    /// A refused proof at the authorization server (PAR, token) as its OAuth error; a missing or
    /// stale nonce is answered with a fresh one (RFC 9449 §8).
    pub fn dpop_refusal(&self, e: &DpopError, now: OffsetDateTime) -> OAuthError {
        let code = e.oauth_error();
        let nonce = if code == ErrorCode::UseDpopNonce {
            self.dpop_with_nonce.issue_nonce(now)
        } else {
            None
        };
        OAuthError::new(code, e.to_string()).with_nonce(nonce)
    }
}
