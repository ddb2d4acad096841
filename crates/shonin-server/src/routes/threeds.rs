//! EMV 3-D Secure endpoints. `POST /3ds/acs/areq`: the DS → ACS link (mutual TLS; the DS's
//! certificate thumbprint must be configured). Answered 404 while `[threeds.acs]` is absent.

use crate::error::ApiError;
use crate::oauth::reject::RequestMeta;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub fn router() -> Router<AppState> {
    Router::new().route("/3ds/acs/areq", post(areq))
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
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    crate::threeds::areq::answer(&state, &acs, &meta, json, &body).await
}
