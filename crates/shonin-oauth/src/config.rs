//! Errors in a verifier's configuration, found once at start-up rather than per request.

/// A verifier was configured outside the range the specifications allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A setting is outside its allowed range; `rule` states the range.
    #[error("{setting} must be {rule}")]
    OutOfRange {
        setting: &'static str,
        rule: &'static str,
    },
    /// The DPoP algorithm list is empty, so no proof could ever verify.
    #[error("at least one DPoP signing algorithm must be allowed")]
    NoAlgorithms,
    /// The DPoP nonce secret is shorter than [`crate::dpop::NonceKey::MIN_SECRET_LEN`] bytes.
    #[error("the DPoP nonce secret must be at least 32 bytes")]
    NonceSecretTooShort,
}
