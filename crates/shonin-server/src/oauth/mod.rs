//! The HTTP side of the FAPI 2.0 authorization server: building the protocol services from
//! configuration, authenticating clients, checking DPoP proofs, and turning each domain error into
//! its RFC-shaped response with an audit entry. The protocol rules themselves live in
//! `shonin-oauth`.

pub mod access;
pub mod client_auth;
pub mod commit;
pub mod dpop;
pub mod jwks_fetch;
pub mod mtls;
pub mod session;

use crate::config::{ClientCertificates, Config, ServerMode};
use async_trait::async_trait;
use shonin_identity::{
    LockoutPolicy, PasswordHash, PasswordSignIn, PasswordVerifier, UserStore, verify_password,
};
use shonin_oauth::client::cache::ClientCache;
use shonin_oauth::grant::TokenPolicy;
use shonin_oauth::mtls::ClientCaBundle;
use shonin_oauth::rar::AuthorizationDetailsPolicy;
use shonin_oauth::{ClientAssertionVerifier, DpopConfig, DpopVerifier, NonceKey};
use shonin_store::Store;
use shonin_types::SecretBytes;
use std::sync::Arc;
use time::Duration;

/// Argon2id on the blocking pool, so a sign-in never stalls the async workers.
#[derive(Debug)]
pub struct BlockingArgon2;

#[async_trait]
impl PasswordVerifier for BlockingArgon2 {
    async fn verify(&self, password: SecretBytes, hash: PasswordHash) -> bool {
        tokio::task::spawn_blocking(move || verify_password(password.expose(), &hash))
            .await
            .unwrap_or(false)
    }
}

/// Everything the OAuth endpoints share, built once at startup.
#[derive(Debug)]
pub struct OAuth {
    pub issuer: String,
    pub assertions: ClientAssertionVerifier,
    /// DPoP without server nonces, and with them for clients that require nonces.
    pub dpop: DpopVerifier,
    pub dpop_with_nonce: DpopVerifier,
    pub details: AuthorizationDetailsPolicy,
    pub tokens: TokenPolicy,
    pub sign_in: PasswordSignIn,
    pub par_lifetime: Duration,
    /// From the browser's arrival at `/authorize` to the decision.
    pub authorization_session: Duration,
    pub session_lifetime: Duration,
    /// CIBA: a backchannel request's lifetime and polling interval.
    pub ciba_lifetime: Duration,
    pub ciba_interval: Duration,
    /// Key sets of `jwks_uri` clients, fetched and cached.
    pub jwks: jwks_fetch::JwksFetcher,
    /// Registered clients, kept for `oauth.client_cache_secs`.
    pub clients: ClientCache,
    /// The operator's client CA bundle for `tls_client_auth` (RFC 8705 §2.1).
    pub client_cas: ClientCaBundle,
    /// Behind a TLS-terminating proxy: the header carrying the client certificate.
    pub client_certificate_header: Option<axum::http::HeaderName>,
    /// Whether any listener can receive client certificates (metadata, RFC 8705 §3.3).
    pub mtls_enabled: bool,
}

impl OAuth {
    pub fn new(
        config: &Config,
        store: &Store,
        nonce_secret: &SecretBytes,
    ) -> anyhow::Result<OAuth> {
        let (issuer, settings, server) = (&config.issuer, &config.oauth, &config.server);
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        let nonce = NonceKey::new(nonce_secret, Duration::seconds(60))?;
        let users: Arc<dyn UserStore> = Arc::new(store.clone());
        Ok(OAuth {
            issuer: issuer.to_owned(),
            assertions: ClientAssertionVerifier::new(issuer),
            dpop: DpopVerifier::new(DpopConfig::default())?,
            dpop_with_nonce: DpopVerifier::new(DpopConfig {
                nonce: Some(nonce),
                ..DpopConfig::default()
            })?,
            details: AuthorizationDetailsPolicy::shipped()?,
            tokens: TokenPolicy {
                issuer: issuer.to_owned(),
                audience: Vec::new(),
                access_token_lifetime: secs(settings.access_token_lifetime_secs),
                refresh_token_lifetime: secs(settings.refresh_token_lifetime_secs),
                id_token_lifetime: secs(settings.id_token_lifetime_secs),
                refresh_rotation_grace: settings
                    .rotate_refresh_tokens
                    .then(|| secs(settings.refresh_retry_grace_secs)),
            },
            sign_in: PasswordSignIn::new(users, Arc::new(BlockingArgon2), LockoutPolicy::PCI_DSS),
            par_lifetime: secs(settings.par_lifetime_secs),
            authorization_session: secs(settings.authorization_session_secs),
            ciba_lifetime: secs(settings.ciba_request_lifetime_secs),
            ciba_interval: secs(settings.ciba_poll_interval_secs),
            session_lifetime: secs(settings.session_lifetime_secs),
            jwks: jwks_fetch::JwksFetcher::new(settings.jwks_ca_file.as_deref())?,
            clients: ClientCache::new(
                std::time::Duration::from_secs(settings.client_cache_secs),
                settings.scopes.clone(),
            ),
            client_cas: load_client_cas(server.client_ca_file.as_deref())?,
            client_certificate_header: server
                .client_certificate_header
                .as_deref()
                .map(axum::http::HeaderName::try_from)
                .transpose()?,
            mtls_enabled: match server.mode {
                ServerMode::Tls => {
                    server.client_certificates == ClientCertificates::Optional
                        || server.mtls_listen.is_some()
                }
                ServerMode::Proxy => server.client_certificate_header.is_some(),
            },
        })
    }

    /// The absolute URL of an endpoint (DPoP `htu`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The absolute URL of an endpoint as the client of this request addressed it: under the
    /// mTLS alias base on the mTLS listener (RFC 8705 §5), under the issuer otherwise.
    pub fn url_for(&self, endpoint_base: Option<&str>, path: &str) -> String {
        match endpoint_base {
            Some(base) => format!("{base}{path}"),
            None => self.url(path),
        }
    }
}

/// The bundle of `server.client_ca_file`, or none when it is not set.
fn load_client_cas(path: Option<&std::path::Path>) -> anyhow::Result<ClientCaBundle> {
    let Some(path) = path else {
        return Ok(ClientCaBundle::none());
    };
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("server.client_ca_file {}: {e}", path.display()))?;
    ClientCaBundle::from_pem(&bytes)
        .map_err(|e| anyhow::anyhow!("server.client_ca_file {}: {e}", path.display()))
}
