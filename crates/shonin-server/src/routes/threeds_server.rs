//! EMV 3-D Secure, merchant side, answered 404 while `[threeds.server]` is absent:
//! - `POST /3ds/server/authentications`, `GET /3ds/server/authentications/{id}`,
//!   `POST /3ds/server/authentications/{id}/cancel`: the requestor API (scope `3ds`);
//! - `POST /3ds/server/rreq`: the DS → 3DS Server link (mutual TLS);
//! - `POST /3ds/server/notification`: the cardholder's browser posts the final CRes;
//! - `POST /3ds/server/methods` (scope `3ds`) and `POST /3ds/server/method-notification`: the
//!   3DS Method, started for a card and posted back by the ACS's method page.
//!
//! The logic is `threeds_server/`.

use crate::error::{ApiError, OAuthError};
use crate::oauth::access::Access;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::threeds_server::{ServerService, requestor, results};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/3ds/server/authentications", post(start))
        .route("/3ds/server/authentications/{id}", get(show))
        .route("/3ds/server/authentications/{id}/cancel", post(cancel))
        .route("/3ds/server/rreq", post(rreq))
        .route("/3ds/server/notification", post(notification))
        .route("/3ds/server/methods", post(start_method))
        .route("/3ds/server/method-notification", post(method_notification))
}

/// The configured 3DS Server; every route answers 404 without one.
struct Server(Arc<ServerService>);

impl FromRequestParts<AppState> for Server {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .threeds_server
            .clone()
            .map(Server)
            .ok_or_else(ApiError::not_found)
    }
}

async fn start(
    State(state): State<AppState>,
    Server(server): Server,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    body: Bytes,
) -> Response {
    requestor::start(&state, &server, &meta, access, &body).await
}

async fn show(
    State(state): State<AppState>,
    Server(_): Server,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    Path(id): Path<String>,
) -> Response {
    requestor::show(&state, &meta, access, &id).await
}

async fn cancel(
    State(state): State<AppState>,
    Server(_): Server,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    Path(id): Path<String>,
) -> Response {
    requestor::cancel(&state, &meta, access, &id).await
}

async fn rreq(
    State(state): State<AppState>,
    Server(server): Server,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    results::rreq(&state, &server, &meta, json, &body).await
}

async fn notification(
    State(state): State<AppState>,
    Server(server): Server,
    meta: RequestMeta,
    axum::Form(form): axum::Form<results::NotificationForm>,
) -> Response {
    results::notification(&state, &server, &meta, form).await
}

async fn start_method(
    State(state): State<AppState>,
    Server(server): Server,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    body: Bytes,
) -> Response {
    requestor::start_method(&state, &server, &meta, access, &body).await
}

/// The method notification form: one field, `threeDSMethodData`.
#[derive(serde::Deserialize)]
struct MethodForm {
    #[serde(rename = "threeDSMethodData", default)]
    data: Option<String>,
}

async fn method_notification(
    State(state): State<AppState>,
    Server(_): Server,
    meta: RequestMeta,
    axum::Form(form): axum::Form<MethodForm>,
) -> Response {
    results::method_notification(&state, &meta, form.data.as_deref()).await
}
