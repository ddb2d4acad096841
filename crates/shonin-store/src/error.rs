//! Turning `sqlx` errors into [`StorageError`]s.
//!
//! Callers see a fixed description naming the operation and the kind of failure, never SQL text,
//! a database message or a connection string; the underlying error goes to `tracing`.

use shonin_types::StorageError;
use sqlx::error::ErrorKind;

/// Maps a failure of `op` (a short fixed name such as `"audit append"`).
pub(crate) fn from_sqlx(op: &'static str, err: sqlx::Error) -> StorageError {
    use sqlx::Error as E;
    match &err {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            tracing::warn!(op, error = %err, "database unavailable");
            StorageError::Unavailable(format!("{op}: database unreachable or busy"))
        }
        E::Database(db) => from_database(op, db.as_ref(), &err),
        E::RowNotFound
        | E::TypeNotFound { .. }
        | E::ColumnIndexOutOfBounds { .. }
        | E::ColumnNotFound(_)
        | E::ColumnDecode { .. }
        | E::Decode(_) => {
            tracing::error!(op, error = %err, "stored data does not decode");
            StorageError::Corrupt(format!("{op}: stored data does not decode"))
        }
        E::Migrate(m) => from_migrate(op, m),
        _ => {
            tracing::error!(op, error = %err, "database operation failed");
            StorageError::Unavailable(format!("{op}: database operation failed"))
        }
    }
}

fn from_database(
    op: &'static str,
    db: &dyn sqlx::error::DatabaseError,
    err: &sqlx::Error,
) -> StorageError {
    match db.kind() {
        ErrorKind::UniqueViolation => {
            tracing::debug!(op, error = %err, "unique violation");
            StorageError::Conflict(format!("{op}: already exists"))
        }
        ErrorKind::CheckViolation
        | ErrorKind::NotNullViolation
        | ErrorKind::ForeignKeyViolation => {
            tracing::warn!(op, error = %err, "rejected by a database constraint");
            StorageError::Conflict(format!("{op}: rejected by a database constraint"))
        }
        _ if is_transient(db) => {
            tracing::warn!(op, error = %err, "database busy");
            StorageError::Unavailable(format!("{op}: database busy, retry later"))
        }
        _ => {
            tracing::error!(op, error = %err, "database error");
            StorageError::Unavailable(format!("{op}: database error"))
        }
    }
}

/// Lock contention, deadlock, serialisation failure, shutdown: the same request may succeed later.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    // SQLite reports extended result codes as decimal numbers; the primary code is the low byte.
    if let Ok(extended) = code.parse::<i32>() {
        const SQLITE_BUSY: i32 = 5;
        const SQLITE_LOCKED: i32 = 6;
        return matches!(extended & 0xff, SQLITE_BUSY | SQLITE_LOCKED);
    }
    // PostgreSQL SQLSTATE: 40xxx transaction rollback (serialisation failure, deadlock),
    // 55P03 lock not available, 57014 statement timeout / cancel, 57P0x shutdown, 08xxx connection.
    code.starts_with("40")
        || code.starts_with("08")
        || code.starts_with("57P")
        || code == "55P03"
        || code == "57014"
}

pub(crate) fn from_migrate(op: &'static str, err: &sqlx::migrate::MigrateError) -> StorageError {
    use sqlx::migrate::MigrateError as M;
    match err {
        M::VersionMissing(v) => {
            tracing::error!(
                op,
                version = v,
                "database has a migration this binary does not know"
            );
            StorageError::Conflict(format!(
                "{op}: the database schema is newer than this binary (migration {v})"
            ))
        }
        M::VersionMismatch(v) => {
            tracing::error!(
                op,
                version = v,
                "applied migration differs from the embedded one"
            );
            StorageError::Corrupt(format!("{op}: applied migration {v} was modified"))
        }
        M::Dirty(v) => {
            tracing::error!(op, version = v, "a previous migration failed part-way");
            StorageError::Corrupt(format!("{op}: migration {v} is partially applied"))
        }
        M::Execute(inner) | M::ExecuteMigration(inner, _) => {
            tracing::error!(op, error = %err, "migration failed");
            match inner {
                sqlx::Error::Database(_) => {
                    StorageError::Unavailable(format!("{op}: a migration failed to apply"))
                }
                _ => StorageError::Unavailable(format!("{op}: database unreachable or busy")),
            }
        }
        _ => {
            tracing::error!(op, error = %err, "migration failed");
            StorageError::Unavailable(format!("{op}: migration failed"))
        }
    }
}

/// Shorthand for `.map_err(sqlx_err("op"))`.
pub(crate) fn sqlx_err(op: &'static str) -> impl Fn(sqlx::Error) -> StorageError {
    move |err| from_sqlx(op, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_are_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(io),
        ] {
            assert!(matches!(from_sqlx("op", err), StorageError::Unavailable(_)));
        }
    }

    #[test]
    fn decode_failures_are_corrupt() {
        let err = sqlx::Error::ColumnDecode {
            index: "\"hash\"".into(),
            source: "bad".into(),
        };
        assert!(matches!(from_sqlx("op", err), StorageError::Corrupt(_)));
        assert!(matches!(
            from_sqlx("op", sqlx::Error::RowNotFound),
            StorageError::Corrupt(_)
        ));
    }

    #[test]
    fn messages_name_the_operation_and_nothing_from_the_driver() {
        let err = sqlx::Error::Configuration("postgres://u:hunter2@h/db SELECT secret".into());
        let msg = from_sqlx("flow get", err).to_string();
        assert!(msg.contains("flow get"), "{msg}");
        assert!(!msg.contains("hunter2") && !msg.contains("SELECT"), "{msg}");
    }
}
