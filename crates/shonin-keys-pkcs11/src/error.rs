//! What can go wrong opening or using an HSM. Messages name the module, token or key at fault
//! and never carry the PIN or key material.

/// Errors of the PKCS#11 keystore.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module file could not be loaded or initialised.
    #[error("PKCS#11 module {module}: {reason}")]
    Module { module: String, reason: String },
    /// No slot holds a token with the configured label.
    #[error("PKCS#11 module {module}: no token labelled {label:?} (tokens present: {present})")]
    NoToken {
        module: String,
        label: String,
        present: String,
    },
    /// The token refused the PIN (or it is locked).
    #[error("PKCS#11 token {label:?}: the user PIN was refused ({reason})")]
    Pin { label: String, reason: String },
    /// A configured key is not on the token.
    #[error("PKCS#11 token {token:?}: no {what} labelled {label:?}")]
    MissingKey {
        token: String,
        what: &'static str,
        label: String,
    },
    /// A key on the token is not what Shonin can use (wrong curve, size or attributes).
    #[error("PKCS#11 token {token:?}: key {label:?}: {reason}")]
    UnusableKey {
        token: String,
        label: String,
        reason: String,
    },
    /// A call to the module failed.
    #[error("PKCS#11 {op} failed: {reason}")]
    Call { op: &'static str, reason: String },
    /// The worker threads are gone (the keystore is shutting down).
    #[error("PKCS#11 worker stopped")]
    WorkerStopped,
}

impl Pkcs11Error {
    pub(crate) fn call(op: &'static str, e: impl std::fmt::Display) -> Self {
        Pkcs11Error::Call {
            op,
            reason: e.to_string(),
        }
    }
}

impl From<Pkcs11Error> for shonin_keys::KeyError {
    fn from(e: Pkcs11Error) -> Self {
        shonin_keys::KeyError::Hsm(e.to_string())
    }
}
