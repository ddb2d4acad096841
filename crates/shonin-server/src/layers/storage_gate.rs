//! Fail closed when storage is unreachable: without it no decision can be recorded, so every
//! route except the operational ones answers 503 at once instead of waiting on a dead pool.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const ALWAYS_OPEN: &[&str] = &["/healthz", "/readyz", "/metrics"];

pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.storage_is_ready() || ALWAYS_OPEN.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    ApiError::Unavailable("storage probe failing; request refused".to_owned()).into_response()
}
