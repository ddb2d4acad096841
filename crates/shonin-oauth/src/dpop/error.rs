//! Why a DPoP proof was refused: one variant per check of RFC 9449 §4.3.

use shonin_jose::JoseError;
use shonin_types::ErrorCode;
use shonin_types::StorageError;

/// Why a server-provided nonce was not accepted (RFC 9449 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRejection {
    /// The server requires a nonce and the proof carries none.
    Missing,
    /// The nonce was not issued under this server's key (forged, from another server, garbled).
    Invalid,
    /// The nonce was issued by this server but its window has passed.
    Expired,
}

/// A DPoP proof that failed verification. Every variant except [`DpopError::UseNonce`] and
/// [`DpopError::Storage`] yields `invalid_dpop_proof` (RFC 9449 §5, §7.1).
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// The proof is longer than the configured maximum.
    #[error("DPoP proof is longer than {max} bytes")]
    TooLarge { max: usize },
    /// §4.3 (2): not a single well-formed JWS compact serialisation.
    #[error("DPoP proof is not a well-formed JWT")]
    Malformed(#[source] JoseError),
    /// §4.3 (4): `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ is not dpop+jwt")]
    WrongTyp,
    /// §4.3 (5): `alg` is `none`, symmetric, or not in this server's policy.
    #[error("DPoP proof alg is not allowed")]
    AlgNotAllowed,
    /// §4.2: the `jwk` header is absent.
    #[error("DPoP proof has no jwk header")]
    MissingJwk,
    /// §4.3 (7): the `jwk` header contains private key members.
    #[error("DPoP proof jwk contains a private key")]
    PrivateKeyInJwk,
    /// The `jwk` header is not a usable public key for `alg` (wrong kty/crv, short RSA, garbled).
    #[error("DPoP proof jwk is not a valid public key for its alg")]
    InvalidJwk(#[source] JoseError),
    /// §4.3 (6): the signature does not verify under the `jwk` header.
    #[error("DPoP proof signature does not verify")]
    BadSignature,
    /// §4.3 (3): a required claim (`jti`, `htm`, `htu`, `iat`) is absent.
    #[error("DPoP proof claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type, is empty or is too long.
    #[error("DPoP proof claim {0:?} is invalid")]
    InvalidClaim(&'static str),
    /// §4.3 (8): `htm` differs from the request method.
    #[error("DPoP proof htm does not match the request method")]
    HtmMismatch,
    /// §4.3 (9): `htu` differs from the request URI (query and fragment ignored).
    #[error("DPoP proof htu does not match the request URI")]
    HtuMismatch,
    /// A URI given as `htu` (or as the request URI) is not an absolute http(s) URI.
    #[error("not an absolute http(s) URI without userinfo")]
    InvalidHtu,
    /// §4.3 (11), §11.1: `iat` is further in the future than the allowed clock skew.
    #[error("DPoP proof iat is in the future")]
    IatInFuture,
    /// §4.3 (11), §11.1: `iat` is older than the acceptance window.
    #[error("DPoP proof iat is too old")]
    IatTooOld,
    /// The proof carries an `exp` that has passed (RFC 7519 §4.1.4).
    #[error("DPoP proof has expired")]
    Expired,
    /// §4.3 (10), §8: a nonce is required and is missing, forged or expired. The caller answers
    /// with `use_dpop_nonce` and a fresh `DPoP-Nonce` header.
    #[error("DPoP proof nonce is {0:?}; a fresh nonce is required")]
    UseNonce(NonceRejection),
    /// §4.3 (12), §7: an access token is presented and the proof has no `ath`.
    #[error("DPoP proof has no ath although an access token is presented")]
    MissingAth,
    /// §4.3 (12): `ath` is not the hash of the presented access token.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    /// §4.3 (12), §10, §10.1: the proof key is not the key the token or code is bound to.
    #[error("DPoP proof key does not match the bound key")]
    KeyMismatch,
    /// §11.1: this proof's `jti` has been seen before within its acceptance window.
    #[error("DPoP proof has been used before")]
    Replayed,
    /// The replay store could not be consulted; the request must fail closed.
    #[error("replay store unavailable")]
    Storage(#[from] StorageError),
}

impl DpopError {
    /// The OAuth error code this failure produces.
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            DpopError::UseNonce(_) => ErrorCode::UseDpopNonce,
            DpopError::Storage(e) => e.oauth_error(),
            _ => ErrorCode::InvalidDpopProof,
        }
    }

    /// Maps a failure of `decode_header`.
    pub(crate) fn from_header(e: JoseError) -> Self {
        match e {
            JoseError::AlgNotAllowed(_)
            | JoseError::MissingHeader("alg")
            | JoseError::InvalidHeader("alg") => DpopError::AlgNotAllowed,
            JoseError::InvalidHeader("typ") => DpopError::WrongTyp,
            JoseError::InvalidHeader("jwk") => DpopError::InvalidJwk(e),
            other => DpopError::Malformed(other),
        }
    }

    /// Maps a failure of validating the `jwk` header as a public key for `alg`.
    pub(crate) fn from_jwk(e: JoseError) -> Self {
        match e {
            JoseError::PrivateJwk => DpopError::PrivateKeyInJwk,
            other => DpopError::InvalidJwk(other),
        }
    }

    /// Maps a failure of signature and time verification.
    pub(crate) fn from_verify(e: JoseError) -> Self {
        match e {
            JoseError::BadSignature => DpopError::BadSignature,
            JoseError::TypMismatch { .. } => DpopError::WrongTyp,
            JoseError::IssuedInFuture => DpopError::IatInFuture,
            JoseError::Expired => DpopError::Expired,
            JoseError::NotYetValid => DpopError::InvalidClaim("nbf"),
            JoseError::InvalidClaim(name) => DpopError::InvalidClaim(name),
            JoseError::PrivateJwk => DpopError::PrivateKeyInJwk,
            e @ (JoseError::UnknownKey
            | JoseError::KeyAlgMismatch(_)
            | JoseError::KeyTooSmall
            | JoseError::InvalidJwk(_)
            | JoseError::UnsupportedKty) => DpopError::InvalidJwk(e),
            other => DpopError::from_header(other),
        }
    }
}
