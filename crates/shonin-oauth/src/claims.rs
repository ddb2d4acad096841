//! Claims for the JWTs the authorization server issues — access tokens (RFC 9068) and ID tokens
//! (OIDC Core §2) — and the random identifiers inside them.
//!
//! The builders return a claims object; the server signs it with `shonin_keys::sign_jwt` under
//! the `typ` given here ([`ACCESS_TOKEN_TYP`], [`ID_TOKEN_TYP`]). Times are inputs, never read
//! from the clock here. Randomness comes from aws-lc-rs (`SystemRandom`, the OS CSPRNG-seeded
//! DRBG).

use serde_json::{Map, Value, json};
use shonin_jose::b64url_encode;
use shonin_types::ErrorCode;
use time::{Duration, OffsetDateTime};

/// JWS `typ` of access tokens (RFC 9068 §2.1; RFC 8725 §3.11 explicit typing).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// JWS `typ` of ID tokens. OIDC Core defines none; `JWT` (RFC 7519 §5.1) is what relying-party
/// libraries accept, and it differs from `at+jwt`, so neither token passes for the other.
pub const ID_TOKEN_TYP: &str = "JWT";
/// Default access token lifetime: five minutes (FAPI 2.0 security considerations: short-lived
/// access tokens, paired with refresh tokens).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::seconds(300);
/// Default ID token lifetime. The ID token is consumed once, right after the token response.
pub const DEFAULT_ID_TOKEN_LIFETIME: Duration = Duration::seconds(300);
/// The fewest random bytes in a token or identifier: 256 bits, above the 128 bits FAPI 2.0
/// §5.4 asks for codes, access tokens and refresh tokens.
pub const MIN_TOKEN_BYTES: usize = 32;
/// Nonces up to this length must be accepted (FAPI 2.0 Security Profile §5.3.2.2 item 11).
pub const NONCE_SUPPORTED_LEN: usize = 64;
/// Longest nonce accepted, in characters. FAPI 2.0 allows refusing anything over 64; 255 keeps
/// room for clients that send a hash or a JWT-ish value while bounding what we store and echo.
pub const MAX_NONCE_LEN: usize = 255;
/// OIDC Core §2: `sub` "MUST NOT exceed 255 ASCII characters".
pub const MAX_SUBJECT_LEN: usize = 255;

/// A claims set could not be built, or no randomness was available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// RFC 9068 §2.2 / OIDC Core §2: `aud` is required.
    #[error("the token has no audience")]
    EmptyAudience,
    /// `exp` must lie after `iat`.
    #[error("the token lifetime must be positive")]
    NonPositiveLifetime,
    /// OIDC Core §2: `sub` is 1–255 ASCII characters, no controls.
    #[error("the subject is empty, longer than 255 characters, non-ASCII or has controls")]
    InvalidSubject,
    /// The `nonce` is empty.
    #[error("nonce is empty")]
    EmptyNonce,
    /// The `nonce` is longer than [`MAX_NONCE_LEN`] characters.
    #[error("nonce is longer than {MAX_NONCE_LEN} characters")]
    NonceTooLong,
    /// The `nonce` contains a control character.
    #[error("nonce contains a control character")]
    NonceControlCharacter,
    /// RFC 9396 §9.1: `authorization_details` in a token is a JSON array.
    #[error("authorization_details must be a JSON array")]
    AuthorizationDetailsNotArray,
    /// The system random number generator failed.
    #[error("the random number generator failed")]
    Rng,
}

impl ClaimsError {
    /// The OAuth error code this failure produces. Nonce problems come from the client's
    /// authorization request (OIDC Core §3.1.2.6); the rest are the server's own bugs.
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            ClaimsError::EmptyNonce
            | ClaimsError::NonceTooLong
            | ClaimsError::NonceControlCharacter => ErrorCode::InvalidRequest,
            ClaimsError::EmptyAudience
            | ClaimsError::NonPositiveLifetime
            | ClaimsError::InvalidSubject
            | ClaimsError::AuthorizationDetailsNotArray
            | ClaimsError::Rng => ErrorCode::ServerError,
        }
    }
}

/// The facts an access token states (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessTokenInput {
    pub issuer: String,
    pub client_id: String,
    /// The user; `None` for `client_credentials`, where `sub` becomes the client id (RFC 9068
    /// §2.2: "the value of sub SHOULD correspond to an identifier the AS uses to indicate the
    /// client application").
    pub subject: Option<String>,
    /// The resource(s) the token is for; one value is written as a string, several as an array.
    pub audience: Vec<String>,
    /// Space-separated granted scopes; omitted when empty (RFC 9068 §2.2.3).
    pub scope: String,
    /// The granted `authorization_details` array (RFC 9396 §9.1).
    pub authorization_details: Option<Value>,
    /// `cnf.jkt`: the DPoP key's JWK SHA-256 thumbprint (RFC 9449 §6.1).
    pub jkt: Option<String>,
    /// `cnf.x5t#S256`: the client certificate's SHA-256 thumbprint (RFC 8705 §3.1).
    pub x5t: Option<String>,
    pub issued_at: OffsetDateTime,
    pub lifetime: Duration,
    /// From [`new_jti`]; also the key under which the token is recorded for introspection.
    pub jti: String,
}

impl AccessTokenInput {
    /// An input with the default lifetime and no user, details or binding; set the rest by field.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        audience: Vec<String>,
        scope: impl Into<String>,
        issued_at: OffsetDateTime,
        jti: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            subject: None,
            audience,
            scope: scope.into(),
            authorization_details: None,
            jkt: None,
            x5t: None,
            issued_at,
            lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            jti: jti.into(),
        }
    }
}

/// The claims of a JWT access token (RFC 9068 §2.2): `iss`, `exp`, `aud`, `sub`, `client_id`,
/// `iat`, `jti`, and when present `scope`, `authorization_details` and `cnf`. Sign with
/// `typ: at+jwt`.
pub fn access_token_claims(input: &AccessTokenInput) -> Result<Value, ClaimsError> {
    let exp = expiry(input.issued_at, input.lifetime)?;
    let aud = audience(&input.audience)?;
    let sub = input.subject.as_deref().unwrap_or(&input.client_id);
    check_subject(sub)?;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("exp".into(), json!(exp));
    claims.insert("aud".into(), aud);
    claims.insert("sub".into(), json!(sub));
    claims.insert("client_id".into(), json!(input.client_id));
    claims.insert("iat".into(), json!(input.issued_at.unix_timestamp()));
    claims.insert("jti".into(), json!(input.jti));
    if !input.scope.is_empty() {
        claims.insert("scope".into(), json!(input.scope));
    }
    if let Some(details) = &input.authorization_details {
        if !details.is_array() {
            return Err(ClaimsError::AuthorizationDetailsNotArray);
        }
        claims.insert("authorization_details".into(), details.clone());
    }
    let mut cnf = Map::new();
    if let Some(jkt) = &input.jkt {
        cnf.insert("jkt".into(), json!(jkt));
    }
    if let Some(x5t) = &input.x5t {
        cnf.insert("x5t#S256".into(), json!(x5t));
    }
    if !cnf.is_empty() {
        claims.insert("cnf".into(), Value::Object(cnf));
    }
    Ok(Value::Object(claims))
}

/// The facts an ID token states (OIDC Core §2).
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenInput {
    pub issuer: String,
    pub subject: String,
    /// The relying party; the only audience.
    pub client_id: String,
    /// The `nonce` of the authorization request, if it had one (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
    /// When the user last authenticated.
    pub auth_time: OffsetDateTime,
    /// The Authentication Context Class Reference satisfied, if any.
    pub acr: Option<String>,
    /// Authentication Methods References (RFC 8176: `pwd`, `hwk`, `user`, …); omitted if empty.
    pub amr: Vec<String>,
    pub issued_at: OffsetDateTime,
    pub lifetime: Duration,
}

/// The claims of an ID token (OIDC Core §2): `iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`, and
/// when present `nonce`, `acr`, `amr`. Sign with `typ: JWT` using the keyring's key.
pub fn id_token_claims(input: &IdTokenInput) -> Result<Value, ClaimsError> {
    let exp = expiry(input.issued_at, input.lifetime)?;
    check_subject(&input.subject)?;
    if input.client_id.is_empty() {
        return Err(ClaimsError::EmptyAudience);
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.subject));
    claims.insert("aud".into(), json!(input.client_id));
    claims.insert("exp".into(), json!(exp));
    claims.insert("iat".into(), json!(input.issued_at.unix_timestamp()));
    claims.insert("auth_time".into(), json!(input.auth_time.unix_timestamp()));
    if let Some(nonce) = &input.nonce {
        check_nonce(nonce)?;
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(acr) = &input.acr {
        claims.insert("acr".into(), json!(acr));
    }
    if !input.amr.is_empty() {
        claims.insert("amr".into(), json!(input.amr));
    }
    Ok(Value::Object(claims))
}

/// Checks an OIDC `nonce` as received in an authorization request, so the PAR endpoint can refuse
/// it before anything is stored: 1 to [`MAX_NONCE_LEN`] characters (which includes every value
/// up to the [`NONCE_SUPPORTED_LEN`] FAPI 2.0 requires), no control characters. Any other
/// character is accepted: the nonce is opaque and is only echoed inside a signed JWT.
pub fn check_nonce(nonce: &str) -> Result<(), ClaimsError> {
    if nonce.is_empty() {
        return Err(ClaimsError::EmptyNonce);
    }
    if nonce.chars().count() > MAX_NONCE_LEN {
        return Err(ClaimsError::NonceTooLong);
    }
    if nonce.chars().any(char::is_control) {
        return Err(ClaimsError::NonceControlCharacter);
    }
    Ok(())
}

/// `bytes` random bytes (at least [`MIN_TOKEN_BYTES`]; fewer are raised to it) as base64url
/// without padding: authorization codes, refresh tokens, request URIs.
pub fn random_token(bytes: usize) -> Result<String, ClaimsError> {
    let mut buf = vec![0u8; bytes.max(MIN_TOKEN_BYTES)];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| ClaimsError::Rng)?;
    Ok(b64url_encode(&buf))
}

/// A fresh JWT ID (RFC 7519 §4.1.7): 256 random bits, base64url.
pub fn new_jti() -> Result<String, ClaimsError> {
    random_token(MIN_TOKEN_BYTES)
}

/// A grant id (the tokens of one authorization share it, RFC 6749 §10.5): the grant's time in
/// milliseconds as 12 lowercase hex digits, then 192 random bits as base64url. Ids made later
/// sort later, so a new grant's token records go to the end of the `grant_id` index instead of
/// dirtying a random page of it on every issue (docs/ARCHITECTURE.md#storage).
pub fn new_grant_id(now: OffsetDateTime) -> Result<String, ClaimsError> {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut buf = [0u8; 24];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| ClaimsError::Rng)?;
    Ok(format!(
        "{:012x}{}",
        millis & 0xffff_ffff_ffff,
        b64url_encode(&buf)
    ))
}

fn expiry(issued_at: OffsetDateTime, lifetime: Duration) -> Result<i64, ClaimsError> {
    if !lifetime.is_positive() {
        return Err(ClaimsError::NonPositiveLifetime);
    }
    Ok(issued_at.unix_timestamp() + lifetime.whole_seconds().max(1))
}

fn audience(aud: &[String]) -> Result<Value, ClaimsError> {
    match aud {
        [] => Err(ClaimsError::EmptyAudience),
        [one] if !one.is_empty() => Ok(json!(one)),
        many if many.iter().all(|a| !a.is_empty()) => Ok(json!(many)),
        _ => Err(ClaimsError::EmptyAudience),
    }
}

fn check_subject(sub: &str) -> Result<(), ClaimsError> {
    let ok = (1..=MAX_SUBJECT_LEN).contains(&sub.len())
        && sub.bytes().all(|b| b.is_ascii() && !b.is_ascii_control());
    if ok {
        Ok(())
    } else {
        Err(ClaimsError::InvalidSubject)
    }
}
