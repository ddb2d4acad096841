//! Why `private_key_jwt` client authentication failed: one variant per check of RFC 7523 §3,
//! OIDC Core §9 and FAPI 2.0 §5.3.2.1.

use shonin_jose::JoseError;
use shonin_types::ErrorCode;
use shonin_types::StorageError;

/// Why client authentication by `private_key_jwt` failed. Every variant except
/// [`ClientAuthError::Storage`] yields `invalid_client` (RFC 7523 §3.2, RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// `client_assertion_type` is not [`super::JWT_BEARER_ASSERTION_TYPE`] (RFC 7523 §2.2;
    /// RFC 6749 §5.2 "unsupported authentication method").
    #[error("client_assertion_type is not jwt-bearer")]
    UnsupportedAssertionType,
    /// The assertion is not a well-formed compact JWS (RFC 7523 §3 item 10).
    #[error("client assertion is not a well-formed JWT")]
    Malformed(#[source] JoseError),
    /// `alg` is outside the FAPI 2.0 policy (§5.4.1: PS256, ES256, EdDSA; never none, HS*, RS*).
    #[error("client assertion alg is not allowed")]
    AlgNotAllowed,
    /// The client's registered JWK set is not a JWK set.
    #[error("the client's registered jwks is invalid")]
    InvalidJwks,
    /// No registered key has the assertion's `kid` (or, without a `kid`, fits its `alg`).
    #[error("no registered key matches the client assertion")]
    UnknownKey,
    /// Several registered keys match, so the verifier would have to guess (FAPI 2.0 §5.4).
    #[error("several registered keys match the client assertion")]
    AmbiguousKey,
    /// The matching registered key cannot verify this `alg` (kty/crv/use, RSA < 2048 bits).
    #[error("the registered key does not fit the client assertion")]
    InvalidKey(#[source] JoseError),
    /// The signature does not verify (RFC 7523 §3 item 9).
    #[error("client assertion signature does not verify")]
    BadSignature,
    /// A required claim (`iss`, `sub`, `aud`, `exp`, `jti`) is absent (RFC 7523 §3, OIDC Core §9).
    #[error("client assertion claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type, is empty or is too long.
    #[error("client assertion claim {0:?} is invalid")]
    InvalidClaim(&'static str),
    /// `iss` differs from `sub`; both must be the client_id (RFC 7523 §3 items 1–2, OIDC Core §9).
    #[error("client assertion iss and sub differ")]
    IssuerSubjectMismatch,
    /// `iss`/`sub` is not the client whose keys were supplied, or the `client_id` parameter names
    /// another client (RFC 7521 §4.2).
    #[error("client assertion is for another client")]
    ClientIdMismatch,
    /// `aud` is a string other than the issuer identifier (RFC 7523 §3 item 3; FAPI 2.0 Security
    /// Profile Final §5.3.2.1 item 8: endpoint URLs are refused too).
    #[error(
        "client assertion aud must be the issuer identifier as a string (FAPI 2.0 §5.3.2.1 item 8)"
    )]
    WrongAudience,
    /// `aud` is an array, even one holding the issuer (FAPI 2.0 Security Profile Final §5.3.2.1
    /// item 8: the issuer "as a string").
    #[error(
        "client assertion aud is an array; it must be the issuer identifier as a string (FAPI 2.0 §5.3.2.1 item 8)"
    )]
    AudienceNotAString,
    /// `exp` has passed (RFC 7523 §3 item 4).
    #[error("client assertion has expired")]
    Expired,
    /// `iat` is further in the future than the allowed skew (FAPI 2.0 §5.3.2.1 item 11).
    #[error("client assertion iat is in the future")]
    IssuedInFuture,
    /// `nbf` is further in the future than the allowed skew (RFC 7523 §3 item 5).
    #[error("client assertion is not yet valid")]
    NotYetValid,
    /// `exp` lies further after `iat` (or now) than the maximum lifetime.
    #[error("client assertion lifetime is too long")]
    LifetimeTooLong,
    /// This client has used this `jti` before (RFC 7523 §3 item 7).
    #[error("client assertion has been used before")]
    Replayed,
    /// The replay store could not be consulted; authentication fails closed.
    #[error("replay store unavailable")]
    Storage(#[from] StorageError),
}

impl ClientAuthError {
    /// The OAuth error code this failure produces.
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            ClientAuthError::Storage(e) => e.oauth_error(),
            _ => ErrorCode::InvalidClient,
        }
    }

    pub(super) fn from_jose(e: JoseError) -> Self {
        match e {
            JoseError::AlgNotAllowed(_)
            | JoseError::MissingHeader("alg")
            | JoseError::InvalidHeader("alg") => ClientAuthError::AlgNotAllowed,
            JoseError::InvalidJwks => ClientAuthError::InvalidJwks,
            JoseError::UnknownKey => ClientAuthError::UnknownKey,
            JoseError::AmbiguousKey => ClientAuthError::AmbiguousKey,
            e @ (JoseError::KeyAlgMismatch(_)
            | JoseError::KeyTooSmall
            | JoseError::InvalidJwk(_)
            | JoseError::PrivateJwk
            | JoseError::UnsupportedKty) => ClientAuthError::InvalidKey(e),
            JoseError::BadSignature => ClientAuthError::BadSignature,
            JoseError::Expired => ClientAuthError::Expired,
            JoseError::NotYetValid => ClientAuthError::NotYetValid,
            JoseError::IssuedInFuture => ClientAuthError::IssuedInFuture,
            JoseError::MissingClaim(name) => ClientAuthError::MissingClaim(name),
            JoseError::InvalidClaim(name) => ClientAuthError::InvalidClaim(name),
            other => ClientAuthError::Malformed(other),
        }
    }
}
