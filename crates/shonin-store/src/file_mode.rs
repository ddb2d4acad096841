//! The SQLite database and its companions hold tokens, users and the audit log: they are
//! readable by the server's user only (0600), like every other file in the data directory.
//! SQLite creates the `-wal` and `-shm` files with the database file's mode, so creating that
//! file 0600 before SQLite opens it is enough for new databases; files from older releases (or
//! copied in with a wider mode) are narrowed, with a warning.

use std::path::{Path, PathBuf};

/// The database and the files SQLite and this crate keep beside it.
fn companions(db: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [
        db.to_path_buf(),
        with("-wal"),
        with("-shm"),
        with("-claims.lock"),
    ]
}

/// Creates `db` 0600 if it does not exist; narrows it and its companions to 0600 if they do.
#[cfg(unix)]
pub fn make_private(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for path in companions(db) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "database file was readable by others; narrowing to 0600");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn make_private(_db: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_databases_are_created_private_and_old_ones_narrowed() {
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.db");
        make_private(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        let old = dir.path().join("old.db");
        let wal = dir.path().join("old.db-wal");
        for p in [&old, &wal] {
            std::fs::write(p, b"").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        make_private(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }
}
