//! Cross-cutting request handling, written once and applied to every route.
//!
//! Order, outermost first: request id → observation (log line, metrics) → panic guard → error
//! shaping → security headers → rate limit → storage gate → body limit → timeout → handler.

mod body_limit;
pub mod headers;
pub mod ip_limiter;
mod observe;
mod rate_limit;
pub mod request_id;
mod shape_errors;
mod storage_gate;

pub use ip_limiter::IpRateLimiter;
pub use request_id::RequestId;

use crate::state::AppState;
use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// Wraps `routes` in every layer.
pub fn apply(routes: Router<AppState>, state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    routes
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(request_id::assign))
                .layer(from_fn_with_state(state.clone(), observe::observe))
                .layer(CatchPanicLayer::custom(shape_errors::panic_response))
                .layer(from_fn(shape_errors::shape))
                .layer(from_fn(headers::security_headers))
                .layer(from_fn_with_state(state.clone(), rate_limit::limit))
                .layer(from_fn_with_state(state.clone(), storage_gate::gate))
                .layer(from_fn_with_state(state.clone(), body_limit::limit))
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    timeout,
                )),
        )
        .with_state(state)
}
