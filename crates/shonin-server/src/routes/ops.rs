//! Liveness, readiness and metrics.

use crate::error::ApiError;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: storage answers now.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(
        json!({"status": "ready", "storage": state.store.engine()}),
    ))
}

/// Prometheus text exposition; only for peers listed in `server.metrics_allowed`.
pub async fn metrics(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if !state
        .config
        .server
        .metrics_allowed
        .contains(&addr.peer.ip())
    {
        return ApiError::not_found().into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
