//! RFC 9457 problem details (`application/problem+json`), the body of every error response
//! outside the OAuth endpoints. Defined here because the connection layer answers some requests
//! itself (the 400 of `message_rules.rs`); the application maps its own errors to HTTP
//! with the same [`problem_response`].

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

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
