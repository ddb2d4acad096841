//! Errors in the identity configuration (Argon2 costs, lockout), found once at start-up.

/// A setting was configured outside the range the standards allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A setting is outside its allowed range; `rule` states the range.
    #[error("{setting} must be {rule}")]
    OutOfRange {
        setting: &'static str,
        rule: &'static str,
    },
}
