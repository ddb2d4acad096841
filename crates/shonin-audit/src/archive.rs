//! Retention: a closed stretch of the log (from the database's base up to a signed checkpoint)
//! written to a self-verifying segment file, after which the database may drop it.
//!
//! A segment file is JSON Lines: a header `{"format", "first_seq", "last_seq", "prev_hash"}`,
//! then one `{"checkpoint": …}` per signed checkpoint in the stretch, the last at `last_seq`, then
//! one `{"entry": …}` per entry (the export form). A reader holds only the checkpoints. It verifies on its own: the entries chain
//! from `prev_hash`, each checkpoint is signed by the keyring and attests its entry, and the
//! checkpoints chain to each other. Consecutive segments join where one's last checkpoint is the
//! next one's first checkpoint's predecessor; the newest joins the database at its base.

use crate::chain::entry_hash;
use crate::verify::check_checkpoint;
use crate::{AuditError, AuditStore, Checkpoint, Hash, SealedEntry};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// The `format` of a segment file's header.
pub const SEGMENT_FORMAT: &str = "shonin-audit-segment-v1";

/// Entries read per store call.
const PAGE: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    format: String,
    first_seq: u64,
    last_seq: u64,
    #[serde(with = "crate::chain::hex_hash")]
    prev_hash: Hash,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Entry(SealedEntry),
    Checkpoint(Checkpoint),
}

/// What a segment holds, once written or verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub first_seq: u64,
    pub last_seq: u64,
    /// The hash before `first_seq` (the previous segment's last entry, or genesis).
    pub prev_hash: Hash,
    /// The hash of entry `last_seq`.
    pub last_hash: Hash,
    pub entries: u64,
    pub checkpoints: u64,
    /// The checkpoint the segment's first checkpoint follows (`prev_seq`, `prev_hash`).
    pub first_checkpoint_follows: (u64, Hash),
}

/// Why a segment file does not hold.
#[derive(Debug, thiserror::Error)]
#[error("segment line {line}: {reason}")]
pub struct SegmentError {
    pub line: usize,
    pub reason: String,
}

fn fail(line: usize, reason: impl Into<String>) -> SegmentError {
    SegmentError {
        line,
        reason: reason.into(),
    }
}

/// Writes the stretch after the store's base up to `through`, which must carry a checkpoint, as
/// a segment to `out`; returns its first and last seq. Reads only: check the file with
/// [`verify_segment`] once it is stored, then prune with [`AuditStore::prune_through`].
pub async fn write_segment(
    store: &dyn AuditStore,
    through: u64,
    out: &mut (impl Write + Send),
) -> Result<(u64, u64), AuditError> {
    let (base_seq, base_hash) = store.base().await?;
    if through <= base_seq {
        return Err(AuditError::Archive(format!(
            "entries through {base_seq} are already archived"
        )));
    }
    let checkpoints: Vec<Checkpoint> = store
        .checkpoints()
        .await?
        .into_iter()
        .filter(|c| c.seq > base_seq && c.seq <= through)
        .collect();
    if checkpoints.last().is_none_or(|c| c.seq != through) {
        return Err(AuditError::Archive(format!(
            "no checkpoint at seq {through}: a segment ends at a checkpoint (`audit anchor` shows the latest)"
        )));
    }
    let header = Header {
        format: SEGMENT_FORMAT.to_owned(),
        first_seq: base_seq + 1,
        last_seq: through,
        prev_hash: base_hash,
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    // Checkpoints first: the reader then knows which entries they attest while it streams the
    // entries, and holds only the checkpoints in memory, however long the segment.
    for cp in checkpoints {
        serde_json::to_writer(&mut *out, &Line::Checkpoint(cp))?;
        out.write_all(b"\n")?;
    }
    let mut from = base_seq + 1;
    while from <= through {
        let page = store.entries(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.seq.saturating_add(1);
        for entry in page.into_iter().filter(|e| e.seq <= through) {
            serde_json::to_writer(&mut *out, &Line::Entry(entry))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok((header.first_seq, through))
}

/// Reads and checks one segment file under the keyring's `verification_jwks`. Holds only the
/// checkpoints in memory; the entries are checked as they stream past.
pub fn verify_segment(
    input: impl BufRead,
    verification_jwks: &serde_json::Value,
) -> Result<Segment, SegmentError> {
    let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (n, header) = lines.next().ok_or_else(|| fail(1, "empty file"))?;
    let header: Header = serde_json::from_str(&header.map_err(|e| fail(n, e.to_string()))?)
        .map_err(|e| fail(n, format!("not a segment header: {e}")))?;
    if header.format != SEGMENT_FORMAT {
        return Err(fail(n, format!("format is not {SEGMENT_FORMAT}")));
    }
    if header.first_seq == 0 || header.first_seq > header.last_seq || header.last_seq == u64::MAX {
        return Err(fail(n, "first_seq and last_seq are not a range of entries"));
    }
    let mut expected = header.first_seq;
    let mut prev = header.prev_hash;
    // The checkpoints' seqs and hashes, until the entry each attests is read.
    let mut attested = std::collections::BTreeMap::new();
    let mut last_checkpoint: Option<(u64, Hash)> = None;
    let mut first_follows = None;
    let mut checkpoints = 0u64;
    for (n, line) in lines {
        let line = line.map_err(|e| fail(n, e.to_string()))?;
        let parsed = serde_json::from_str::<Line>(&line).map_err(|e| fail(n, e.to_string()))?;
        // Lines are exactly as `write_segment` writes them: a member the entry type does not
        // know (which serde would skip) or any other re-spelling is refused, not ignored.
        if serde_json::to_string(&parsed).ok().as_deref() != Some(line.as_str()) {
            return Err(fail(n, "not in the form a segment is written in"));
        }
        match parsed {
            Line::Checkpoint(cp) => {
                if expected != header.first_seq {
                    return Err(fail(n, "checkpoint after the entries"));
                }
                if cp.seq < header.first_seq || cp.seq > header.last_seq {
                    return Err(fail(
                        n,
                        format!("checkpoint {} is outside the segment", cp.seq),
                    ));
                }
                // Signature and claims now; the entry's hash when the entry is read.
                let link = check_checkpoint(&cp, &cp.hash, verification_jwks)
                    .map_err(|r| fail(n, format!("checkpoint {}: {r}", cp.seq)))?
                    .ok_or_else(|| fail(n, format!("checkpoint {} is not chained", cp.seq)))?;
                match last_checkpoint {
                    None => first_follows = Some(link),
                    Some(last) if last != link => {
                        return Err(fail(
                            n,
                            format!("checkpoint {} does not follow {}", cp.seq, last.0),
                        ));
                    }
                    Some(_) => {}
                }
                last_checkpoint = Some((cp.seq, cp.hash));
                attested.insert(cp.seq, cp.hash);
                checkpoints += 1;
            }
            Line::Entry(e) => {
                if e.seq != expected {
                    return Err(fail(n, format!("entry {} where {expected} was due", e.seq)));
                }
                if e.prev_hash != prev || entry_hash(e.seq, &e.prev_hash, &e.record) != e.hash {
                    return Err(fail(n, format!("entry {} does not hold", e.seq)));
                }
                if attested.remove(&e.seq).is_some_and(|h| h != e.hash) {
                    return Err(fail(
                        n,
                        format!("entry {} differs from its signed checkpoint", e.seq),
                    ));
                }
                prev = e.hash;
                expected += 1;
            }
        }
    }
    if expected != header.last_seq + 1 {
        return Err(fail(
            0,
            format!(
                "entries end at {} but the header says {}",
                expected.saturating_sub(1),
                header.last_seq
            ),
        ));
    }
    match last_checkpoint {
        Some((seq, _)) if seq == header.last_seq => {}
        _ => return Err(fail(0, "the segment does not end at a checkpoint")),
    }
    if let Some(seq) = attested.keys().next() {
        return Err(fail(0, format!("checkpoint {seq} names no entry here")));
    }
    // A segment starts at a base, and a base always carries a checkpoint (the genesis for the
    // first): the first checkpoint here follows it, so none can be dropped from the front.
    let base = (header.first_seq - 1, header.prev_hash);
    if first_follows != Some(base) {
        return Err(fail(
            0,
            format!(
                "the first checkpoint does not follow the base at {}",
                base.0
            ),
        ));
    }
    Ok(Segment {
        first_seq: header.first_seq,
        last_seq: header.last_seq,
        prev_hash: header.prev_hash,
        last_hash: prev,
        entries: header.last_seq + 1 - header.first_seq,
        checkpoints,
        first_checkpoint_follows: first_follows.unwrap_or_default(),
    })
}

/// Checks that `segments` (each already verified, oldest first) join each other, and that the
/// newest joins the database at its base `(seq, hash)`.
pub fn check_joins(segments: &[Segment], base: (u64, Hash)) -> Result<(), String> {
    for pair in segments.windows(2) {
        let [a, b] = pair else { continue };
        if b.first_seq != a.last_seq + 1 || b.prev_hash != a.last_hash {
            return Err(format!(
                "segment {}–{} does not continue segment {}–{}",
                b.first_seq, b.last_seq, a.first_seq, a.last_seq
            ));
        }
        if b.first_checkpoint_follows != (a.last_seq, a.last_hash) {
            return Err(format!(
                "segment {}–{}: its first checkpoint does not follow the last of {}–{}",
                b.first_seq, b.last_seq, a.first_seq, a.last_seq
            ));
        }
    }
    if let Some(newest) = segments.last()
        && (newest.last_seq, newest.last_hash) != base
    {
        return Err(format!(
            "the newest segment ends at {} but the database continues from {}",
            newest.last_seq, base.0
        ));
    }
    Ok(())
}
