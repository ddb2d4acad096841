//! The one error type of the audit log.

use shonin_keys::KeyError;
use shonin_types::StorageError;

/// Why an audit operation failed. A failed [`crate::AuditLog::append`] means the entry is **not**
/// in the log: the caller must not report success to its own client.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store failed; for an append, the whole batch containing the entry was rolled back.
    #[error("audit storage failed: {0}")]
    Storage(#[from] StorageError),
    /// The writer has been closed (or has stopped) and accepts no more entries.
    #[error("audit log is closed")]
    Closed,
    /// A checkpoint could not be signed.
    #[error("audit checkpoint could not be signed: {0}")]
    Sign(#[from] KeyError),
    /// The store broke the [`crate::AuditStore`] contract (e.g. returned a different number of
    /// sealed entries than it was given).
    #[error("audit store broke its contract: {0}")]
    StoreContract(&'static str),
    /// Writing an export failed.
    #[error("audit export could not be written: {0}")]
    Io(#[from] std::io::Error),
    /// An archive could not be written as asked (see [`crate::archive`]).
    #[error("audit archive: {0}")]
    Archive(String),
    /// An entry could not be encoded as JSON for export.
    #[error("audit entry could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    /// An export annotation ([`crate::Annotate`]) could not be made or used.
    #[error("audit export annotation: {0}")]
    Annotation(String),
}

/// `StorageError` is not `Clone`; every waiter of a failed batch gets its own copy.
pub(crate) fn copy_storage_error(e: &StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        StorageError::Conflict(m) => StorageError::Conflict(m.clone()),
        StorageError::Corrupt(m) => StorageError::Corrupt(m.clone()),
    }
}
