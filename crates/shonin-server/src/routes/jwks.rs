//! The published JWK set (RFC 7517 §5): current, next and recently retired signing keys.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use shonin_keys::KeySource;

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.keys.published_jwks().to_string();
    (
        [
            // RFC 7517 §8.5.1 media type.
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            // Short, so a rotation's next key is picked up well before it becomes current.
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
}
