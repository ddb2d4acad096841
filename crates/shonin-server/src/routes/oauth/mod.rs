//! The OAuth 2.0 / OpenID Connect endpoints. Each handler parses, authenticates, makes one call
//! into `shonin-oauth`, and maps the outcome; see `crate::oauth` for the shared pieces.

pub mod authorize;
pub mod ciba;
pub mod client_form;
pub mod discovery;
pub mod introspect;
pub mod par;
pub mod payment;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};
use shonin_oauth::metadata as paths;

/// The authorization server's routes (FAPI 2.0): discovery, PAR, the authorization pages,
/// token, userinfo, introspection and revocation.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::OPENID_CONFIGURATION_PATH, get(discovery::metadata))
        .route(
            paths::OAUTH_AUTHORIZATION_SERVER_PATH,
            get(discovery::metadata),
        )
        .route(paths::PAR_ENDPOINT_PATH, post(par::par))
        .route(
            paths::AUTHORIZATION_ENDPOINT_PATH,
            get(authorize::authorize),
        )
        .route("/authorize/sign-in", post(authorize::sign_in))
        .route("/authorize/consent", post(authorize::consent))
        .route("/authorize/payment/options", post(payment::options))
        .route("/authorize/payment", post(payment::approve))
        .route(paths::TOKEN_ENDPOINT_PATH, post(token::token))
        .route(
            paths::BACKCHANNEL_AUTHENTICATION_PATH,
            post(ciba::backchannel),
        )
        .route(
            paths::USERINFO_ENDPOINT_PATH,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            paths::INTROSPECTION_ENDPOINT_PATH,
            post(introspect::introspect),
        )
        .route(paths::REVOCATION_ENDPOINT_PATH, post(revoke::revoke))
}
