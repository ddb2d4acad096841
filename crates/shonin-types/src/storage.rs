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
    /// The OAuth error code for a request that failed on this: always `temporarily_unavailable`
    /// (RFC 6749 §4.1.2.1, §5.2 as extended by RFC 6749's registry; HTTP 503 with `Retry-After`).
    /// A conflict is another writer getting there first and an outage passes; even corrupt data
    /// is the operator's to repair, never the client's fault, and a 500 would tell the client
    /// nothing more. The cause goes to the server log, never to the client.
    pub fn oauth_error(&self) -> crate::error_code::ErrorCode {
        crate::error_code::ErrorCode::TemporarilyUnavailable
    }
}

#[cfg(test)]
mod tests {
    use super::StorageError;

    #[test]
    fn every_storage_failure_is_temporarily_unavailable() {
        for e in [
            StorageError::Unavailable("x".into()),
            StorageError::Conflict("x".into()),
            StorageError::Corrupt("x".into()),
        ] {
            assert_eq!(e.oauth_error(), "temporarily_unavailable", "{e}");
        }
    }
}
