//! What the vault refuses or fails at. Messages never carry a card number or key material.

use shonin_types::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The card data breaks a rule; the message names the field and the rule.
    #[error("{field}: {rule}")]
    InvalidCard {
        field: &'static str,
        rule: &'static str,
    },
    /// No record with this token for this tenant (or it expired).
    #[error("no such card token")]
    NotFound,
    /// The payment nonce is unknown to this client, expired or already exchanged.
    #[error("the nonce is unknown, expired or already used")]
    InvalidNonce,
    /// The client token is missing, does not verify or has expired; the text says which.
    #[error("{0}")]
    ClientToken(&'static str),
    /// The request came from a page of another origin than the client token names.
    #[error("the client token is not for pages of this origin")]
    WrongOrigin,
    /// A record did not decrypt: its data key does not unwrap under any known KEK, or the
    /// ciphertext or its binding was changed.
    #[error("the record does not decrypt: {0}")]
    Integrity(&'static str),
    /// The record names a KEK version this keystore no longer has.
    #[error("the key-encryption key {0} is not available")]
    MissingKek(String),
    #[error(transparent)]
    Key(#[from] shonin_keys::KeyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl VaultError {
    /// The HTTP status of the answer (RFC 9110 §15): the client's mistakes are 4xx; a record
    /// that does not decrypt is the operator's problem (500); storage and keystore outages are
    /// 503.
    pub fn status(&self) -> u16 {
        match self {
            VaultError::InvalidCard { .. } | VaultError::InvalidNonce => 400,
            VaultError::ClientToken(_) => 401,
            VaultError::WrongOrigin => 403,
            VaultError::NotFound => 404,
            VaultError::Integrity(_) | VaultError::MissingKek(_) => 500,
            VaultError::Key(_) | VaultError::Storage(_) => 503,
        }
    }

    /// The `error` member of the problem document.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::InvalidCard { .. } => "invalid_card",
            VaultError::NotFound => "not_found",
            VaultError::InvalidNonce => "invalid_nonce",
            // RFC 6750 §3.1: the bearer token is expired or does not verify.
            VaultError::ClientToken(_) => "invalid_token",
            VaultError::WrongOrigin => "origin_not_allowed",
            VaultError::Integrity(_) | VaultError::MissingKek(_) => "record_unreadable",
            VaultError::Key(_) | VaultError::Storage(_) => "temporarily_unavailable",
        }
    }
}
