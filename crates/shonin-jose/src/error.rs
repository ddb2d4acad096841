//! The one error type of this crate: one variant per check a token or key can fail.

/// Why a JWS, JWT or JWK was rejected. Messages name the rule, never key material or token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// The compact serialisation is longer than [`crate::MAX_JWS_LEN`].
    #[error("token is longer than {max} bytes")]
    TooLarge { max: usize },
    /// The compact serialisation does not have the shape `header.payload.signature`.
    #[error("malformed compact JWS: {0}")]
    Malformed(&'static str),
    /// A segment is not strict base64url without padding (RFC 7515 §2).
    #[error("{0} is not base64url without padding")]
    Base64(&'static str),
    /// A decoded segment is not valid JSON.
    #[error("{0} is not valid JSON")]
    Json(&'static str),
    /// A decoded segment names a member twice. RFC 7515 §5.2 lets a JWS be rejected for this,
    /// and we do: a verifier that kept the other duplicate would read another header or claims.
    #[error("{0} names a member twice")]
    DuplicateName(&'static str),
    /// A decoded segment is JSON nested deeper than [`crate::MAX_JSON_DEPTH`].
    #[error("{0} is nested deeper than the allowed JSON depth")]
    TooDeep(&'static str),
    /// A value that must be a JSON object is not one.
    #[error("{0} is not a JSON object")]
    NotAnObject(&'static str),
    /// A header parameter is missing.
    #[error("header parameter {0:?} is missing")]
    MissingHeader(&'static str),
    /// A header parameter has the wrong JSON type.
    #[error("header parameter {0:?} has the wrong type")]
    InvalidHeader(&'static str),
    /// The `alg` is outside the policy (FAPI 2.0 §5.4: PS256, ES256, EdDSA only).
    #[error("algorithm {0:?} is not allowed (allowed: ES256, PS256, EdDSA)")]
    AlgNotAllowed(String),
    /// The header lists `crit` extensions; this verifier understands none (RFC 7515 §4.1.11).
    #[error("header parameter \"crit\" names extensions this verifier does not understand")]
    UnsupportedCrit,
    /// The `typ` header is absent or differs from the one expected (RFC 8725 §3.11).
    #[error("typ header mismatch: expected {expected:?}")]
    TypMismatch { expected: &'static str },
    /// The JWK set is not an object with a `keys` array.
    #[error("JWK set is not an object with a \"keys\" array")]
    InvalidJwks,
    /// No key in the set has the header's `kid` (or, without `kid`, no key fits the algorithm).
    #[error("no key matches the token's kid")]
    UnknownKey,
    /// Several keys fit the header equally well, so the choice would be a guess.
    #[error("several keys match the token's kid, kty, alg and crv")]
    AmbiguousKey,
    /// The selected key cannot be used with the header's `alg`; names the JWK member at fault.
    #[error("key does not fit the algorithm: {0}")]
    KeyAlgMismatch(&'static str),
    /// An RSA key is shorter than 2048 bits (FAPI 2.0 §5.4.1).
    #[error("RSA key is shorter than 2048 bits")]
    KeyTooSmall,
    /// A JWK member is missing, of the wrong type or not a valid key encoding.
    #[error("JWK member {0:?} is missing or invalid")]
    InvalidJwk(&'static str),
    /// A JWK offered as a verification key carries private key members.
    #[error("JWK contains private key members")]
    PrivateJwk,
    /// The JWK's `kty` is not one this crate handles.
    #[error("JWK key type is not supported")]
    UnsupportedKty,
    /// The signature does not verify under the selected key.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` is at or before the current time (RFC 7519 §4.1.4).
    #[error("token has expired")]
    Expired,
    /// `nbf` is further in the future than the allowed leeway (RFC 7519 §4.1.5).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iat` is further in the future than the allowed leeway (FAPI 2.0 §5.3.2.1 clock skew).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// A required claim is absent.
    #[error("claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (e.g. a NumericDate that is not a number).
    #[error("claim {0:?} has the wrong type")]
    InvalidClaim(&'static str),
}

impl From<crate::alg::AlgNotAllowed> for JoseError {
    fn from(e: crate::alg::AlgNotAllowed) -> Self {
        JoseError::AlgNotAllowed(e.0)
    }
}
