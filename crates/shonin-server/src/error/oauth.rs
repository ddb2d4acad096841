//! OAuth error responses: RFC 6749 §5.2 at the token-style endpoints, RFC 6750 §3 and RFC 9449
//! §7.1 challenges at resource endpoints, RFC 9449 §8 nonces. The code is typed
//! ([`ErrorCode`]) and carries its status; the audit entry of a refusal is written by
//! `crate::audit_events::oauth_refusal`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shonin_tls::problem::problem_response;
use shonin_types::ErrorCode;

/// The `algs` parameter of a DPoP challenge (RFC 9449 §7.1): the proof algorithms accepted.
const DPOP_ALGS: &str = "algs=\"ES256 PS256 EdDSA\"";

/// An OAuth error on its way out.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: ErrorCode,
    pub description: String,
    /// RFC 9449 §8: a fresh nonce the client must use.
    pub dpop_nonce: Option<String>,
    /// RFC 6750 §3 / RFC 9449 §7.1 challenge at resource endpoints.
    pub www_authenticate: Option<String>,
    /// RFC 6750 §3.1: a request without any credentials gets the challenge and no error code
    /// or other error information, in the header or the body.
    pub bare: bool,
}

impl OAuthError {
    /// An error at a token-style endpoint, with the status RFC 6749 §5.2 gives its code
    /// ([`ErrorCode::status`]).
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        let status = status(error.status());
        OAuthError {
            status,
            error,
            description: description.into(),
            dpop_nonce: None,
            www_authenticate: None,
            bare: false,
        }
    }

    /// A resource-endpoint error: 401 with a `WWW-Authenticate` challenge for the scheme.
    pub fn resource(scheme: &str, error: ErrorCode, description: impl Into<String>) -> Self {
        let description = description.into();
        let status = status(error.resource_status());
        if status.is_server_error() {
            // Not a problem with the credentials: no challenge.
            return OAuthError {
                status,
                error,
                description,
                dpop_nonce: None,
                www_authenticate: None,
                bare: false,
            };
        }
        let algs = if scheme == "DPoP" {
            format!(", {DPOP_ALGS}")
        } else {
            String::new()
        };
        let challenge = format!("{scheme} error=\"{error}\"{algs}");
        OAuthError {
            status,
            error,
            description,
            dpop_nonce: None,
            www_authenticate: Some(challenge),
            bare: false,
        }
    }

    /// A resource request without any credentials: 401 with a bare challenge and a body without
    /// an error code, because RFC 6750 §3.1 says such an answer SHOULD NOT include "an error
    /// code or other error information". `description` goes to the audit log only.
    pub fn unauthenticated(scheme: &str, description: impl Into<String>) -> Self {
        let mut err = OAuthError::resource(scheme, ErrorCode::InvalidToken, description);
        err.bare = true;
        err.www_authenticate = Some(if scheme == "DPoP" {
            format!("DPoP {DPOP_ALGS}")
        } else {
            scheme.to_owned()
        });
        err
    }

    /// A request that failed on storage: 503 `temporarily_unavailable` for an outage, else 500.
    pub fn storage(e: &shonin_types::StorageError) -> Self {
        OAuthError::new(e.oauth_error(), e.to_string())
    }

    /// A request whose audit entry could not be written: it must not succeed (every decision is
    /// recorded), and an outage is the client's cue to retry.
    pub fn audit(e: &shonin_audit::AuditError) -> Self {
        match e {
            shonin_audit::AuditError::Storage(s) => OAuthError::storage(s),
            shonin_audit::AuditError::Closed => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "audit log closed (shutting down)",
            ),
            shonin_audit::AuditError::StoreContract(_) => {
                OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string())
            }
            other => OAuthError::new(ErrorCode::ServerError, other.to_string()),
        }
    }

    pub fn with_nonce(mut self, nonce: Option<String>) -> Self {
        self.dpop_nonce = nonce;
        self
    }
}

/// `code` as a status; the codes of [`ErrorCode`] are all valid.
fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.description, "oauth server error");
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self.description, "oauth request failed on storage");
            metrics::counter!("shonin_storage_errors_total").increment(1);
        }
        if self.bare {
            let mut resp = problem_response(self.status, "Unauthorized", None);
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(c) = self
                .www_authenticate
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                h.insert(header::WWW_AUTHENTICATE, c);
            }
            return resp;
        }
        // Internal detail never reaches the client on a server error.
        let description = if self.status.is_server_error() {
            "the server could not complete the request".to_owned()
        } else {
            self.description
        };
        let mut resp = (
            self.status,
            Json(json!({"error": self.error, "error_description": description})),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // As the storage gate answers (`super::ApiError`): the client may retry shortly.
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(n) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            h.insert("dpop-nonce", n);
        }
        if let Some(c) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}
