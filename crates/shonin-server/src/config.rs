//! Configuration: `shonin.toml`, then `SHONIN_*` environment overrides, then validation.
//!
//! Every key is known: an unknown key or a value that breaks a rule is an error naming the key and
//! the rule. Secrets never live in this structure except a database password inside
//! `storage.url`, which [`Config::redacted`] removes before anything is printed.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use shonin_jose::Alg;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Environment variables with the `SHONIN_` prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["MASTER_KEY", "CONFIG", "BIN", "PKCS11_PIN"];
/// Prefixes of `SHONIN_` variables reserved for the test, CI and benchmark tooling.
const ENV_RESERVED_PREFIXES: &[&str] = &[
    "TEST_",
    "REQUIRE_",
    "E2E_",
    "CI_",
    "FUZZ_",
    "ADVISORY_",
    "REPO_",
    "BENCH_",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The public issuer URL (RFC 8414 §2): https, no query or fragment.
    pub issuer: String,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub keys: KeysConfig,
    pub audit: AuditSettings,
    pub rate_limit: RateLimitConfig,
    pub oauth: OAuthSettings,
    /// `[passkeys]`: the WebAuthn relying party and the sign-in policies.
    #[serde(default)]
    pub passkeys: crate::passkeys::PasskeySettings,
    /// `[transactions]`: the limits of transaction approval.
    #[serde(default)]
    pub transactions: shonin_txn::settings::TxnSettings,
    /// `[alerts]`: the alert webhook (sign-in failures, locked transactions).
    #[serde(default)]
    pub alerts: AlertSettings,
    /// `[threeds.acs]`: the issuer-side 3-D Secure ACS; absent, it is off.
    #[serde(default)]
    pub threeds: shonin_3ds::settings::ThreeDsSettings,
    /// `[vault]`: the card vault's retention.
    #[serde(default)]
    pub vault: crate::vault::VaultConfig,
    pub log: LogConfig,
    /// `[[clients]]`: clients created or updated at `serve` startup (see
    /// [`crate::admin::clients::sync_from_config`]).
    #[serde(default)]
    pub clients: Vec<shonin_oauth::client::ClientRegistration>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// `tls` (the default) terminates TLS in Shonin; `proxy` serves plain HTTP for a deployment
    /// behind a TLS-terminating proxy and then requires `trusted_proxies`.
    pub mode: ServerMode,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `none` or `optional`: whether the TLS handshake asks clients for a certificate.
    pub client_certificates: ClientCertificates,
    /// PEM bundle of the CAs that issue `tls_client_auth` client certificates (RFC 8705 §2.1).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `server.mode = "proxy"`: the request header in which the trusted proxy forwards the
    /// client certificate as URL-encoded PEM (nginx `$ssl_client_escaped_cert`).
    #[serde(default)]
    pub client_certificate_header: Option<String>,
    /// A second TLS listener that always asks for client certificates (RFC 8705 §5
    /// `mtls_endpoint_aliases`); needs `mtls_base_url`.
    #[serde(default)]
    pub mtls_listen: Option<SocketAddr>,
    /// The public https base URL of `mtls_listen`, advertised in `mtls_endpoint_aliases`.
    #[serde(default)]
    pub mtls_base_url: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Peers allowed to read `/metrics`.
    pub metrics_allowed: Vec<IpAddr>,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub header_read_timeout_secs: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// Open connections at most from one client IP (trusted proxies are exempt).
    pub max_connections_per_ip: usize,
    /// A connection with no request in flight for this long is closed (HTTP/2: GOAWAY).
    pub idle_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    Tls,
    Proxy,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertificates {
    None,
    Optional,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite:PATH` or `postgres://user:password@host/db`.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    pub keyring: PathBuf,
    /// File holding the base64 master key; ignored when `SHONIN_MASTER_KEY` is set.
    pub master_key_file: Option<PathBuf>,
    pub algorithm: String,
    /// How long a retired key stays in `/jwks` (must exceed the longest token lifetime).
    pub publish_retired_for_secs: u64,
    pub reload_interval_secs: u64,
    /// `[keys.pkcs11]`: keys held in an HSM instead of the keyring (docs/operations.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11: Option<Pkcs11Config>,
}

/// An HSM reached through its PKCS#11 module. The signing key pairs (if `signing_key_label` is
/// set) sign tokens and audit checkpoints instead of the keyring's keys; the key-encryption keys
/// (if `kek_label` is set) wrap the card vault's data keys; the HMAC-SHA256 keys (if
/// `mac_key_label` is set: `<label>/card-fingerprints`, `<label>/3ds-authentication-values`,
/// `<label>/3ds-challenge-codes`) compute card fingerprints, 3-D Secure authentication values
/// and challenge-code hashes instead of keys derived from the master key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The vendor's PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    pub token_label: String,
    /// File holding the user PIN; ignored when `SHONIN_PKCS11_PIN` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_key_label: Option<String>,
    /// Sessions opened on the token, each with a thread of its own: 1 – 64.
    #[serde(default = "default_pkcs11_sessions")]
    pub sessions: usize,
    /// One call at a time (SoftHSM2 needs it; network HSMs do not).
    #[serde(default)]
    pub serialize_calls: bool,
}

fn default_pkcs11_sessions() -> usize {
    4
}

impl Pkcs11Config {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.module.as_os_str().is_empty() {
            return Err(invalid(
                "keys.pkcs11.module",
                "must name the PKCS#11 library",
            ));
        }
        // CK_TOKEN_INFO.label and CKA_LABEL as Shonin uses them: 1 – 32 printable characters.
        let label_ok = |l: &str| {
            !l.is_empty() && l.len() <= 32 && l.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        };
        for (key, value) in [
            ("keys.pkcs11.token_label", Some(&self.token_label)),
            (
                "keys.pkcs11.signing_key_label",
                self.signing_key_label.as_ref(),
            ),
            ("keys.pkcs11.kek_label", self.kek_label.as_ref()),
            ("keys.pkcs11.mac_key_label", self.mac_key_label.as_ref()),
        ] {
            if let Some(v) = value
                && !label_ok(v)
            {
                return Err(invalid(key, "must be 1 – 32 printable ASCII characters"));
            }
        }
        if self.signing_key_label.is_none()
            && self.kek_label.is_none()
            && self.mac_key_label.is_none()
        {
            return Err(invalid(
                "keys.pkcs11",
                "set signing_key_label, kek_label or mac_key_label: otherwise the HSM holds nothing Shonin uses",
            ));
        }
        range("keys.pkcs11.sessions", self.sessions as u64, 1, 64)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub checkpoint_every: u64,
    pub checkpoint_interval_secs: u64,
    /// After every checkpoint, the server writes it here (atomically) as the anchor that
    /// `audit verify --anchor` checks the log against. Put it where whoever can write the
    /// database cannot: another volume, a synced or write-once location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client IP; 0 switches the limiter off.
    pub per_ip_per_second: u32,
    pub burst: u32,
}

/// The alert webhook (see `crate::alerts`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Where alerts are POSTed: https, or http to a loopback address.
    pub webhook_url: Option<String>,
    /// File holding the HMAC-SHA256 key that signs each alert (at least 32 bytes).
    pub webhook_secret_file: Option<PathBuf>,
    /// Alert when an account's consecutive failed sign-ins reach this count: 1 – 100.
    pub failed_sign_in_threshold: u32,
    /// Seconds a delivery may take: 1 – 30.
    pub timeout_secs: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret_file: None,
            failed_sign_in_threshold: 5,
            timeout_secs: 5,
        }
    }
}

impl AlertSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        range(
            "alerts.failed_sign_in_threshold",
            u64::from(self.failed_sign_in_threshold),
            1,
            100,
        )?;
        range("alerts.timeout_secs", self.timeout_secs, 1, 30)?;
        match (&self.webhook_url, &self.webhook_secret_file) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(invalid(
                "alerts.webhook_secret_file",
                "is required with alerts.webhook_url (alerts are signed)",
            )),
            (None, Some(_)) => Err(invalid(
                "alerts.webhook_url",
                "is required with alerts.webhook_secret_file",
            )),
            (Some(url), Some(file)) => {
                let rule = "must be an https URL, or http to 127.0.0.1, [::1] or localhost";
                let u = url::Url::parse(url).map_err(|_| invalid("alerts.webhook_url", rule))?;
                let loopback = match u.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(d)) => d == "localhost",
                    None => false,
                };
                let ok = match u.scheme() {
                    "https" => u.host().is_some(),
                    "http" => loopback,
                    _ => false,
                };
                if !ok || !u.username().is_empty() || u.password().is_some() {
                    return Err(invalid("alerts.webhook_url", rule));
                }
                if !file.is_file() {
                    return Err(invalid(
                        "alerts.webhook_secret_file",
                        format!("file {} does not exist", file.display()),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Lifetimes in the authorization server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    pub access_token_lifetime_secs: u64,
    pub refresh_token_lifetime_secs: u64,
    pub id_token_lifetime_secs: u64,
    /// How long a pushed request's `request_uri` lives; below 600 (FAPI 2.0 §5.3.2.2 item 9).
    pub par_lifetime_secs: u64,
    pub session_lifetime_secs: u64,
    /// Issue a new refresh token on every refresh. Off by default: FAPI 2.0 §5.3.2.1 item 8
    /// allows rotation only in extraordinary circumstances.
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    /// With rotation on, how long a rotated refresh token may still be used to retry (FAPI 2.0
    /// §5.3.2.1 item 8); 0 – 600.
    #[serde(default = "default_refresh_retry_grace_secs")]
    pub refresh_retry_grace_secs: u64,
    /// How long after expiry a token's record is kept before the sweep deletes it; 0 – 604800.
    /// An expired token is inactive with or without its record, so this only sizes the token
    /// table: about (issue rate) × (token lifetime + this).
    #[serde(default = "default_token_record_retention_secs")]
    pub token_record_retention_secs: u64,
    /// Extra PEM roots (on top of the platform's) trusted when fetching clients' `jwks_uri`.
    #[serde(default)]
    pub jwks_ca_file: Option<PathBuf>,
    /// How long a registered client read from the store is reused; 0 – 300, 0 = read every time.
    #[serde(default = "default_client_cache_secs")]
    pub client_cache_secs: u64,
    /// The scopes this server grants (`scopes_supported` in discovery, RFC 8414 §2). A client
    /// is registered only with scopes from this list, and a scope removed from it stops being
    /// granted to every client at once (default deny).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// How long the user may take from reaching `/authorize` to deciding: the pushed request
    /// becomes an authorization session of this lifetime when the browser arrives; 60 – 3600.
    #[serde(default = "default_authorization_session_secs")]
    pub authorization_session_secs: u64,
    /// CIBA: how long a backchannel request waits for the user (`expires_in`, and the most a
    /// client's `requested_expiry` may ask for); 30 – 1800.
    #[serde(default = "default_ciba_lifetime_secs")]
    pub ciba_request_lifetime_secs: u64,
    /// CIBA: the polling interval a client is given (`interval`); 1 – 60.
    #[serde(default = "default_ciba_interval_secs")]
    pub ciba_poll_interval_secs: u64,
}

fn default_authorization_session_secs() -> u64 {
    600
}

fn default_ciba_lifetime_secs() -> u64 {
    300
}

fn default_ciba_interval_secs() -> u64 {
    5
}

fn default_refresh_retry_grace_secs() -> u64 {
    60
}

fn default_token_record_retention_secs() -> u64 {
    600
}

fn default_client_cache_secs() -> u64 {
    5
}

fn default_scopes() -> Vec<String> {
    [
        "openid",
        "accounts",
        "payments",
        "transactions",
        crate::vault::SCOPE,
        crate::vault::DETOKENIZE_SCOPE,
        shonin_3ds::settings::REQUESTOR_SCOPE,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `shonin_server=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
    /// Pretty when standard error is a terminal, JSON otherwise (the `--dev` default).
    Auto,
}

/// A configuration problem: which key, and which rule it breaks.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration key `{key}`: {rule}")]
    Invalid { key: String, rule: String },
    #[error("configuration: {0}")]
    Load(String),
}

impl From<shonin_passkeys::settings::SettingsError> for ConfigError {
    fn from(e: shonin_passkeys::settings::SettingsError) -> Self {
        ConfigError::Invalid {
            key: e.key,
            rule: e.rule,
        }
    }
}

fn invalid(key: &str, rule: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        rule: rule.into(),
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The TOML file; a missing file is an error unless it is the implicit `shonin.toml`.
    pub file: Option<PathBuf>,
    pub file_required: bool,
    /// `--dev`: defaults for a local development setup under `data_dir`.
    pub dev: bool,
    pub data_dir: PathBuf,
}

impl Config {
    /// Defaults; in development mode everything points into `data_dir`.
    pub fn defaults(dev: bool, data_dir: &Path) -> Config {
        let d = |name: &str| data_dir.join(name);
        Config {
            issuer: if dev {
                "https://localhost:8443".into()
            } else {
                String::new()
            },
            server: ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
                mode: ServerMode::Tls,
                tls_cert: dev.then(|| d("tls/server.pem")),
                tls_key: dev.then(|| d("tls/server-key.pem")),
                client_certificates: ClientCertificates::None,
                client_ca_file: None,
                client_certificate_header: None,
                mtls_listen: None,
                mtls_base_url: None,
                trusted_proxies: Vec::new(),
                metrics_allowed: vec![
                    IpAddr::from([127, 0, 0, 1]),
                    "::1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
                ],
                body_limit_bytes: 64 * 1024,
                request_timeout_secs: 30,
                header_read_timeout_secs: 10,
                max_header_bytes: 16 * 1024,
                max_connections: 10_000,
                max_connections_per_ip: 256,
                idle_timeout_secs: 30,
                shutdown_grace_secs: 30,
            },
            storage: StorageConfig {
                url: format!("sqlite:{}", d("shonin.db").display()),
                max_connections: 16,
                connect_timeout_secs: 5,
            },
            keys: KeysConfig {
                keyring: d("keyring.json"),
                master_key_file: Some(d("master.key")),
                algorithm: "ES256".into(),
                publish_retired_for_secs: 3600,
                reload_interval_secs: 2,
                pkcs11: None,
            },
            audit: AuditSettings {
                checkpoint_every: 1000,
                checkpoint_interval_secs: 60,
                anchor_file: None,
            },
            rate_limit: RateLimitConfig {
                per_ip_per_second: 100,
                burst: 200,
            },
            oauth: OAuthSettings {
                access_token_lifetime_secs: 300,
                refresh_token_lifetime_secs: 30 * 86400,
                id_token_lifetime_secs: 300,
                par_lifetime_secs: 60,
                session_lifetime_secs: 3600,
                rotate_refresh_tokens: false,
                refresh_retry_grace_secs: default_refresh_retry_grace_secs(),
                token_record_retention_secs: default_token_record_retention_secs(),
                client_cache_secs: default_client_cache_secs(),
                authorization_session_secs: default_authorization_session_secs(),
                ciba_request_lifetime_secs: default_ciba_lifetime_secs(),
                ciba_poll_interval_secs: default_ciba_interval_secs(),
                jwks_ca_file: None,
                scopes: default_scopes(),
            },
            passkeys: crate::passkeys::PasskeySettings::default(),
            transactions: shonin_txn::settings::TxnSettings::default(),
            vault: crate::vault::VaultConfig::default(),
            threeds: shonin_3ds::settings::ThreeDsSettings::default(),
            alerts: AlertSettings::default(),
            log: LogConfig {
                level: "info".into(),
                format: if dev {
                    LogFormat::Auto
                } else {
                    LogFormat::Json
                },
            },
            clients: Vec::new(),
        }
    }

    /// Loads defaults, then the file, then the environment, then validates.
    pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(source, &env)
    }

    /// [`Config::load`] with an explicit environment, for tests.
    pub fn load_with_env(
        source: &ConfigSource,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::defaults(
            source.dev,
            &source.data_dir,
        )));
        if let Some(file) = &source.file {
            if file.exists() {
                fig = fig.merge(Toml::file_exact(file));
            } else if source.file_required {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", file.display()),
                ));
            }
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("SHONIN_") else {
                continue;
            };
            if ENV_NOT_CONFIG.contains(&rest)
                || ENV_RESERVED_PREFIXES.iter().any(|p| rest.starts_with(p))
            {
                continue;
            }
            // SHONIN_STORAGE__URL sets storage.url; a name that maps to no key fails below.
            fig = fig.merge(EnvVar {
                name: name.clone(),
                key: rest.to_ascii_lowercase().replace("__", "."),
                value: value.parse().unwrap_or_else(|never| match never {}),
            });
        }
        let mut config: Config = fig.extract().map_err(describe_figment_error)?;
        // --dev: an issuer that neither the file nor the environment sets follows server.listen,
        // so SHONIN_SERVER__LISTEN=127.0.0.1:9443 alone gives https://localhost:9443.
        if source.dev && origin(fig.find_metadata("issuer")).is_none() {
            config.issuer = dev_issuer(config.server.listen.port());
        }
        config.validate(source.dev)?;
        Ok(config)
    }

    /// Settings that are valid but probably a mistake: `serve` logs each at start and
    /// `config check` prints them.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let listen = self.server.listen;
        // In proxy mode the issuer is the proxy's public URL: its port says nothing about the
        // plain-HTTP listener behind it.
        if self.server.mode == ServerMode::Tls
            && let Ok(issuer) = url::Url::parse(&self.issuer)
            && let Some(port) = issuer.port_or_known_default()
            && port != listen.port()
        {
            warnings.push(format!(
                "server.listen {listen} is on port {lp}, but the issuer {issuer} is on port \
                 {port}: clients reach Shonin at the issuer, so this works only if something in \
                 between (a NAT, a TCP load balancer) forwards port {port} to {lp}; otherwise make \
                 the ports agree (issuer = \"https://HOST:{lp}\" or server.listen = \"ADDR:{port}\")",
                lp = listen.port(),
                issuer = self.issuer,
            ));
        }
        warnings
    }

    /// Checks every rule that types alone do not express.
    pub fn validate(&self, dev: bool) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.issuer).map_err(|_| {
            invalid(
                "issuer",
                "must be an absolute https URL, e.g. https://auth.example.com",
            )
        })?;
        if issuer.scheme() != "https" {
            return Err(invalid(
                "issuer",
                "must use https (FAPI 2.0 §5.2.1, RFC 8414 §2)",
            ));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() || self.issuer.ends_with('/') {
            return Err(invalid(
                "issuer",
                "must have no query, fragment or trailing slash (RFC 8414 §2)",
            ));
        }
        let s = &self.server;
        match s.mode {
            ServerMode::Tls => {
                if s.tls_cert.is_none() {
                    return Err(invalid(
                        "server.tls_cert",
                        "required when server.mode = \"tls\"",
                    ));
                }
                if s.tls_key.is_none() {
                    return Err(invalid(
                        "server.tls_key",
                        "required when server.mode = \"tls\"",
                    ));
                }
            }
            ServerMode::Proxy => {
                if dev {
                    return Err(invalid(
                        "server.mode",
                        "\"proxy\" cannot be combined with --dev",
                    ));
                }
                if s.trusted_proxies.is_empty() {
                    return Err(invalid(
                        "server.trusted_proxies",
                        "must list the TLS-terminating proxy's address when server.mode = \"proxy\"",
                    ));
                }
            }
        }
        self.validate_mtls()?;
        range(
            "server.body_limit_bytes",
            s.body_limit_bytes as u64,
            1024,
            10 * 1024 * 1024,
        )?;
        range(
            "server.request_timeout_secs",
            s.request_timeout_secs,
            1,
            300,
        )?;
        range(
            "server.header_read_timeout_secs",
            s.header_read_timeout_secs,
            1,
            120,
        )?;
        range(
            "server.max_header_bytes",
            s.max_header_bytes as u64,
            4096,
            1024 * 1024,
        )?;
        range(
            "server.max_connections",
            s.max_connections as u64,
            1,
            1_000_000,
        )?;
        range(
            "server.max_connections_per_ip",
            s.max_connections_per_ip as u64,
            1,
            s.max_connections as u64,
        )?;
        range("server.idle_timeout_secs", s.idle_timeout_secs, 1, 3600)?;
        range("server.shutdown_grace_secs", s.shutdown_grace_secs, 0, 600)?;
        let st = &self.storage;
        let is_sqlite = st.url.starts_with("sqlite:");
        let is_pg = st.url.starts_with("postgres://") || st.url.starts_with("postgresql://");
        if !is_sqlite && !is_pg {
            return Err(invalid(
                "storage.url",
                "must start with sqlite: or postgres://",
            ));
        }
        range(
            "storage.max_connections",
            u64::from(st.max_connections),
            1,
            1000,
        )?;
        range(
            "storage.connect_timeout_secs",
            st.connect_timeout_secs,
            1,
            120,
        )?;
        self.algorithm()?;
        range(
            "keys.publish_retired_for_secs",
            self.keys.publish_retired_for_secs,
            300,
            90 * 86400,
        )?;
        range(
            "keys.reload_interval_secs",
            self.keys.reload_interval_secs,
            1,
            3600,
        )?;
        if let Some(p) = &self.keys.pkcs11 {
            p.validate()?;
        }
        self.vault
            .validate()
            .map_err(|rule| invalid("vault", rule))?;
        range(
            "audit.checkpoint_every",
            self.audit.checkpoint_every,
            1,
            1_000_000,
        )?;
        range(
            "audit.checkpoint_interval_secs",
            self.audit.checkpoint_interval_secs,
            1,
            86400,
        )?;
        let o = &self.oauth;
        range(
            "oauth.access_token_lifetime_secs",
            o.access_token_lifetime_secs,
            60,
            3600,
        )?;
        range(
            "oauth.refresh_token_lifetime_secs",
            o.refresh_token_lifetime_secs,
            300,
            365 * 86400,
        )?;
        range(
            "oauth.id_token_lifetime_secs",
            o.id_token_lifetime_secs,
            60,
            3600,
        )?;
        range("oauth.par_lifetime_secs", o.par_lifetime_secs, 10, 599)?;
        range(
            "oauth.session_lifetime_secs",
            o.session_lifetime_secs,
            60,
            86400,
        )?;
        range(
            "oauth.refresh_retry_grace_secs",
            o.refresh_retry_grace_secs,
            0,
            600,
        )?;
        range(
            "oauth.token_record_retention_secs",
            o.token_record_retention_secs,
            0,
            7 * 86400,
        )?;
        range("oauth.client_cache_secs", o.client_cache_secs, 0, 300)?;
        range(
            "oauth.authorization_session_secs",
            o.authorization_session_secs,
            60,
            3600,
        )?;
        range(
            "oauth.ciba_request_lifetime_secs",
            o.ciba_request_lifetime_secs,
            30,
            1800,
        )?;
        range(
            "oauth.ciba_poll_interval_secs",
            o.ciba_poll_interval_secs,
            1,
            60,
        )?;
        if let Some(ca) = &o.jwks_ca_file
            && !ca.is_file()
        {
            return Err(invalid(
                "oauth.jwks_ca_file",
                format!("file {} does not exist", ca.display()),
            ));
        }
        if self.rate_limit.per_ip_per_second > 0 && self.rate_limit.burst == 0 {
            return Err(invalid(
                "rate_limit.burst",
                "must be at least 1 when the limiter is on",
            ));
        }
        self.passkeys.validate(&issuer)?;
        self.transactions
            .validate()
            .map_err(|rule| invalid("transactions", rule))?;
        self.alerts.validate()?;
        if let Some(server) = &self.threeds.server {
            server
                .validate()
                .map_err(|(key, rule)| invalid(&format!("threeds.server.{key}"), rule))?;
        }
        if let Some(acs) = &self.threeds.acs {
            acs.validate()
                .map_err(|(key, rule)| invalid(&format!("threeds.acs.{key}"), rule))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|_| invalid("log.level", "must be a tracing filter such as \"info\""))?;
        self.validate_scopes()?;
        self.validate_clients()?;
        Ok(())
    }

    /// The mTLS keys (RFC 8705): files exist, the header is only for proxy mode, the alias
    /// listener has an https base URL.
    fn validate_mtls(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Some(ca) = &s.client_ca_file
            && !ca.is_file()
        {
            return Err(invalid(
                "server.client_ca_file",
                format!("file {} does not exist", ca.display()),
            ));
        }
        if let Some(h) = &s.client_certificate_header {
            if s.mode != ServerMode::Proxy {
                return Err(invalid(
                    "server.client_certificate_header",
                    "only used with server.mode = \"proxy\" (in \"tls\" mode the certificate comes \
                     from the handshake)",
                ));
            }
            let name_ok = !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !name_ok {
                return Err(invalid(
                    "server.client_certificate_header",
                    "must be an HTTP header name (letters, digits, '-', '_')",
                ));
            }
        }
        match (&s.mtls_listen, &s.mtls_base_url) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(invalid(
                    "server.mtls_base_url",
                    "required when server.mtls_listen is set",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "server.mtls_listen",
                    "required when server.mtls_base_url is set",
                ));
            }
            (Some(listen), Some(base)) => {
                if s.mode != ServerMode::Tls {
                    return Err(invalid(
                        "server.mtls_listen",
                        "only with server.mode = \"tls\" (behind a proxy, the proxy asks for \
                         certificates)",
                    ));
                }
                if *listen == s.listen {
                    return Err(invalid(
                        "server.mtls_listen",
                        "must differ from server.listen",
                    ));
                }
                let ok = url::Url::parse(base).is_ok_and(|u| {
                    u.scheme() == "https" && u.query().is_none() && u.fragment().is_none()
                }) && !base.ends_with('/');
                if !ok {
                    return Err(invalid(
                        "server.mtls_base_url",
                        "must be an https URL without query, fragment or trailing slash",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `oauth.scopes`: at least one, each an RFC 6749 §3.3 scope token, none twice.
    fn validate_scopes(&self) -> Result<(), ConfigError> {
        let scopes = &self.oauth.scopes;
        if scopes.is_empty() || scopes.len() > 100 {
            return Err(invalid("oauth.scopes", "must list 1 to 100 scopes"));
        }
        for (n, scope) in scopes.iter().enumerate() {
            if !shonin_oauth::client::is_scope_token(scope) {
                return Err(invalid(
                    &format!("oauth.scopes[{n}]"),
                    "must be 1–128 printable ASCII characters without space, `\"` or `\\` \
                     (RFC 6749 §3.3)",
                ));
            }
            if scopes.iter().take(n).any(|earlier| earlier == scope) {
                return Err(invalid(
                    &format!("oauth.scopes[{n}]"),
                    format!("{scope:?} is listed twice"),
                ));
            }
        }
        Ok(())
    }

    /// Each `[[clients]]` entry against the client rules; keys `clients[N].field`.
    fn validate_clients(&self) -> Result<(), ConfigError> {
        let now = time::OffsetDateTime::now_utc();
        let mut seen = std::collections::HashMap::new();
        for (n, reg) in self.clients.iter().enumerate() {
            if let Err(e) = shonin_oauth::client::validate(reg.clone(), now) {
                let r = shonin_oauth::client::refusal::explain(&e, reg);
                return Err(invalid(&format!("clients[{n}].{}", r.field), r.rule));
            }
            let unsupported =
                shonin_oauth::client::unsupported_scopes(&self.oauth.scopes, &reg.scope);
            if !unsupported.is_empty() {
                return Err(invalid(
                    &format!("clients[{n}].scope"),
                    format!(
                        "{} not in oauth.scopes (add to oauth.scopes what clients may be granted)",
                        unsupported.join(", ")
                    ),
                ));
            }
            if let Some(first) = seen.insert(reg.client_id.as_str(), n) {
                return Err(invalid(
                    &format!("clients[{n}].client_id"),
                    format!("{:?} is already used by clients[{first}]", reg.client_id),
                ));
            }
        }
        Ok(())
    }

    /// The signing algorithm, parsed against the policy.
    pub fn algorithm(&self) -> Result<Alg, ConfigError> {
        self.keys.algorithm.parse::<Alg>().map_err(|_| {
            invalid(
                "keys.algorithm",
                "must be one of ES256, PS256, EdDSA (FAPI 2.0 §5.4.1)",
            )
        })
    }

    /// A copy safe to print: the database password is replaced by `REDACTED`.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        if let Ok(mut url) = url::Url::parse(&c.storage.url)
            && url.password().is_some()
        {
            let _ = url.set_password(Some("REDACTED"));
            c.storage.url = url.to_string();
        }
        c
    }
}

/// The `--dev` issuer for a listener on `port`.
fn dev_issuer(port: u16) -> String {
    if port == 443 {
        "https://localhost".to_owned()
    } else {
        format!("https://localhost:{port}")
    }
}

fn range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(invalid(
            key,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(())
}

/// One `SHONIN_*` environment variable as a figment provider of its own, so that an error in its
/// value (or a name that maps to no key) names the variable.
struct EnvVar {
    name: String,
    /// The dotted key path: `SHONIN_STORAGE__URL` → `storage.url`.
    key: String,
    value: figment::value::Value,
}

impl figment::Provider for EnvVar {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from(ENV_SOURCE_NAME, figment::Source::Custom(self.name.clone()))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        figment::Provider::data(&Serialized::default(&self.key, &self.value))
    }
}

/// The metadata name of an [`EnvVar`].
const ENV_SOURCE_NAME: &str = "environment variable";

/// Where a value came from, for an error message: `file PATH` or `environment variable NAME`.
fn origin(metadata: Option<&figment::Metadata>) -> Option<String> {
    let m = metadata?;
    match &m.source {
        Some(figment::Source::File(path)) => Some(format!("file {}", path.display())),
        Some(figment::Source::Custom(name)) if m.name == ENV_SOURCE_NAME => {
            Some(format!("{ENV_SOURCE_NAME} {name}"))
        }
        _ => None,
    }
}

/// figment errors already name the key and the source; keep that, drop the noise.
fn describe_figment_error(e: figment::Error) -> ConfigError {
    let source = origin(e.metadata.as_ref());
    if e.path.is_empty()
        && let (Some(source), figment::error::Kind::Message(msg)) = (&source, &e.kind)
    {
        // A TOML syntax error has no key path; its message carries the line and column.
        return ConfigError::Load(format!("{source}: {msg}"));
    }
    let source = source.unwrap_or_default();
    let key = if e.path.is_empty() {
        "(root)".to_owned()
    } else {
        key_path(&e.path)
    };
    let rule = match &e.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            let key = if key == "(root)" {
                field.clone()
            } else if e.path.last() == Some(field) {
                // Inside an array of tables figment's path already ends with the field.
                key
            } else {
                format!("{key}.{field}")
            };
            return invalid(
                &key,
                format!(
                    "unknown key (expected one of: {}){}",
                    expected.join(", "),
                    from(&source)
                ),
            );
        }
        figment::error::Kind::MissingField(field) => {
            return invalid(
                format!("{key}.{field}").trim_start_matches("(root)."),
                "required".to_owned(),
            );
        }
        other => format!("{other}{}", from(&source)),
    };
    invalid(&key, rule)
}

/// `clients.0.scope` → `clients[0].scope`, the form that validation errors use.
fn key_path(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if !key.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            key.push('[');
            key.push_str(part);
            key.push(']');
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    key
}

/// ` (set in file PATH)` or ` (set by environment variable NAME)`.
fn from(source: &str) -> String {
    if source.is_empty() {
        String::new()
    } else if source.starts_with(ENV_SOURCE_NAME) {
        format!(" (set by {source})")
    } else {
        format!(" (set in {source})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads with `--dev` defaults under a temp dir, `toml` as the file (if any) and `env`.
    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> (Result<Config, ConfigError>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shonin.toml");
        if let Some(text) = toml {
            std::fs::write(&file, text).unwrap();
        }
        let source = ConfigSource {
            file: Some(file.clone()),
            file_required: toml.is_some(),
            dev: true,
            data_dir: dir.path().join("data"),
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        (Config::load_with_env(&source, &env), file)
    }

    #[test]
    fn logs_are_json_unless_dev_where_a_terminal_gets_them_readable() {
        let dir = Path::new("shonin-data");
        assert_eq!(Config::defaults(false, dir).log.format, LogFormat::Json);
        assert_eq!(Config::defaults(true, dir).log.format, LogFormat::Auto);
    }

    fn load_err(toml: Option<&str>, env: &[(&str, &str)]) -> (String, PathBuf) {
        let (result, file) = load(toml, env);
        (result.unwrap_err().to_string(), file)
    }

    #[test]
    fn dev_issuer_follows_listen_unless_set() {
        let issuer = |toml: Option<&str>, env: &[(&str, &str)]| load(toml, env).0.unwrap().issuer;
        assert_eq!(issuer(None, &[]), "https://localhost:8443");
        assert_eq!(
            issuer(None, &[("SHONIN_SERVER__LISTEN", "127.0.0.1:9443")]),
            "https://localhost:9443"
        );
        assert_eq!(
            issuer(Some("[server]\nlisten = \"0.0.0.0:9443\"\n"), &[]),
            "https://localhost:9443"
        );
        assert_eq!(
            issuer(None, &[("SHONIN_SERVER__LISTEN", "[::1]:443")]),
            "https://localhost"
        );
        // An issuer the operator sets is kept, even when it equals the default.
        assert_eq!(
            issuer(
                None,
                &[
                    ("SHONIN_SERVER__LISTEN", "127.0.0.1:9443"),
                    ("SHONIN_ISSUER", "https://localhost:8443"),
                ],
            ),
            "https://localhost:8443"
        );
        assert_eq!(
            issuer(
                Some(
                    "issuer = \"https://auth.localhost:7000\"\n[server]\nlisten = \"127.0.0.1:9443\"\n"
                ),
                &[],
            ),
            "https://auth.localhost:7000"
        );
    }

    #[test]
    fn warns_when_listen_and_issuer_ports_differ() {
        let dir = tempfile::tempdir().unwrap();
        let warnings = |issuer: &str, listen: &str, mode: ServerMode| {
            let mut c = Config::defaults(true, dir.path());
            c.issuer = issuer.to_owned();
            c.server.listen = listen.parse().unwrap();
            c.server.mode = mode;
            c.warnings()
        };
        let w = warnings("https://localhost:9000", "127.0.0.1:8443", ServerMode::Tls);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("server.listen 127.0.0.1:8443 is on port 8443")
                && w[0].contains("https://localhost:9000 is on port 9000"),
            "{w:?}"
        );
        // https without a port is 443.
        let w = warnings("https://auth.example", "0.0.0.0:8443", ServerMode::Tls);
        assert!(w.len() == 1 && w[0].contains("on port 443"), "{w:?}");
        assert!(warnings("https://auth.example", "0.0.0.0:443", ServerMode::Tls).is_empty());
        assert!(warnings("https://localhost:8443", "127.0.0.1:8443", ServerMode::Tls).is_empty());
        // Behind a proxy the issuer is the proxy's URL.
        assert!(warnings("https://auth.example", "10.0.0.5:8080", ServerMode::Proxy).is_empty());
        assert!(Config::defaults(true, dir.path()).warnings().is_empty());
    }

    #[test]
    fn unknown_env_variable_is_named() {
        let (err, _) = load_err(None, &[("SHONIN_FOO__BAR", "1")]);
        assert!(err.contains("`foo`"), "{err}");
        assert!(
            err.contains("unknown key")
                && err.contains("(set by environment variable SHONIN_FOO__BAR)"),
            "{err}"
        );
        assert!(!err.contains("figment"), "{err}");
        let (err, _) = load_err(None, &[("SHONIN_STORAGE__URLL", "sqlite:x.db")]);
        assert!(
            err.contains("`storage.urll`")
                && err.contains("environment variable SHONIN_STORAGE__URLL"),
            "{err}"
        );
    }

    #[test]
    fn env_value_of_the_wrong_type_names_the_variable() {
        let (err, _) = load_err(None, &[("SHONIN_SERVER__BODY_LIMIT_BYTES", "lots")]);
        assert!(
            err.contains("`server.body_limit_bytes`")
                && err.contains("(set by environment variable SHONIN_SERVER__BODY_LIMIT_BYTES)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_in_the_file_names_the_file() {
        let (err, file) = load_err(Some("[storage]\nurll = \"sqlite:x.db\"\n"), &[]);
        assert!(
            err.contains("`storage.urll`") && err.contains("unknown key"),
            "{err}"
        );
        assert!(
            err.contains(&format!("(set in file {})", file.display())),
            "{err}"
        );
    }

    #[test]
    fn toml_syntax_error_names_the_file_and_the_line() {
        let (err, file) = load_err(
            Some("issuer = \"https://localhost:8443\"\n\n[server\nlisten = \"127.0.0.1:8443\"\n"),
            &[],
        );
        assert!(err.contains(&format!("file {}", file.display())), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }
}
