//! EMV 3-D Secure endpoints, answered 404 while `[threeds.acs]` is absent:
//! - `POST /3ds/acs/areq`: the DS → ACS link (mutual TLS; the DS's certificate thumbprint must be
//!   configured);
//! - `POST /3ds/acs/challenge`: the cardholder's browser posts the CReq form (the challenge page);
//! - `POST /3ds/acs/challenge/answer`: the page's script answers (`threeds/challenge.rs`);
//! - `POST /3ds/acs/method`: the 3DS Method URL (`threeds/method.rs`).

use crate::error::ApiError;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::threeds::AcsService;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/3ds/acs/areq", post(areq))
        .route("/3ds/acs/challenge", post(challenge))
        .route("/3ds/acs/challenge/answer", post(answer))
        .route("/3ds/acs/method", post(method))
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted))
}

/// The configured ACS; every 3DS route answers 404 without one.
struct Acs(Arc<AcsService>);

impl FromRequestParts<AppState> for Acs {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.acs.clone().map(Acs).ok_or_else(ApiError::not_found)
    }
}

async fn challenge(
    State(state): State<AppState>,
    Acs(acs): Acs,
    meta: RequestMeta,
    body: Bytes,
) -> Response {
    crate::threeds::challenge::start(&state, &acs, &meta, &body).await
}

async fn answer(
    State(state): State<AppState>,
    Acs(acs): Acs,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = content_type_is(&headers, "application/json");
    crate::threeds::challenge::answer(&state, &acs, &meta, json, &body).await
}

async fn areq(
    State(state): State<AppState>,
    Acs(acs): Acs,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = content_type_is(&headers, "application/json");
    crate::threeds::areq::answer(&state, &acs, &meta, json, &body).await
}

/// The 3DS Method form: one field, `threeDSMethodData`.
#[derive(serde::Deserialize)]
struct MethodForm {
    #[serde(rename = "threeDSMethodData", default)]
    data: Option<String>,
}

async fn method(
    State(state): State<AppState>,
    Acs(_): Acs,
    meta: RequestMeta,
    axum::Form(form): axum::Form<MethodForm>,
) -> Response {
    crate::threeds::method::page(&state, &meta, form.data.as_deref()).await
}
