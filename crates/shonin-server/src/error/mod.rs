//! The one place where errors become what a client or a person sees. Four shapes, all here:
//!
//! - [`ApiError`] (this file): RFC 9457 `application/problem+json`, for the JSON APIs and the
//!   operational endpoints, and for any bare error a lower layer produced
//!   (`layers::shape_errors`). The body itself ([`problem_response`]) is defined in
//!   `shonin_tls::problem`, since the connection layer answers some requests before the router.
//! - [`OAuthError`] (`oauth.rs`): RFC 6749 §5.2 JSON at the OAuth endpoints, RFC 6750 §3 and
//!   RFC 9449 §7.1 challenges at resource endpoints; its code is a typed
//!   `shonin_types::ErrorCode` that carries its status, so no status is derived from a string.
//! - The error page ([`error_page`], [`unavailable_page`], `page.rs`), for people at Shonin's
//!   pages.
//! - [`authorize::Refusal`]: at `/authorize`, the error page while the redirect URI is not
//!   established, a redirect to the client with a typed code once it is.
//!
//! EMV 3-D Secure endpoints answer with the specification's `Erro` message, which
//! `shonin_3ds::Refused` builds. Descriptions are fixed public strings; internal detail goes only
//! to the log, tagged with the request id. Every storage failure is 503 with `Retry-After`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shonin_audit::AuditError;
use shonin_keys::KeyError;
use shonin_types::StorageError;

// The problem+json body comes from the connection layer, which answers some requests itself.
pub use shonin_tls::problem::{PROBLEM_JSON, ProblemBody, problem_response};

pub mod authorize;
mod oauth;
mod page;
pub use oauth::OAuthError;
pub use page::{error_page, unavailable_page};

/// A capability API's refusal (the vault, the 3DS Server): RFC 9457 problem+json with an
/// `error` code beside the standard members, never cached, and `Retry-After` on 503.
pub fn coded_problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "error": code,
    });
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// An error on its way to a client.
#[derive(Debug)]
pub enum ApiError {
    /// An RFC 9457 problem with a fixed title.
    Problem {
        status: StatusCode,
        title: &'static str,
        detail: Option<String>,
    },
    /// Storage could not be reached: 503, retry later.
    Unavailable(String),
    /// A bug or an environment failure: 500 with no detail to the client.
    Internal(String),
}

impl ApiError {
    pub fn problem(status: StatusCode, title: &'static str) -> Self {
        ApiError::Problem {
            status,
            title,
            detail: None,
        }
    }

    pub fn not_found() -> Self {
        Self::problem(StatusCode::NOT_FOUND, "Not Found")
    }
}

/// Every storage failure is 503 with `Retry-After` (never 500): see
/// [`StorageError::oauth_error`].
impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Storage(s) => s.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Problem {
                status,
                title,
                detail,
            } => problem_response(status, title, detail.as_deref()),
            ApiError::Unavailable(detail) => {
                tracing::error!(error = %detail, "storage unavailable");
                metrics::counter!("shonin_storage_errors_total").increment(1);
                let mut resp =
                    problem_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                resp
            }
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                problem_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    None,
                )
            }
        }
    }
}

/// The fixed title for a status a layer produced without a body we control.
pub fn title_for(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}
