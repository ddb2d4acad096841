//! File handling for the keyring: bounded reads with a change stamp, atomic replacement and the
//! inter-process rotation lock. The only file I/O in this crate besides the master key file.

use crate::KeyError;
use crate::keyring_file::MAX_KEYRING_LEN;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What identifies one version of the file cheaply: length, modification time and (on unix)
/// inode, which changes on every atomic replacement even within one mtime tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

fn io_err(op: &'static str, path: &Path, e: &std::io::Error) -> KeyError {
    KeyError::Io {
        op,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// The stamp of the file at `path` now.
pub(crate) fn stamp(path: &Path) -> Result<Stamp, KeyError> {
    std::fs::metadata(path)
        .map(|m| Stamp::of(&m))
        .map_err(|e| io_err("stat", path, &e))
}

/// Reads the whole file (at most [`MAX_KEYRING_LEN`] bytes) with the stamp of what was read.
pub(crate) fn read(path: &Path) -> Result<(Vec<u8>, Stamp), KeyError> {
    let file = File::open(path).map_err(|e| io_err("open", path, &e))?;
    let meta = file.metadata().map_err(|e| io_err("stat", path, &e))?;
    let too_big = || KeyError::Keyring {
        path: path.display().to_string(),
        reason: format!("is larger than {MAX_KEYRING_LEN} bytes"),
    };
    if meta.len() > MAX_KEYRING_LEN as u64 {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_KEYRING_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err("read", path, &e))?;
    if bytes.len() > MAX_KEYRING_LEN {
        return Err(too_big());
    }
    Ok((bytes, Stamp::of(&meta)))
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory, written,
/// fsynced, renamed over the target, then the directory fsynced, so a reader sees either the old
/// or the new file and a crash leaves one of them. The file is created with mode 0600.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyring".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| io_err("create", &tmp, &e))?;
        f.write_all(bytes).map_err(|e| io_err("write", &tmp, &e))?;
        f.sync_all().map_err(|e| io_err("fsync", &tmp, &e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io_err("rename", path, &e))?;
        #[cfg(unix)]
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("fsync directory of", path, &e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Takes the exclusive lock on `<path>.lock`, blocking until other holders (other processes, or
/// other handles in this one) release it. Dropping the returned file releases the lock.
pub(crate) fn lock(path: &Path) -> Result<File, KeyError> {
    let mut lock_path = OsString::from(path.as_os_str());
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(&lock_path)
        .map_err(|e| io_err("open lock file", &lock_path, &e))?;
    file.lock().map_err(|e| io_err("lock", &lock_path, &e))?;
    Ok(file)
}
