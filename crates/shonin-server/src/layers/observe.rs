//! One structured log line and the HTTP metrics per request. Query strings are never logged:
//! they may carry codes or tokens.

use crate::layers::request_id::RequestId;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The route template, never the raw path, keeps metric labels bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let (parts, body) = req.into_parts();
    let addr = ClientAddr::resolve(&parts, &state.config.server.trusted_proxies);
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(addr);
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    if resp.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        // Only storage and audit failures answer 503: readiness must see them (`ops::readyz`).
        state
            .storage_write_fault
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let labels = [
        ("route", route.clone()),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!("shonin_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "shonin_http_request_duration_seconds",
        "route" => route.clone(),
        "method" => method.to_string()
    )
    .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        client_ip = %addr.client_ip,
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    resp
}
