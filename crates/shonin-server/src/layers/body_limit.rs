//! Request bodies are bounded (`server.body_limit_bytes`, 64 KiB by default). A declared length
//! over the limit is refused before reading; a chunked body is cut off at the limit by
//! `http_body_util::Limited` and then fails in the extractor with 413 as well. Both are audited
//! as `request.reject` with reason `body_too_large`.

use crate::audit_events;
use crate::error::ApiError;
use crate::layers::request_id::RequestId;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let max = state.config.server.body_limit_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let addr = req.extensions().get::<ClientAddr>().copied();
    let rid = req.extensions().get::<RequestId>().cloned();
    // The audit record bounds the target (shonin_audit::MAX_TARGET_CHARS).
    let path = req.uri().path().to_owned();
    if declared.is_some_and(|len| len > max as u64) {
        audit_events::rejection(&state, addr, rid.as_ref(), &path, "body_too_large").await;
        return ApiError::problem(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, max));
    let resp = next.run(Request::from_parts(parts, limited)).await;
    // A body without a declared length (chunked, or HTTP/2 DATA) that ran over the limit: the
    // extractor answered 413; the refusal is audited like a declared one.
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        audit_events::rejection(&state, addr, rid.as_ref(), &path, "body_too_large").await;
    }
    resp
}
