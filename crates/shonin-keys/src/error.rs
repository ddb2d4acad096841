//! Errors of key handling.

/// Everything that can go wrong with keys. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key text is not base64 of exactly 32 bytes.
    #[error("master key is invalid: {0}")]
    MasterKey(String),
    /// The master key file is missing, unreadable, too permissive or malformed.
    #[error("master key file {path}: {reason}")]
    MasterKeyFile { path: String, reason: String },
    /// The keyring file breaks a rule of the `shonin-keyring-v1` format; `reason` names the rule.
    #[error("keyring file {path}: {reason}")]
    Keyring { path: String, reason: String },
    /// The keyring file does not exist (and the caller asked to open, not create, it).
    #[error("keyring file {path} does not exist")]
    KeyringMissing { path: String },
    /// Reading, writing, locking or renaming a file failed.
    #[error("{op} {path} failed: {reason}")]
    Io {
        op: &'static str,
        path: String,
        reason: String,
    },
    /// A sealed private key did not open: wrong master key, or the file was changed.
    #[error("keyring could not be decrypted: wrong master key or tampered file")]
    Decrypt,
    /// A private key does not match the public JWK stored beside it.
    #[error("private key of {kid} does not match its public_jwk")]
    PublicKeyMismatch { kid: String },
    /// A PKCS#8 document is not a key of the stated algorithm and size.
    #[error("private key is not a valid {alg} key: {reason}")]
    InvalidPrivateKey {
        alg: shonin_jose::Alg,
        reason: &'static str,
    },
    #[error("signing failed: {0}")]
    Sign(String),
    /// An HSM call failed or the HSM is unreachable (the message names the call, never a key).
    #[error("HSM: {0}")]
    Hsm(String),
    /// A data key could not be wrapped or unwrapped (wrong key-encryption key, or tampered).
    #[error("key wrap failed: {0}")]
    Wrap(String),
    /// No key is configured for this purpose (e.g. 3-D Secure before an HSM key is set up).
    #[error("no key is configured for {0}")]
    NoKeyForPurpose(crate::KeyPurpose),
    #[error("key generation failed: {0}")]
    Generate(String),
    /// A JWS could not be assembled (e.g. the claims are not a JSON object).
    #[error("JWS could not be built: {0}")]
    Jose(#[from] shonin_jose::JoseError),
}
