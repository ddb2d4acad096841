//! Receipts in the audit export (`shonin audit export`). An approval's success entry
//! (`txn.approve`, or `oauth.consent` for a payment signed on the consent page; target the
//! transaction id) names its receipt by digest in its `reason`
//! (`receipt sha256=<hex>`, `shonin_txn::receipt::audit_reason`), and that entry is
//! hash-chained. The export adds the receipt itself, read from `txn_receipts`, to the entry's
//! line as the member `receipt`. That member is outside the hashed entry: a reader checks its
//! SHA-256 against the digest inside, then the receipt with `shonin txn verify`
//! (docs/operations.md, "Receipts in the audit export").
//!
//! The receipt is exported as stored, like the entries: one whose digest is not the one its
//! entry names is still written (that is the evidence of a changed row), and counted.

use crate::receipt::{self, ReceiptStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use shonin_audit::{Annotate, Annotations, AuditError, AuditStore, Outcome, SealedEntry};
use std::io::Write;
use std::sync::Mutex;

/// The audit actions whose success entries name a receipt: the API's and the approval page's
/// approval, and a payment consent (the server's `routes/oauth/payment.rs`).
const APPROVE_ACTIONS: [&str; 2] = ["txn.approve", "oauth.consent"];

/// The export member that holds the receipt (the compact JWS).
pub const RECEIPT_MEMBER: &str = "receipt";

/// What the export found for the approval entries it wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptTally {
    /// Receipts written whose digest is the one their entry names.
    pub matching: u64,
    /// Receipts written whose digest is NOT the one their entry names: the stored row was
    /// changed or replaced after the approval.
    pub mismatched: u64,
    /// Approval entries naming a receipt that `txn_receipts` does not hold.
    pub missing: u64,
}

/// The annotator: the receipt for each approval entry that names one.
#[derive(Debug)]
pub struct Receipts<'a> {
    store: &'a dyn ReceiptStore,
    tally: Mutex<ReceiptTally>,
}

impl<'a> Receipts<'a> {
    pub fn new(store: &'a dyn ReceiptStore) -> Self {
        Self {
            store,
            tally: Mutex::new(ReceiptTally::default()),
        }
    }

    /// What was found so far.
    pub fn tally(&self) -> ReceiptTally {
        *self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The digest `entry` names, if it is an approval's success entry that names one (entries
/// written before receipts were named have no digest and get no receipt).
fn named_digest(entry: &SealedEntry) -> Option<&str> {
    let r = &entry.record;
    if !APPROVE_ACTIONS.contains(&r.action.as_str()) || r.outcome != Outcome::Success {
        return None;
    }
    receipt::digest_in_reason(r.reason.as_deref()?)
}

#[async_trait]
impl Annotate for Receipts<'_> {
    async fn annotate(&self, page: &[SealedEntry]) -> Result<Annotations, AuditError> {
        let mut notes = Annotations::new();
        let mut found = ReceiptTally::default();
        for entry in page {
            let Some(digest) = named_digest(entry) else {
                continue;
            };
            let Some(kept) = self.store.get_receipt(&entry.record.target).await? else {
                found.missing += 1;
                continue;
            };
            if receipt::digest_hex(&kept.receipt) == digest {
                found.matching += 1;
            } else {
                found.mismatched += 1;
            }
            let mut member = Map::new();
            member.insert(RECEIPT_MEMBER.into(), Value::String(kept.receipt));
            notes.insert(entry.seq, member);
        }
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        tally.matching += found.matching;
        tally.mismatched += found.mismatched;
        tally.missing += found.missing;
        Ok(notes)
    }
}

/// `shonin audit export`: the entries from `from_seq` as JSON Lines, each approval entry's line
/// with its receipt. Returns the lines written and what was found.
pub async fn export<S: AuditStore + ReceiptStore>(
    store: &S,
    from_seq: u64,
    out: &mut (impl Write + Send),
) -> Result<(u64, ReceiptTally), AuditError> {
    let receipts = Receipts::new(store);
    let lines = shonin_audit::export_annotated(store, from_seq, out, &receipts).await?;
    Ok((lines, receipts.tally()))
}
