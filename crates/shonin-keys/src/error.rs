//! Errors of key handling.

/// Everything that can go wrong with keys. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key is invalid: {0}")]
    MasterKey(String),
    #[error("keyring file {path}: {reason}")]
    Keyring { path: String, reason: String },
    #[error("keyring could not be decrypted: wrong master key or tampered file")]
    Decrypt,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("key generation failed: {0}")]
    Generate(String),
}
