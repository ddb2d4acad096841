//! Why a client registration was refused: one variant per rule, each message naming the field.

use shonin_jose::JoseError;

/// A rule of [`super::validate`] that a [`super::ClientRegistration`] broke. Messages are meant
/// for the operator who wrote the registration; they quote the offending value except where it
/// may be very long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `client_id` is empty, longer than 128 characters or uses a character outside
    /// `[A-Za-z0-9._~-]`.
    #[error("client_id must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'")]
    InvalidClientId,
    /// `client_name` is empty; the consent page must name the client (FAPI 2.0 §5.3.2.2 item 10).
    #[error("client_name must not be empty")]
    ClientNameEmpty,
    /// `client_name` is longer than [`super::MAX_CLIENT_NAME_CHARS`] characters.
    #[error("client_name must be at most {max} characters")]
    ClientNameTooLong { max: usize },
    /// `client_name` contains a control, separator or bidirectional-formatting character (it is
    /// shown to users and written to logs).
    #[error("client_name must not contain control or bidirectional-formatting characters")]
    ClientNameControlCharacter,

    /// A redirect URI is longer than [`super::MAX_REDIRECT_URI_LEN`] bytes.
    #[error("redirect_uris[{index}] is longer than {max} bytes")]
    RedirectUriTooLong { index: usize, max: usize },
    /// A redirect URI is not an absolute `scheme://host…` URI (RFC 6749 §3.1.2), or has
    /// whitespace or control characters a parser would silently drop.
    #[error("redirect_uris: {uri:?} is not an absolute URI (RFC 6749 §3.1.2)")]
    RedirectUriNotAbsolute { uri: String },
    /// A redirect URI has a fragment (RFC 6749 §3.1.2).
    #[error("redirect_uris: {uri:?} must not contain a fragment (RFC 6749 §3.1.2)")]
    RedirectUriFragment { uri: String },
    /// A redirect URI contains `*`: redirect URIs are compared exactly, never as patterns
    /// (RFC 9700 §4.1.3).
    #[error("redirect_uris: {uri:?} must not contain a wildcard; URIs are matched exactly")]
    RedirectUriWildcard { uri: String },
    /// A redirect URI is neither https nor http on a loopback IP literal (FAPI 2.0 §5.3.2.2
    /// item 6). `http://localhost` is refused too (RFC 8252 §8.3: the name may not resolve to
    /// the loopback interface).
    #[error(
        "redirect_uris: {uri:?} must be https (http only for http://127.0.0.1 or http://[::1] \
         with native_loopback_redirects, RFC 8252 §7.3)"
    )]
    RedirectUriNotHttps { uri: String },
    /// An http loopback redirect URI without `native_loopback_redirects` set (RFC 8252 §7.3 is
    /// for native apps only, and the operator must say this client is one).
    #[error(
        "redirect_uris: {uri:?} is an http loopback URI, allowed only when \
         native_loopback_redirects is true"
    )]
    LoopbackRedirectNotAllowed { uri: String },
    /// `authorization_code` is allowed but no redirect URI is registered.
    #[error("redirect_uris must not be empty when grant_types includes authorization_code")]
    NoRedirectUris,

    /// Neither `jwks` nor `jwks_uri` is set; `private_key_jwt` and
    /// `self_signed_tls_client_auth` need the client's public keys.
    #[error("one of jwks or jwks_uri is required (private_key_jwt, self_signed_tls_client_auth)")]
    MissingJwks,
    /// Both `jwks` and `jwks_uri` are set (RFC 7591 §2: they MUST NOT both be present).
    #[error("jwks and jwks_uri must not both be set (RFC 7591 §2)")]
    JwksAndJwksUri,
    /// `jwks` is not an object with a `keys` array of objects.
    #[error("jwks must be an object with a \"keys\" array of JWK objects")]
    JwksNotASet,
    /// `jwks.keys` is empty.
    #[error("jwks.keys must not be empty")]
    JwksEmpty,
    /// `jwks.keys` has more than [`super::MAX_JWKS_KEYS`] keys.
    #[error("jwks.keys must hold at most {max} keys")]
    JwksTooManyKeys { max: usize },
    /// A key carries private members (`d`, `p`, `q`, …): a client must never hand over its
    /// private key.
    #[error("jwks.keys[{index}] contains private key members; register public keys only")]
    JwksPrivateKey { index: usize },
    /// A key declares an `alg` outside the policy (FAPI 2.0 §5.4.1: PS256, ES256, EdDSA; never
    /// RS256, HS*, none).
    #[error("jwks.keys[{index}] has alg {alg:?}; only PS256, ES256 and EdDSA are allowed")]
    JwksKeyAlgNotAllowed { index: usize, alg: String },
    /// A key is not a usable public key for any allowed algorithm (unknown `kty`, not P-256 or
    /// Ed25519, RSA under 2048 bits, bad encoding, `use` other than `sig`).
    #[error("jwks.keys[{index}] is not a usable PS256, ES256 or EdDSA public key: {reason}")]
    JwksKeyUnusable { index: usize, reason: JoseError },
    /// A set of several keys has a key without `kid`, so a verifier could not pick a key
    /// without guessing.
    #[error("jwks.keys[{index}] has no kid; every key needs one when several are registered")]
    JwksKidMissing { index: usize },
    /// Two keys share a `kid` (FAPI 2.0 §5.4: should not serve duplicate kids).
    #[error("jwks.keys: kid {kid:?} is used by more than one key")]
    JwksDuplicateKid { kid: String },
    /// `jwks_uri` is not an absolute URI.
    #[error("jwks_uri {uri:?} is not an absolute URI")]
    JwksUriNotAbsolute { uri: String },
    /// `jwks_uri` is not https (FAPI 2.0 §5.4: served only over TLS).
    #[error("jwks_uri {uri:?} must be https")]
    JwksUriNotHttps { uri: String },
    /// `jwks_uri` has a fragment.
    #[error("jwks_uri {uri:?} must not contain a fragment")]
    JwksUriFragment { uri: String },

    /// `token_endpoint_auth_method` is not one FAPI 2.0 allows (§5.3.2.1 item 5: only
    /// `private_key_jwt` and mTLS; no `none`, no client secrets).
    #[error(
        "token_endpoint_auth_method {method:?} is not allowed; use private_key_jwt, \
         tls_client_auth or self_signed_tls_client_auth (FAPI 2.0 §5.3.2.1)"
    )]
    UnsupportedAuthMethod { method: String },
    /// No sender constraint: FAPI 2.0 §5.3.2.1 item 4 allows only sender-constrained tokens.
    #[error(
        "dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens must be true: \
         access tokens must be sender-constrained (FAPI 2.0 §5.3.2.1)"
    )]
    SenderConstraintRequired,
    /// `tls_client_auth` without any of the RFC 8705 §2.1.2 subject values.
    #[error(
        "tls_client_auth needs one of tls_client_auth_subject_dn, tls_client_auth_san_dns, \
         tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email \
         (RFC 8705 §2.1.2)"
    )]
    TlsSubjectRequired,
    /// More than one subject value (RFC 8705 §2.1.2: exactly one).
    #[error(
        "{field}: only one tls_client_auth_* subject value may be registered (RFC 8705 §2.1.2)"
    )]
    TlsSubjectAmbiguous { field: &'static str },
    /// A subject value on a client that does not use `tls_client_auth`.
    #[error("{field} is only used with token_endpoint_auth_method tls_client_auth")]
    TlsSubjectWithoutTlsClientAuth { field: &'static str },
    /// A subject value that cannot match any certificate (not an RFC 4514 DN, not an IP
    /// address, empty, too long, control characters).
    #[error("{field}: {reason}")]
    TlsSubjectInvalid {
        field: &'static str,
        reason: &'static str,
    },
    /// A pinned or revoked certificate thumbprint that is not 43 base64url characters.
    #[error("{field}: {value:?} is not an x5t#S256 thumbprint (43 base64url characters)")]
    InvalidCertificateThumbprint { field: &'static str, value: String },

    /// `grant_types` is empty.
    #[error("grant_types must not be empty")]
    NoGrantTypes,
    /// `password` or `implicit` (FAPI 2.0 §5.3.2.1 item 2, §5.3.2.2 item 1).
    #[error("grant_types: {grant:?} is forbidden by FAPI 2.0")]
    ForbiddenGrantType { grant: String },
    /// A grant type this server does not implement.
    #[error(
        "grant_types: {grant:?} is not supported (authorization_code, refresh_token, \
         client_credentials)"
    )]
    UnsupportedGrantType { grant: String },
    /// `refresh_token` without `authorization_code`: refresh tokens are only issued by the code
    /// flow (RFC 6749 §4.4.3: not for client_credentials).
    #[error("grant_types: refresh_token requires authorization_code or the CIBA grant")]
    RefreshTokenWithoutAuthorizationCode,
    /// A CIBA registration rule (CIBA Core §4).
    #[error("{field}: {rule}")]
    Backchannel {
        field: &'static str,
        rule: &'static str,
    },

    /// A scope value is empty, too long, or has a character outside RFC 6749 §3.3's
    /// scope-token set (`%x21 / %x23-5B / %x5D-7E`: no space, `"` or `\`).
    #[error("scope: {scope:?} is not a scope-token (RFC 6749 §3.3)")]
    InvalidScope { scope: String },
    /// An `authorization_details` type is empty, too long, or not visible ASCII.
    #[error("authorization_details_types: {ty:?} must be 1-256 visible ASCII characters")]
    InvalidAuthorizationDetailsType { ty: String },
}
