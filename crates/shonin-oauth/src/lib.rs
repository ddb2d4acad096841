//! The FAPI 2.0 authorization server's protocol logic: PKCE (RFC 7636, `S256` only), DPoP proof
//! verification and stateless server nonces (RFC 9449), and `private_key_jwt` client
//! authentication (RFC 7523, OIDC Core §9, FAPI 2.0 Security Profile §5.3.2.1).
//!
//! Every check is a pure function of its inputs: the current time is a parameter, keys are
//! handed in, and one-time values go through the [`shonin_types::ports::ReplayStore`] port so
//! replay protection holds across all nodes. Each concern has one error enum with one variant per
//! check, and each variant names the OAuth error code it produces (`oauth_error()`).
//!
//! This crate must not do I/O of its own: no HTTP (no axum, no network fetches of JWK sets), no
//! SQL (no sqlx; `shonin-store` implements the ports), no templates (no askama). The HTTP layer
//! in `shonin-server` extracts parameters and headers, calls in here once, and maps the error.

mod config;

pub mod ciba;
pub mod claims;
pub mod client;
pub mod client_assertion;
pub mod cnf;
pub mod dpop;
pub mod form;
pub mod grant;
pub mod introspection;
pub mod metadata;
pub mod mtls;
pub mod par;
pub mod pkce;
pub mod rar;
mod request_params;
pub mod resource;
pub mod token_record;

pub use client_assertion::{
    AuthenticatedClientId, ClientAssertionParams, ClientAssertionVerifier, ClientAuthError,
    ClientJwks, JWT_BEARER_ASSERTION_TYPE,
};
pub use cnf::Confirmation;
pub use config::ConfigError;
pub use dpop::{
    DpopConfig, DpopError, DpopRequest, DpopVerifier, Htu, NonceKey, NonceRejection, VerifiedProof,
};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
// `client::ClientJwks` (the registered key source) stays under `client::`: the root name is
// taken by `client_assertion::ClientJwks` (keys handed to the assertion verifier).
pub use client::{
    Client, ClientError, ClientId, ClientRegistration, ClientStore, GrantType,
    TokenEndpointAuthMethod,
};
pub use token_record::{TokenKind, TokenRecord, TokenStore, token_hash};
