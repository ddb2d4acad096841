//! Liveness, readiness and metrics.

use crate::error::ApiError;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::Ordering;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: storage answers now, and writes work. After a request failed on
/// storage (a full disk answers reads but refuses writes), readiness writes an audit entry
/// (`storage.writes_recovered`) and stays 503 until that succeeds.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    if state.storage_write_fault.load(Ordering::Relaxed) {
        crate::audit_events::system(&state, "storage.writes_recovered", "readyz")
            .await
            .map_err(|e| ApiError::Unavailable(format!("storage writes are failing: {e}")))?;
        state.storage_write_fault.store(false, Ordering::Relaxed);
        tracing::info!("storage writes succeed again; ready");
    }
    Ok(Json(
        json!({"status": "ready", "storage": state.store.engine()}),
    ))
}

/// Prometheus text exposition; only for clients listed in `server.metrics_allowed`. The client
/// is the address every other decision uses: behind a trusted proxy, the forwarded client, so a
/// loopback proxy does not open the metrics to everyone it forwards.
pub async fn metrics(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if !state
        .config
        .server
        .metrics_allowed
        .contains(&addr.client_ip)
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
