//! Authorization server metadata (RFC 8414 §3, OpenID Connect Discovery 1.0 §4).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use shonin_keys::KeySource;
use shonin_oauth::metadata::{MetadataOptions, discovery_document};

pub async fn metadata(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut opts = MetadataOptions::new(state.keys.current_signer().alg());
    opts.scopes = vec!["accounts".into(), "payments".into()];
    opts.authorization_details_types = state.oauth.details.supported_types();
    Json(discovery_document(&state.config.issuer, &opts))
}
