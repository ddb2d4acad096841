//! The HTTP surface: one module per group of endpoints, handlers thin.

mod jwks;
pub mod oauth;
mod ops;

use crate::error::ApiError;
use crate::layers;
use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use shonin_oauth::metadata as paths;

/// The complete application, with every layer applied.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/jwks", get(jwks::jwks))
        .route(
            paths::OPENID_CONFIGURATION_PATH,
            get(oauth::discovery::metadata),
        )
        .route(
            paths::OAUTH_AUTHORIZATION_SERVER_PATH,
            get(oauth::discovery::metadata),
        )
        .route(paths::PAR_ENDPOINT_PATH, post(oauth::par::par))
        .route(
            paths::AUTHORIZATION_ENDPOINT_PATH,
            get(oauth::authorize::authorize),
        )
        .route("/authorize/sign-in", post(oauth::authorize::sign_in))
        .route("/authorize/consent", post(oauth::authorize::consent))
        .route(paths::TOKEN_ENDPOINT_PATH, post(oauth::token::token))
        .route(
            paths::USERINFO_ENDPOINT_PATH,
            get(oauth::userinfo::userinfo).post(oauth::userinfo::userinfo),
        )
        .route(
            paths::INTROSPECTION_ENDPOINT_PATH,
            post(oauth::introspect::introspect),
        )
        .route(paths::REVOCATION_ENDPOINT_PATH, post(oauth::revoke::revoke))
        .route("/static/shonin.css", get(stylesheet))
        .fallback(not_found)
        // Innermost: decides once which client certificate the request came with (RFC 8705),
        // after the outer layers have assigned the request id and admitted the request.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::oauth::mtls::certificate_source,
        ));
    layers::apply(routes, state)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/shonin.css"),
    )
}
