//! The one error every storage port returns, so domain crates stay free of SQL types.

/// A failure of the storage engine, as seen by a domain crate.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be reached or the operation timed out; retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or compare-and-set precondition failed: another writer got there first.
    #[error("storage conflict: {0}")]
    Conflict(String),
    /// Stored data could not be decoded; it was changed outside Shonin or is corrupt.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// The OAuth error code for a request that failed on this (RFC 6749 §4.1.2.1): an outage is
    /// `temporarily_unavailable` (HTTP 503, the client may retry), anything else `server_error`.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            StorageError::Unavailable(_) => "temporarily_unavailable",
            StorageError::Conflict(_) | StorageError::Corrupt(_) => "server_error",
        }
    }
}
