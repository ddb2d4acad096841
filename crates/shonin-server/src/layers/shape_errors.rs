//! Every error response has a JSON body: layers and extractors that answer with a bare status or
//! plain text (body limit, timeout, malformed form) are rewritten to `application/problem+json`.

use crate::error::{problem_response, title_for};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::any::Any;

pub async fn shape(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // Only bodies nobody designed are replaced: none at all, or plain text from a framework
    // rejection. JSON errors and our HTML error pages stay as they are.
    let bare = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !bare {
        return resp;
    }
    let (parts, _body) = resp.into_parts();
    let mut shaped = problem_response(status, title_for(status), None);
    // Keep headers such as Retry-After and WWW-Authenticate that the original carried.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// A panic is a bug: log it and answer 500 without detail.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %detail, "handler panicked");
    problem_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        None,
    )
}
