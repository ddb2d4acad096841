//! The client registry: what a registered client may do, checked once at registration so every
//! later request can trust it.
//!
//! Metadata names follow RFC 7591 §2 where one exists (`client_name`, `redirect_uris`, `jwks`,
//! `jwks_uri`, `token_endpoint_auth_method`, `grant_types`, `scope`), RFC 9449 §5.2
//! (`dpop_bound_access_tokens`) and RFC 9396 §10 (`authorization_details_types`).
//!
//! The operator's input ([`ClientRegistration`], from `shonin clients add` or `[[clients]]` in
//! `shonin.toml`) becomes a [`Client`] only through [`validate`], which applies the FAPI 2.0
//! Security Profile's client rules (§5.3.2.1: confidential clients, `private_key_jwt` or mTLS
//! authentication, sender-constrained tokens, no password grant; §5.3.2.2 item 6: https
//! redirect URIs except loopback for native apps). [`ClientStore`] is the storage port;
//! `shonin-store` implements it.
//!
//! Deliberate restrictions:
//! - Every client has at least one sender constraint (FAPI 2.0 §5.3.2.1 item 4):
//!   `dpop_bound_access_tokens` (RFC 9449 §5.2), `tls_client_certificate_bound_access_tokens`
//!   (RFC 8705 §3.4), or both; either combines with any of the three authentication methods.
//! - `tls_client_auth` needs exactly one of the RFC 8705 §2.1.2 subject values; the other
//!   methods must not carry one (it would be silently ignored).
//! - A JWK set given inline is checked key by key now; a `jwks_uri` is only checked for shape
//!   (https, no fragment) — the server fetches it, with a timeout, when it needs the keys.
//!   `tls_client_auth` clients need no JWK set.

pub mod cache;
mod error;
pub mod refusal;
mod validate;

pub use error::ClientError;
pub use validate::{
    MAX_CLIENT_NAME_CHARS, MAX_JWKS_KEYS, MAX_REDIRECT_URI_LEN, MAX_SCOPE_TOKEN_LEN,
    is_scope_token, unsupported_scopes, validate,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shonin_types::StorageError;
use std::fmt;
use time::OffsetDateTime;

/// The longest `client_id` accepted.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// A client identifier: 1 to [`MAX_CLIENT_ID_LEN`] characters of `[A-Za-z0-9._~-]` (the URI
/// unreserved set, RFC 3986 §2.3), so it is safe in URLs, logs, audit entries and HTML without
/// escaping surprises.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    fn is_valid(s: &str) -> bool {
        (1..=MAX_CLIENT_ID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if Self::is_valid(&s) {
            Ok(Self(s))
        } else {
            Err(ClientError::InvalidClientId)
        }
    }
}

impl TryFrom<&str> for ClientId {
    type Error = ClientError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::try_from(s.to_owned())
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the client authenticates at the token, PAR, introspection and revocation endpoints
/// (RFC 7591 §2; FAPI 2.0 §5.3.2.1 item 5 allows only these three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A JWT signed with a key from the client's JWK set (RFC 7523, OIDC Core §9).
    PrivateKeyJwt,
    /// A CA-issued client certificate whose subject matches the registration (RFC 8705 §2.1).
    TlsClientAuth,
    /// A self-signed client certificate whose key is in the client's JWK set (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// The RFC 7591 / RFC 8705 metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// The method named `s`, if it is one of the three FAPI 2.0 allows.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "tls_client_auth" => Some(Self::TlsClientAuth),
            "self_signed_tls_client_auth" => Some(Self::SelfSignedTlsClientAuth),
            _ => None,
        }
    }
}

/// A grant type the client may use at the token endpoint (RFC 7591 §2). The resource owner
/// password grant and the implicit flow do not exist here (FAPI 2.0 §5.3.2.1 item 2,
/// §5.3.2.2 item 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// OpenID CIBA Core §4: decoupled authentication, approved on the user's own device.
    #[serde(rename = "urn:openid:params:grant-type:ciba")]
    Ciba,
}

impl GrantType {
    /// The RFC 7591 `grant_types` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Ciba => crate::ciba::CIBA_GRANT_TYPE,
        }
    }

    /// The grant type named `s`, if Shonin supports it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            crate::ciba::CIBA_GRANT_TYPE => Some(Self::Ciba),
            _ => None,
        }
    }
}

/// Where the client's public keys are: a JWK set registered by value (`jwks`) or by reference
/// (`jwks_uri`, https only; fetched by the server, never by this crate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientJwks {
    /// `{"keys": [...]}`, every key a public PS256, ES256 or EdDSA key with a unique `kid`.
    Inline(serde_json::Value),
    /// An https URL without a fragment.
    Uri(String),
    /// No keys: a `tls_client_auth` client that authenticates with a CA-issued certificate and
    /// needs no JWK set.
    None,
}

/// A registered, validated client. Only [`validate`] (or a store returning what it was given)
/// makes one, so holding a `Client` means every rule of [`validate`] held at registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: ClientId,
    /// Shown on the consent page (FAPI 2.0 §5.3.2.2 item 10); at most
    /// [`MAX_CLIENT_NAME_CHARS`] characters, no control characters.
    pub client_name: String,
    /// Exact strings, compared by simple string comparison at PAR (RFC 6749 §3.1.2.3).
    pub redirect_uris: Vec<String>,
    pub jwks: ClientJwks,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// RFC 9449 §5.2: tokens are DPoP-bound; a DPoP proof is required at the token endpoint.
    pub dpop_bound_access_tokens: bool,
    /// RFC 8705 §3.4: tokens are bound to the client certificate of the token request.
    /// Absent in clients stored before mTLS existed, hence the default.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `tls_client_auth` only: the registered certificate subject (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject: Option<crate::mtls::TlsClientAuthSubject>,
    /// Operator pins (`x5t#S256`): when not empty, only these certificates are accepted for
    /// mTLS authentication and certificate binding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned_certificates: Vec<String>,
    /// Operator revocations (`x5t#S256`): these certificates are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_certificates: Vec<String>,
    /// Demand a server nonce in this client's DPoP proofs (RFC 9449 §8).
    pub require_dpop_nonce: bool,
    /// The scope values this client may request (RFC 6749 §3.3 scope-tokens).
    pub scope: Vec<String>,
    /// The `authorization_details` types this client may request (RFC 9396 §10).
    pub authorization_details_types: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Allow `http://127.0.0.1:…` and `http://[::1]:…` redirect URIs (RFC 8252 §7.3), for native
    /// apps only; an explicit operator decision.
    pub native_loopback_redirects: bool,
    /// CIBA Core §4: how this client learns that a decoupled request was decided (`poll` or
    /// `ping`); set exactly when the client may use the CIBA grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<crate::ciba::DeliveryMode>,
    /// CIBA Core §4: where a `ping` client is told (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Client {
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether `redirect_uri` is one of the registered ones, by exact string comparison
    /// (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3: no pattern matching).
    pub fn has_redirect_uri(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == redirect_uri)
    }

    /// Whether the client may request the scope value `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    /// Whether the client may request `authorization_details` of type `ty`.
    pub fn allows_authorization_details_type(&self, ty: &str) -> bool {
        self.authorization_details_types.iter().any(|t| t == ty)
    }

    /// The registration this client was made from, for `shonin clients show` and for updates:
    /// edit it, run [`validate`] again, keep `created_at`, and [`ClientStore::update_client`].
    pub fn registration(&self) -> ClientRegistration {
        let (jwks, jwks_uri) = match &self.jwks {
            ClientJwks::Inline(set) => (Some(set.clone()), None),
            ClientJwks::Uri(uri) => (None, Some(uri.clone())),
            ClientJwks::None => (None, None),
        };
        use crate::mtls::TlsClientAuthSubject as S;
        let subject = |want: fn(&S) -> bool| {
            self.tls_client_auth_subject
                .as_ref()
                .filter(|s| want(s))
                .map(S::value)
        };
        ClientRegistration {
            client_id: self.client_id.as_str().to_owned(),
            client_name: self.client_name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            jwks,
            jwks_uri,
            token_endpoint_auth_method: self.token_endpoint_auth_method.as_str().to_owned(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens,
            tls_client_auth_subject_dn: subject(|s| matches!(s, S::SubjectDn(_))),
            tls_client_auth_san_dns: subject(|s| matches!(s, S::SanDns(_))),
            tls_client_auth_san_uri: subject(|s| matches!(s, S::SanUri(_))),
            tls_client_auth_san_ip: subject(|s| matches!(s, S::SanIp(_))),
            tls_client_auth_san_email: subject(|s| matches!(s, S::SanEmail(_))),
            pinned_certificates: self.pinned_certificates.clone(),
            revoked_certificates: self.revoked_certificates.clone(),
            require_dpop_nonce: self.require_dpop_nonce,
            scope: self.scope.clone(),
            authorization_details_types: self.authorization_details_types.clone(),
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            native_loopback_redirects: self.native_loopback_redirects,
            backchannel_token_delivery_mode: self
                .backchannel_token_delivery_mode
                .map(|m| m.as_str().to_owned()),
            backchannel_client_notification_endpoint: self
                .backchannel_client_notification_endpoint
                .clone(),
        }
    }
}

/// A client as the operator describes it (`shonin clients add`, `[[clients]]` in
/// `shonin.toml`). Enumerated values are plain strings here so that a forbidden value (`password`,
/// `client_secret_basic`) gets a [`ClientError`] naming the rule instead of a parse error.
///
/// Defaults: `token_endpoint_auth_method = "private_key_jwt"`, `grant_types =
/// ["authorization_code"]` (RFC 7591 §2), `dpop_bound_access_tokens = true` (a client that wants
/// only certificate-bound tokens says `false` and sets
/// `tls_client_certificate_bound_access_tokens = true`), everything else empty or `false`. `scope` may be a list or one space-separated string (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    #[serde(default = "default_true")]
    pub dpop_bound_access_tokens: bool,
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2: for `tls_client_auth`, exactly one of these five.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// `x5t#S256` thumbprints; when not empty, only these certificates are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned_certificates: Vec<String>,
    /// `x5t#S256` thumbprints of certificates the operator revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_certificates: Vec<String>,
    #[serde(default)]
    pub require_dpop_nonce: bool,
    #[serde(default, deserialize_with = "scope_list_or_string")]
    pub scope: Vec<String>,
    #[serde(default)]
    pub authorization_details_types: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub native_loopback_redirects: bool,
    /// CIBA Core §4: `poll` or `ping`; required with the CIBA grant type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<String>,
    /// CIBA Core §4: required for `ping`; an https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
}

impl ClientRegistration {
    /// A registration with the defaults and no redirect URIs, scopes or keys; fill in the rest.
    pub fn new(client_id: impl Into<String>, client_name: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_name: client_name.into(),
            redirect_uris: Vec::new(),
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_method: default_auth_method(),
            dpop_bound_access_tokens: true,
            tls_client_certificate_bound_access_tokens: false,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            pinned_certificates: Vec::new(),
            revoked_certificates: Vec::new(),
            require_dpop_nonce: false,
            scope: Vec::new(),
            authorization_details_types: Vec::new(),
            grant_types: default_grant_types(),
            native_loopback_redirects: false,
            backchannel_token_delivery_mode: None,
            backchannel_client_notification_endpoint: None,
        }
    }
}

fn default_auth_method() -> String {
    TokenEndpointAuthMethod::PrivateKeyJwt.as_str().to_owned()
}

fn default_true() -> bool {
    true
}

fn default_grant_types() -> Vec<String> {
    vec![GrantType::AuthorizationCode.as_str().to_owned()]
}

fn scope_list_or_string<'de, D>(de: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scope {
        List(Vec<String>),
        Spaced(String),
    }
    Ok(match Scope::deserialize(de)? {
        Scope::List(list) => list,
        Scope::Spaced(s) => s.split(' ').map(str::to_owned).collect(),
    })
}

/// Storage of registered clients. `shonin-store` implements it for SQLite and PostgreSQL.
#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Stores a new client. Fails with [`StorageError::Conflict`] if its `client_id` exists.
    async fn create_client(&self, client: &Client) -> Result<(), StorageError>;

    /// The client, or `None` if no client has this id.
    async fn get_client(&self, client_id: &ClientId) -> Result<Option<Client>, StorageError>;

    /// Every client, ordered by `client_id`.
    async fn list_clients(&self) -> Result<Vec<Client>, StorageError>;

    /// Replaces the stored client of the same `client_id` and its `updated_at`; the stored
    /// `created_at` is kept. Returns `false` if no such client exists.
    async fn update_client(&self, client: &Client) -> Result<bool, StorageError>;

    /// Deletes the client; its issued-token records go with it, so they stop being active.
    /// Returns `false` if no such client existed.
    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_allows_only_unreserved_characters() {
        for ok in ["a", "client-1", "A.b_c~d-e", &"x".repeat(MAX_CLIENT_ID_LEN)] {
            assert!(ClientId::try_from(ok).is_ok(), "{ok}");
        }
        let too_long = "x".repeat(MAX_CLIENT_ID_LEN + 1);
        for bad in ["", "a b", "a/b", "a%20", "é", "a:b", "<script>", &too_long] {
            assert_eq!(
                ClientId::try_from(bad),
                Err(ClientError::InvalidClientId),
                "{bad}"
            );
        }
    }

    #[test]
    fn client_id_deserialisation_applies_the_rule() {
        assert!(serde_json::from_str::<ClientId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<ClientId>("\"not ok\"").is_err());
    }

    #[test]
    fn enum_names_are_the_rfc_metadata_values() {
        for m in [
            TokenEndpointAuthMethod::PrivateKeyJwt,
            TokenEndpointAuthMethod::TlsClientAuth,
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
        ] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(TokenEndpointAuthMethod::parse(m.as_str()), Some(m));
        }
        for g in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::Ciba,
        ] {
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{}\"", g.as_str()));
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(TokenEndpointAuthMethod::parse("none"), None);
    }

    #[test]
    fn registration_scope_may_be_a_list_or_a_spaced_string() {
        let spaced: ClientRegistration =
            serde_json::from_str(r#"{"client_id":"c","client_name":"C","scope":"openid a:b"}"#)
                .unwrap();
        assert_eq!(spaced.scope, ["openid", "a:b"]);
        let list: ClientRegistration =
            serde_json::from_str(r#"{"client_id":"c","client_name":"C","scope":["openid"]}"#)
                .unwrap();
        assert_eq!(list.scope, ["openid"]);
        assert_eq!(list.grant_types, ["authorization_code"]);
        assert_eq!(list.token_endpoint_auth_method, "private_key_jwt");
        assert!(list.dpop_bound_access_tokens);
    }

    #[test]
    fn registration_refuses_unknown_fields() {
        let r = serde_json::from_str::<ClientRegistration>(
            r#"{"client_id":"c","client_name":"C","client_secret":"s"}"#,
        );
        assert!(r.is_err());
    }
}
