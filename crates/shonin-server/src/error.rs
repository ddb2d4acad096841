//! The one place where errors become HTTP responses.
//!
//! Everything but the OAuth endpoints answers with RFC 9457 `application/problem+json`; the
//! OAuth endpoints answer with RFC 6749 §5.2 JSON through `crate::oauth::reject::OAuthError`.
//! Descriptions are fixed public strings; internal detail goes only to the log, tagged with the
//! request id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shonin_audit::AuditError;
use shonin_keys::KeyError;
use shonin_types::StorageError;

pub const PROBLEM_JSON: &str = "application/problem+json";

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

#[derive(Debug, Serialize)]
pub struct ProblemBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub title: &'a str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// A problem+json response for `status` with a fixed `title`.
pub fn problem_response(status: StatusCode, title: &str, detail: Option<&str>) -> Response {
    let body = ProblemBody {
        kind: "about:blank",
        title,
        status: status.as_u16(),
        detail,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
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
