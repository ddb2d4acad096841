//! The audit log's files outside the database (for the server and its `shonin audit` commands).
//!
//! - The anchor: the latest signed checkpoint, written to `audit.anchor_file` after every
//!   checkpoint, read back by `shonin audit verify --anchor`. Someone who can write the database
//!   can cut the log short and leave a shorter log that holds; the anchor, kept where they cannot
//!   write, still names how far the log reached.
//! - Archived segments (`shonin audit archive`): a closed stretch of the log as a self-verifying
//!   file (`shonin_audit::archive`), after which the database may drop it.

use crate::{AuditError, AuditStore, Checkpoint, CheckpointHook};
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

/// Writes `cp` as JSON to `path`, replacing it atomically (see [`StagedFile`]).
pub fn write_atomically(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let mut staged = StagedFile::create(path)?;
    serde_json::to_writer(staged.file(), cp)?;
    staged.file().write_all(b"\n")?;
    staged.commit()
}

/// A file written beside its destination, readable by its owner only (0600), that takes the
/// destination's place on [`StagedFile::commit`]: synced, renamed over it, and the directory
/// synced, so a reader sees the old file or the whole new one, also after a crash. Dropped
/// without a commit, it is removed.
struct StagedFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: std::fs::File,
    committed: bool,
}

impl StagedFile {
    fn create(dest: &Path) -> std::io::Result<Self> {
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| std::io::Error::other("no randomness"))?;
        let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dest.with_file_name(format!(".{name}.tmp-{suffix}"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp)?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file,
            committed: false,
        })
    }

    fn file(&mut self) -> &mut std::fs::File {
        &mut self.file
    }

    fn commit(mut self) -> std::io::Result<()> {
        self.file.sync_all()?;
        std::fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        // The rename itself is durable once the directory is synced.
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `shonin audit archive`: writes the stretch after the base through `through` (default: the
/// latest checkpoint) to `output` (atomically, 0600, never over an existing file), reads it back
/// and verifies it, and with `prune` then deletes it from the database. Returns a summary line.
pub async fn archive<S: AuditStore>(
    store: &S,
    jwks: &serde_json::Value,
    through: Option<u64>,
    output: &Path,
    prune: bool,
) -> Result<String, AuditError> {
    if output.exists() {
        return Err(AuditError::Archive(format!(
            "{} exists: a segment is never overwritten",
            output.display()
        )));
    }
    let through = match through {
        Some(seq) => seq,
        None => {
            store
                .latest_checkpoint()
                .await?
                .ok_or_else(|| AuditError::Archive("no checkpoint yet: nothing to archive".into()))?
                .seq
        }
    };
    let mut staged = StagedFile::create(output).map_err(|e| {
        AuditError::Archive(format!("creating a file beside {}: {e}", output.display()))
    })?;
    let mut out = std::io::BufWriter::new(staged.file());
    crate::archive::write_segment(store, through, &mut out).await?;
    out.flush()?;
    drop(out);
    staged.commit()?;
    // What is on disk, not what was meant to be written, decides whether pruning is safe.
    let reader = std::io::BufReader::new(std::fs::File::open(output)?);
    let segment = crate::archive::verify_segment(reader, jwks).map_err(|e| {
        AuditError::Archive(format!(
            "{} does not verify; nothing was pruned: {e}",
            output.display()
        ))
    })?;
    let mut summary = format!(
        "archived entries {}–{} ({} checkpoints) to {}",
        segment.first_seq,
        segment.last_seq,
        segment.checkpoints,
        output.display()
    );
    if prune {
        let deleted = store
            .prune_through(segment.last_seq, segment.last_hash)
            .await?;
        summary.push_str(&format!(
            "; pruned {deleted} entries, the database now begins after {}",
            segment.last_seq
        ));
    }
    Ok(summary)
}

/// `audit verify --archive`: verifies each segment, that they join, and that the newest joins
/// the database's base. `Ok(intact)` with the line to print (none when there is nothing to say).
pub async fn verify_archives<S: AuditStore + ?Sized>(
    store: &S,
    files: &[PathBuf],
    jwks: &serde_json::Value,
) -> Result<(bool, Option<String>), AuditError> {
    let base = store.base().await?;
    if files.is_empty() {
        let note = (base.0 > 0).then(|| {
            format!(
                "entries through {} are archived; pass --archive FILE for each segment to check them too",
                base.0
            )
        });
        return Ok((true, note));
    }
    let mut segments = Vec::with_capacity(files.len());
    for path in files {
        let reader = std::io::BufReader::new(
            std::fs::File::open(path)
                .map_err(|e| AuditError::Archive(format!("{}: {e}", path.display())))?,
        );
        match crate::archive::verify_segment(reader, jwks) {
            Ok(s) => segments.push(s),
            Err(e) => {
                return Ok((
                    false,
                    Some(format!("archive {} BROKEN: {e}", path.display())),
                ));
            }
        }
    }
    if let Err(e) = crate::archive::check_joins(&segments, base) {
        return Ok((false, Some(format!("archives BROKEN: {e}"))));
    }
    let entries: u64 = segments.iter().map(|s| s.entries).sum();
    let first = segments.first().map_or(0, |s| s.first_seq);
    Ok((
        true,
        Some(format!(
            "archives OK: {} segments, entries {first}–{} ({entries})",
            segments.len(),
            base.0
        )),
    ))
}
