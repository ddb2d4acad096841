//! EMV 3-D Secure endpoints, answered 404 while `[threeds.acs]` is absent:
//! - `POST /3ds/acs/areq`: the DS → ACS link (mutual TLS; the DS's certificate thumbprint must be
//!   configured);
//! - `POST /3ds/acs/challenge`: the cardholder's browser posts the CReq form (the challenge page);
//! - `POST /3ds/acs/challenge/answer`: the page's script answers (`threeds/challenge.rs`).

use crate::error::ApiError;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/3ds/acs/areq", post(areq))
        .route("/3ds/acs/challenge", post(challenge))
        .route("/3ds/acs/challenge/answer", post(answer))
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted))
}

async fn challenge(State(state): State<AppState>, meta: RequestMeta, body: Bytes) -> Response {
    let Some(acs) = state.acs.clone() else {
        return ApiError::not_found().into_response();
    };
    crate::threeds::challenge::start(&state, &acs, &meta, &body).await
}

async fn answer(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(acs) = state.acs.clone() else {
        return ApiError::not_found().into_response();
    };
    let json = content_type_is(&headers, "application/json");
    crate::threeds::challenge::answer(&state, &acs, &meta, json, &body).await
}

async fn areq(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(acs) = state.acs.clone() else {
        return ApiError::not_found().into_response();
    };
    let json = content_type_is(&headers, "application/json");
    crate::threeds::areq::answer(&state, &acs, &meta, json, &body).await
}
