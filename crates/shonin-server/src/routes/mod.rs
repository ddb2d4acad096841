//! The HTTP surface: one module per group of endpoints, handlers thin.

pub mod account;
pub mod approve;
pub mod ciba;
mod jwks;
pub mod oauth;
mod ops;
pub mod passkeys;
pub mod recovery;
pub mod threeds;
pub mod threeds_server;
pub mod transactions;
pub mod vault;
pub mod vault_nonces;

use crate::error::ApiError;
use crate::layers;
use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// The complete application, with every layer applied: one router per capability, merged. A new
/// capability (transaction signing, 3-D Secure, the card vault) brings its own router here.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(ops_router())
        .merge(oauth::router())
        .merge(account_router())
        .merge(transactions::router())
        .merge(vault::router())
        .merge(vault_nonces::router())
        .merge(approve::router())
        .merge(ciba::router())
        .merge(threeds::router())
        .merge(threeds_server::router())
        .fallback(not_found)
        // Innermost: decides once which client certificate the request came with (RFC 8705),
        // after the outer layers have assigned the request id and admitted the request.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::oauth::mtls::certificate_source,
        ));
    layers::apply(routes, state)
}

/// Health, readiness, metrics, the published keys, the API description and static assets.
fn ops_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/jwks", get(jwks::jwks))
        .route("/openapi.json", get(openapi))
        .route("/static/shonin.css", get(stylesheet))
        .route(
            "/static/passkey.js",
            get(|| script(include_str!("../../static/passkey.js"))),
        )
        .route(
            "/static/approve.js",
            get(|| script(include_str!("../../static/approve.js"))),
        )
        .route(
            "/static/acs.js",
            get(|| script(include_str!("../../static/acs.js"))),
        )
        .route(
            "/static/3ds-notify.js",
            get(|| script(include_str!("../../static/3ds-notify.js"))),
        )
        .route(
            "/static/vault-fields.js",
            get(|| script(include_str!("../../static/vault-fields.js"))),
        )
        .route("/favicon.ico", get(no_icon))
}

/// The user's side: passkey sign-in, the account page, recovery codes, the page language.
fn account_router() -> Router<AppState> {
    Router::new()
        .route("/passkeys/sign-in/options", post(passkeys::sign_in_options))
        .route("/passkeys/sign-in", post(passkeys::sign_in))
        .route("/account", get(account::page))
        .route("/account/sign-in", post(account::sign_in))
        .route("/account/reauthenticate", post(account::reauthenticate))
        .route("/account/sign-out", post(account::sign_out))
        .route("/account/passkeys/options", post(passkeys::enrol_options))
        .route("/account/passkeys", post(passkeys::enrol))
        .route("/account/passkeys/rename", post(account::rename))
        .route("/account/passkeys/remove", post(account::remove))
        .route("/account/passkey-only", post(account::passkey_only))
        .route("/account/password", post(account::change_password))
        .route("/account/recovery-codes", post(recovery::generate))
        .route("/account/recovery-sign-in", post(recovery::sign_in))
        .route("/language", post(account::language))
}

/// The OpenAPI 3.1 description of every route above; `tests/openapi.rs` keeps the two in step.
async fn openapi() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/openapi.json"),
    )
}

async fn script(body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}

/// Browsers ask for it on every page; there is none, and a 404 would be noise in their consoles.
async fn no_icon() -> impl IntoResponse {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
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
