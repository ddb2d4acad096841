//! The HTTP surface: one module per group of endpoints, handlers thin.

mod jwks;
mod ops;

use crate::error::ApiError;
use crate::layers;
use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// The complete application, with every layer applied.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/jwks", get(jwks::jwks))
        .fallback(not_found);
    layers::apply(routes, state)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}
