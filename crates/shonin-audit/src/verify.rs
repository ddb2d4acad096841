//! The verifier: walks the stored chain and its checkpoints and names the first entry, in chain
//! order, that does not hold.
//!
//! What each check catches: a deleted row leaves a gap in `seq`; an edited row no longer hashes
//! to its stored `hash`; a reordered or re-linked row has a `prev_hash` that is not its
//! predecessor's hash; a deleted or inserted tail row disagrees with the stored head; a rewritten
//! chain (every hash recomputed) disagrees with the signed checkpoints.

use crate::chain::{entry_hash, to_hex};
use crate::writer::CHECKPOINT_TYP;
use crate::{AuditError, AuditStore, Checkpoint, GENESIS_HASH, Hash, SealedEntry};
use std::fmt;

/// Entries read per store call.
const PAGE: u32 = 1000;

/// What the verifier found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that hold, from seq 1 up to the first bad one (all of them if none is bad).
    pub entries: u64,
    /// Checkpoints that hold, up to the first bad entry.
    pub checkpoints: u64,
    /// The first entry, in chain order, that does not hold.
    pub first_bad: Option<BadEntry>,
}

impl VerifyReport {
    /// True if the whole log holds.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// The first sequence number at which the log does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    pub seq: u64,
    pub reason: VerifyFailure,
}

impl fmt::Display for BadEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit entry {}: {}", self.seq, self.reason)
    }
}

/// Why an entry (or the checkpoint at its seq) does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// The entry is missing: the next stored entry has sequence number `next`.
    #[error("entry is missing (the next stored entry is {next})")]
    GapBefore { next: u64 },
    /// The store returned this sequence number again or out of order, after `after`.
    #[error("entry appears out of order (after entry {after})")]
    OutOfOrder { after: u64 },
    /// `prev_hash` is not the previous entry's hash (or the genesis hash for seq 1).
    #[error("prev_hash does not match the previous entry's hash")]
    PrevHashMismatch,
    /// The stored `hash` is not the hash of the entry's contents.
    #[error("stored hash does not match the entry's contents")]
    HashMismatch,
    /// The stored head (seq `head_seq`, 0 = none) disagrees with the entries: a tail row was
    /// deleted or inserted, or the head row was changed.
    #[error("stored head (seq {head_seq}) does not match the entries")]
    HeadMismatch { head_seq: u64 },
    /// The checkpoint at this seq is not a valid JWS from a verification key with the
    /// checkpoint `typ`.
    #[error("checkpoint signature is invalid: {0}")]
    CheckpointSignature(String),
    /// The checkpoint row's seq or hash differs from the claims its signature covers.
    #[error("checkpoint row differs from its signed claims")]
    CheckpointClaims,
    /// The signed checkpoint names a hash that is not this entry's hash.
    #[error("signed checkpoint hash does not match the entry")]
    CheckpointMismatch,
    /// A checkpoint names this seq but no such entry is stored.
    #[error("checkpoint names an entry that is not stored")]
    CheckpointWithoutEntry,
}

/// Verifies the whole log in `store` against the checkpoint keys in `verification_jwks`
/// (`{"keys":[...]}`, every key the keyring ever held: [`shonin_keys::KeySource::verification_jwks`]).
///
/// Safe to run while writers append: entries committed after the verifier started are checked
/// like the others, and only a head read *before* the walk must be reached.
pub async fn verify(
    store: &dyn AuditStore,
    verification_jwks: &serde_json::Value,
) -> Result<VerifyReport, AuditError> {
    // Order matters for a live log: a checkpoint is written after its entries, and the head
    // moves in the same transaction as the entries, so everything read here must be reached.
    let mut checkpoints = store.checkpoints().await?;
    checkpoints.sort_by_key(|c| c.seq);
    let head_before = store.head().await?;

    let mut walk = Walk {
        jwks: verification_jwks,
        checkpoints: checkpoints.into_iter().peekable(),
        head_before,
        expected: 1,
        prev: GENESIS_HASH,
        last: None,
        max_seen: 0,
        report: VerifyReport {
            entries: 0,
            checkpoints: 0,
            first_bad: None,
        },
    };
    let mut from = 1;
    let mut in_chain_bad = None;
    'pages: loop {
        let page = store.entries(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.seq.saturating_add(1);
        for entry in &page {
            walk.max_seen = walk.max_seen.max(entry.seq);
            if let Some(bad) = walk.entry(entry) {
                in_chain_bad = Some(bad);
                break 'pages;
            }
        }
        if from == u64::MAX {
            break;
        }
    }
    let head_after = store.head().await?;
    let bad = match in_chain_bad {
        Some(bad) => earliest(Some(bad), walk.rows_beyond_head(head_after)),
        None => walk.finish(head_after),
    };
    let mut report = walk.report;
    report.first_bad = bad;
    Ok(report)
}

/// The state of a walk along the chain.
struct Walk<'a, I: Iterator<Item = Checkpoint>> {
    jwks: &'a serde_json::Value,
    checkpoints: std::iter::Peekable<I>,
    head_before: Option<(u64, Hash)>,
    /// The seq the next entry must have.
    expected: u64,
    /// The hash the next entry's `prev_hash` must equal.
    prev: Hash,
    /// The last entry that held.
    last: Option<(u64, Hash)>,
    /// The highest seq read from the store.
    max_seen: u64,
    report: VerifyReport,
}

impl<I: Iterator<Item = Checkpoint>> Walk<'_, I> {
    /// Checks one entry and the checkpoints at its seq.
    fn entry(&mut self, e: &SealedEntry) -> Option<BadEntry> {
        let bad = |seq, reason| Some(BadEntry { seq, reason });
        // A checkpoint below this seq was not matched by any entry (only possible for seq 0 or
        // a checkpoint past a gap, and gaps stop the walk first).
        if let Some(cp) = self
            .checkpoints
            .next_if(|c| c.seq < e.seq.min(self.expected))
        {
            return bad(cp.seq, VerifyFailure::CheckpointWithoutEntry);
        }
        if e.seq > self.expected {
            return bad(self.expected, VerifyFailure::GapBefore { next: e.seq });
        }
        if e.seq < self.expected {
            let after = self.expected.saturating_sub(1);
            return bad(e.seq, VerifyFailure::OutOfOrder { after });
        }
        if e.prev_hash != self.prev {
            return bad(e.seq, VerifyFailure::PrevHashMismatch);
        }
        if entry_hash(e.seq, &e.prev_hash, &e.record) != e.hash {
            return bad(e.seq, VerifyFailure::HashMismatch);
        }
        if let Some((head_seq, head_hash)) = self.head_before
            && head_seq == e.seq
            && head_hash != e.hash
        {
            return bad(e.seq, VerifyFailure::HeadMismatch { head_seq });
        }
        while let Some(cp) = self.checkpoints.next_if(|c| c.seq == e.seq) {
            if let Some(reason) = check_checkpoint(&cp, &e.hash, self.jwks) {
                return bad(e.seq, reason);
            }
            self.report.checkpoints += 1;
        }
        self.report.entries += 1;
        self.expected = e.seq.saturating_add(1);
        self.prev = e.hash;
        self.last = Some((e.seq, e.hash));
        None
    }

    /// Rows read beyond the head as it stands after the walk were never committed by a writer
    /// (the head moves in the same transaction as the rows): an inserted tail.
    fn rows_beyond_head(&self, head_after: Option<(u64, Hash)>) -> Option<BadEntry> {
        let head_seq = head_after.map_or(0, |(seq, _)| seq);
        (self.max_seen > head_seq).then(|| BadEntry {
            seq: head_seq.saturating_add(1),
            reason: VerifyFailure::HeadMismatch { head_seq },
        })
    }

    /// The checks that need the whole chain: head before and after, checkpoints past the end.
    fn finish(&mut self, head_after: Option<(u64, Hash)>) -> Option<BadEntry> {
        let last_seq = self.last.map_or(0, |(seq, _)| seq);
        let mut found = None;
        // Entries the head counted before the walk began must all be there.
        if let Some((head_seq, _)) = self.head_before
            && last_seq < head_seq
        {
            found = earliest(
                found,
                Some(BadEntry {
                    seq: last_seq.saturating_add(1),
                    reason: VerifyFailure::HeadMismatch { head_seq },
                }),
            );
        }
        found = earliest(found, self.rows_beyond_head(head_after));
        if let (Some((head_seq, head_hash)), Some((seq, hash))) = (head_after, self.last)
            && head_seq == seq
            && head_hash != hash
        {
            found = earliest(
                found,
                Some(BadEntry {
                    seq,
                    reason: VerifyFailure::HeadMismatch { head_seq },
                }),
            );
        }
        if let Some(cp) = self.checkpoints.next() {
            found = earliest(
                found,
                Some(BadEntry {
                    seq: cp.seq,
                    reason: VerifyFailure::CheckpointWithoutEntry,
                }),
            );
        }
        found
    }
}

/// The finding with the lower seq; the first one on a tie.
fn earliest(a: Option<BadEntry>, b: Option<BadEntry>) -> Option<BadEntry> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.seq < a.seq { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Checks one checkpoint against the entry hash at its seq.
fn check_checkpoint(
    cp: &Checkpoint,
    entry_hash: &Hash,
    jwks: &serde_json::Value,
) -> Option<VerifyFailure> {
    let claims = match verify_checkpoint_jws(&cp.jws, jwks) {
        Ok(claims) => claims,
        Err(e) => return Some(VerifyFailure::CheckpointSignature(e.to_string())),
    };
    let signed_seq = claims.get("seq").and_then(serde_json::Value::as_u64);
    let signed_hash = claims.get("hash").and_then(serde_json::Value::as_str);
    let row_hash = to_hex(&cp.hash);
    if signed_seq != Some(cp.seq) || signed_hash != Some(row_hash.as_str()) {
        return Some(VerifyFailure::CheckpointClaims);
    }
    if cp.hash != *entry_hash {
        return Some(VerifyFailure::CheckpointMismatch);
    }
    None
}

/// Verifies a checkpoint JWS under the checkpoint key set and returns its claims.
///
/// A checkpoint never expires and its `iat` is informational: what it attests is `seq`/`hash`
/// under a key the keyring held. So no time check applies, and no clock is read.
fn verify_checkpoint_jws(
    jws: &str,
    jwks: &serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, shonin_jose::JoseError> {
    let opts = shonin_jose::VerifyOptions {
        expected_typ: Some(CHECKPOINT_TYP),
        now: time::OffsetDateTime::UNIX_EPOCH,
        leeway_future: time::Duration::MAX,
        require_exp: false,
    };
    shonin_jose::verify_jwt(jws, jwks, &opts)
}
