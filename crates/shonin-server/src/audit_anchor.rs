//! The audit anchor outside the database: the latest signed checkpoint, written to
//! `audit.anchor_file` after every checkpoint, read back by `shonin audit verify --anchor`.
//! Someone who can write the database can cut the log short and leave a shorter log that holds;
//! the anchor, kept where they cannot write, still names how far the log reached.

use shonin_audit::{Checkpoint, CheckpointHook};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The hook that publishes each checkpoint to `path`. Writes run on the blocking pool (a slow
/// or hung volume never holds up the audit writer), one at a time, and never replace a newer
/// anchor with an older one. A failure is logged and counted in
/// `shonin_audit_anchor_errors_total`; the next checkpoint tries again.
pub fn publisher(path: PathBuf) -> CheckpointHook {
    let written = Arc::new(Mutex::new(0u64));
    CheckpointHook(Arc::new(move |cp: Checkpoint| {
        let (path, written) = (path.clone(), written.clone());
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || {
                let mut last = written.lock().unwrap_or_else(|p| p.into_inner());
                if cp.seq <= *last {
                    return;
                }
                match write_atomically(&path, &cp) {
                    Ok(()) => *last = cp.seq,
                    Err(e) => {
                        metrics::counter!("shonin_audit_anchor_errors_total").increment(1);
                        tracing::error!(path = %path.display(), seq = cp.seq, error = %e, "audit anchor not written");
                    }
                }
            })
            .await;
        })
    }))
}

/// Writes `cp` as JSON to a temporary file beside `path`, syncs it, and renames it over `path`.
pub fn write_atomically(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    serde_json::to_writer(&mut f, cp)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
