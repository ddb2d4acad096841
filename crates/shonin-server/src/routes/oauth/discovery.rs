//! Authorization server metadata (RFC 8414 §3, OpenID Connect Discovery 1.0 §4).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use shonin_keys::KeySource;
use shonin_oauth::metadata::{MetadataOptions, discovery_document};

pub async fn metadata(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut opts = MetadataOptions::new(state.keys.current_signer().alg());
    // The scopes the operator lets clients be granted (`oauth.scopes`), not a fixed list.
    opts.scopes = state.config.oauth.scopes.clone();
    opts.authorization_details_types = state.oauth.details.supported_types();
    opts.acr_values = shonin_identity::session::ACR_VALUES_SUPPORTED
        .iter()
        .map(|v| (*v).to_owned())
        .collect();
    // RFC 8705 §2.1.1, §2.2.1, §3.3, §5: advertised only when certificates can reach us, and
    // tls_client_auth only with a client CA bundle to check them against.
    if state.oauth.mtls_enabled {
        opts.mtls = true;
        if state.oauth.client_cas.is_configured() {
            opts.client_auth_methods
                .push(shonin_oauth::metadata::TLS_CLIENT_AUTH.to_owned());
        }
        opts.client_auth_methods
            .push(shonin_oauth::metadata::SELF_SIGNED_TLS_CLIENT_AUTH.to_owned());
        opts.mtls_base_url = state.config.server.mtls_base_url.clone();
    }
    Json(discovery_document(&state.config.issuer, &opts))
}
