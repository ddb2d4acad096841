//! The OAuth 2.0 / OpenID Connect endpoints. Each handler parses, authenticates, makes one call
//! into `shonin-oauth`, and maps the outcome; see `crate::oauth` for the shared pieces.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod par;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::oauth::reject::OAuthError;
use axum::http::{HeaderMap, header};
use shonin_oauth::form::FormParams;

/// Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 9126 §2.1).
pub fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<FormParams, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    FormParams::parse(body).map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))
}
