//! Request bodies are bounded (`server.body_limit_bytes`, 64 KiB by default). A declared length
//! over the limit is refused before reading; a chunked body is cut off at the limit by
//! `http_body_util::Limited` and then fails in the extractor with 413 as well.

use crate::audit_events;
use crate::error::ApiError;
use crate::layers::RequestId;
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
    if declared.is_some_and(|len| len > max as u64) {
        let addr = req.extensions().get::<ClientAddr>().copied();
        let rid = req.extensions().get::<RequestId>().cloned();
        audit_events::rejection(
            &state,
            addr,
            rid.as_ref(),
            req.uri().path(),
            "body_too_large",
        )
        .await;
        return ApiError::problem(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, max));
    next.run(Request::from_parts(parts, limited)).await
}
