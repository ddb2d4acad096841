//! The verifier: walks the stored chain and its checkpoints and names the first entry, in chain
//! order, that does not hold.
//!
//! What each check catches: a deleted row leaves a gap in `seq`; an edited row no longer hashes
//! to its stored `hash`; a reordered or re-linked row has a `prev_hash` that is not its
//! predecessor's hash; a deleted or inserted tail row disagrees with the stored head; a rewritten
//! chain (every hash recomputed) disagrees with the signed checkpoints; a checkpoint deleted from
//! the middle breaks the checkpoint chain (each names the one before it).
//!
//! What no check on the database alone can catch: someone with write access who deletes the
//! newest entries *and* the newest checkpoints and moves the head back. What is left is a shorter
//! log that holds. Only something kept outside the database can tell: an [`Anchor`], the latest
//! signed checkpoint as exported (`audit anchor`) or published (`audit.anchor_file`). With one,
//! the log must reach the anchor's seq with the anchor's hash, and still hold its checkpoint.

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
    /// The checkpoint at this seq names a previous checkpoint other than the one stored before
    /// it: checkpoints between them were deleted.
    #[error(
        "checkpoint chain broken: this checkpoint follows the one at seq {signed_prev}, the stored one before it is at seq {stored_prev}"
    )]
    CheckpointChainBroken { signed_prev: u64, stored_prev: u64 },
    /// A checkpoint without a link to its predecessor after chained ones (only checkpoints
    /// written before chaining existed may lack it).
    #[error("checkpoint is not chained although an earlier one is")]
    UnchainedCheckpoint,
    /// The log ends before the anchor's seq: entries (and checkpoints) after `last` were
    /// removed.
    #[error("log truncated: the anchor attests entry {anchor_seq}, the log ends at {last}")]
    Truncated { anchor_seq: u64, last: u64 },
    /// The entry at the anchor's seq has another hash than the anchor attests.
    #[error("entry differs from the anchor's signed hash")]
    AnchorMismatch,
    /// The entry at the anchor's seq holds, but the checkpoint the anchor is was deleted.
    #[error("the anchor's checkpoint is no longer stored")]
    AnchoredCheckpointMissing,
    /// The stored log begins after an archived stretch, but no signed checkpoint attests where:
    /// the base was moved without an archive (or its checkpoint deleted).
    #[error("the archived base is not attested by a signed checkpoint")]
    BaseNotCheckpointed,
}

/// The latest signed checkpoint, kept outside the database (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: Hash,
}

/// Why an anchor could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the anchor is neither a checkpoint's JSON nor a compact JWS")]
    Format,
    #[error("the anchor's signature does not verify under the keyring's keys: {0}")]
    Signature(String),
    #[error("the anchor's JSON does not match its signed claims")]
    Claims,
}

impl Anchor {
    /// Reads an anchor: a checkpoint as JSON (what `audit anchor` exports and the server writes
    /// to `audit.anchor_file`), or its bare JWS. The signature must verify under
    /// `verification_jwks`.
    pub fn parse(text: &str, verification_jwks: &serde_json::Value) -> Result<Anchor, AnchorError> {
        let text = text.trim();
        let (jws, row) = if text.starts_with('{') {
            let cp: Checkpoint = serde_json::from_str(text).map_err(|_| AnchorError::Format)?;
            (cp.jws.clone(), Some(cp))
        } else {
            (text.to_owned(), None)
        };
        let claims = verify_checkpoint_jws(&jws, verification_jwks)
            .map_err(|e| AnchorError::Signature(e.to_string()))?;
        let seq = claims
            .get("seq")
            .and_then(serde_json::Value::as_u64)
            .ok_or(AnchorError::Claims)?;
        let hash = claims
            .get("hash")
            .and_then(serde_json::Value::as_str)
            .and_then(crate::chain::from_hex)
            .ok_or(AnchorError::Claims)?;
        if row.is_some_and(|cp| cp.seq != seq || cp.hash != hash) {
            return Err(AnchorError::Claims);
        }
        Ok(Anchor { seq, hash })
    }
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
    verify_anchored(store, verification_jwks, None).await
}

/// [`verify`], and the log must reach `anchor` (see the module documentation).
pub async fn verify_anchored(
    store: &dyn AuditStore,
    verification_jwks: &serde_json::Value,
    anchor: Option<&Anchor>,
) -> Result<VerifyReport, AuditError> {
    // Order matters for a live log: a checkpoint is written after its entries, and the head
    // moves in the same transaction as the entries, so everything read here must be reached.
    // The log may begin after archived segments (`crate::archive`): at the base, attested by
    // the signed checkpoint kept there.
    let (base_seq, base_hash) = store.base().await?;
    let mut checkpoints = store.checkpoints().await?;
    checkpoints.sort_by_key(|c| c.seq);
    // Checkpoints before the base belong to the archive (a prune cut short leaves some).
    checkpoints.retain(|c| c.seq >= base_seq);
    let head_before = store.head().await?;
    let mut report = VerifyReport {
        entries: 0,
        checkpoints: 0,
        first_bad: None,
    };
    let mut base_link = (None, false);
    if base_seq > 0 {
        let attested = match checkpoints.first() {
            Some(cp) if cp.seq == base_seq => check_checkpoint(cp, &base_hash, verification_jwks),
            _ => Err(VerifyFailure::BaseNotCheckpointed),
        };
        match attested {
            Ok(link) => {
                checkpoints.remove(0);
                report.checkpoints = 1;
                base_link = (Some((base_seq, base_hash)), link.is_some());
            }
            Err(reason) => {
                report.first_bad = Some(BadEntry {
                    seq: base_seq,
                    reason,
                });
                return Ok(report);
            }
        }
    }

    let mut walk = Walk {
        jwks: verification_jwks,
        checkpoints: checkpoints.into_iter().peekable(),
        head_before,
        expected: base_seq + 1,
        prev: base_hash,
        last: base_link.0,
        last_checkpoint: base_link.0,
        chained: base_link.1,
        anchor,
        max_seen: base_seq,
        report,
    };
    let mut from = base_seq + 1;
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
    /// The last checkpoint that held, and whether any so far was chained.
    last_checkpoint: Option<(u64, Hash)>,
    chained: bool,
    anchor: Option<&'a Anchor>,
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
        let anchored = self.anchor.filter(|a| a.seq == e.seq);
        if anchored.is_some_and(|a| a.hash != e.hash) {
            return bad(e.seq, VerifyFailure::AnchorMismatch);
        }
        let mut anchor_found = false;
        while let Some(cp) = self.checkpoints.next_if(|c| c.seq == e.seq) {
            let link = match check_checkpoint(&cp, &e.hash, self.jwks) {
                Ok(link) => link,
                Err(reason) => return bad(e.seq, reason),
            };
            match link {
                Some((signed_prev, prev_hash)) => {
                    let (stored_prev, stored_hash) =
                        self.last_checkpoint.unwrap_or((0, GENESIS_HASH));
                    if (signed_prev, prev_hash) != (stored_prev, stored_hash) {
                        let reason = VerifyFailure::CheckpointChainBroken {
                            signed_prev,
                            stored_prev,
                        };
                        return bad(e.seq, reason);
                    }
                    self.chained = true;
                }
                None if self.chained => return bad(e.seq, VerifyFailure::UnchainedCheckpoint),
                None => {}
            }
            self.last_checkpoint = Some((cp.seq, cp.hash));
            anchor_found = true;
            self.report.checkpoints += 1;
        }
        if anchored.is_some() && !anchor_found {
            return bad(e.seq, VerifyFailure::AnchoredCheckpointMissing);
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
        if let Some(anchor) = self.anchor
            && last_seq < anchor.seq
        {
            found = earliest(
                found,
                Some(BadEntry {
                    seq: last_seq.saturating_add(1),
                    reason: VerifyFailure::Truncated {
                        anchor_seq: anchor.seq,
                        last: last_seq,
                    },
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

/// Checks one checkpoint against the entry hash at its seq; returns the previous checkpoint it
/// names (`prev_seq`, `prev_hash`), or `None` for one written before checkpoints were chained.
pub(crate) fn check_checkpoint(
    cp: &Checkpoint,
    entry_hash: &Hash,
    jwks: &serde_json::Value,
) -> Result<Option<(u64, Hash)>, VerifyFailure> {
    let claims = verify_checkpoint_jws(&cp.jws, jwks)
        .map_err(|e| VerifyFailure::CheckpointSignature(e.to_string()))?;
    let signed_seq = claims.get("seq").and_then(serde_json::Value::as_u64);
    let signed_hash = claims.get("hash").and_then(serde_json::Value::as_str);
    let row_hash = to_hex(&cp.hash);
    if signed_seq != Some(cp.seq) || signed_hash != Some(row_hash.as_str()) {
        return Err(VerifyFailure::CheckpointClaims);
    }
    let link = match (claims.get("prev_seq"), claims.get("prev_hash")) {
        (None, None) => None,
        (Some(seq), Some(hash)) => Some((
            seq.as_u64().ok_or(VerifyFailure::CheckpointClaims)?,
            hash.as_str()
                .and_then(crate::chain::from_hex)
                .ok_or(VerifyFailure::CheckpointClaims)?,
        )),
        _ => return Err(VerifyFailure::CheckpointClaims),
    };
    if cp.prev_seq != link.map(|(seq, _)| seq) {
        return Err(VerifyFailure::CheckpointClaims);
    }
    if cp.hash != *entry_hash {
        return Err(VerifyFailure::CheckpointMismatch);
    }
    Ok(link)
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
