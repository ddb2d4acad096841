//! The challenge timers (EMV 3DS: 30 s for the first CReq, 600 s per challenge page), fired from
//! the store, not from memory: every node runs [`fire_due`] each second, each due transaction
//! moves by compare-and-set to `completed` N (reason 14, `challengeCancel` 05 or 04) with its
//! audit entry, and a timer another node (or a late CReq) moved first is a lost compare-and-set,
//! skipped. A node that restarts loses no timer. The node that moved a transaction sends its
//! RReq (`results.rs`); an RReq the DS did not take is due again later, and the same round sends
//! it ([`super::results::retry`]).

use crate::state::AppState;
use shonin_3ds::acs::store::AcsStore;
use shonin_audit::{Actor, AuditRecord, Outcome as AuditOutcome};
use shonin_types::StorageError;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use time::OffsetDateTime;

/// The audit action of a fired timer.
pub const ACTION: &str = "3ds.challenge.timeout";
/// Transactions moved per round at most; the rest wait for the next second.
const BATCH: u32 = 200;

/// Fires the timers due at `now`; returns how many challenges this call ended.
pub async fn fire_due(state: &AppState, now: OffsetDateTime) -> Result<usize, StorageError> {
    let due = state.store.due_challenges(now, BATCH).await?;
    let mut fired = 0;
    for txn in due {
        let Some(expired) = txn.data.challenge.as_ref().and_then(|c| c.expire(now)) else {
            // No running challenge: the RReq waits for another attempt.
            if let Some(acs) = state.acs.as_ref()
                && txn
                    .data
                    .results_pending
                    .as_ref()
                    .is_some_and(|p| p.next_at <= now)
            {
                super::results::retry(state, acs, &txn, now).await?;
            }
            continue;
        };
        let cancel = expired
            .result
            .as_ref()
            .and_then(|r| r.challenge_cancel.clone())
            .unwrap_or_default();
        let mut unit = UnitOfWork::new();
        unit.update(txn.advance(expired.clone())?);
        let entry = AuditRecord {
            time: now,
            actor: Actor::system(),
            action: ACTION.to_owned(),
            target: txn.acs_trans_id.clone(),
            outcome: AuditOutcome::Success,
            reason: Some(format!("transStatus=N reason=14 challengeCancel={cancel}")),
            source_ip: None,
            request_id: None,
        };
        let entry = state
            .audit
            .prepare_elsewhere(entry)
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        match state.store.commit(unit, Some(entry)).await? {
            Outcome::Committed { seq } => {
                if seq.is_some() {
                    state.audit.appended_elsewhere(1);
                }
                metrics::counter!("shonin_3ds_challenge_timeouts_total", "challenge_cancel" => cancel)
                    .increment(1);
                fired += 1;
                // The RReq N (reason 14) goes to the DS from the node that fired the timer.
                if let Some(acs) = state.acs.as_ref() {
                    super::results::deliver(state, acs, &txn.moved(expired), now).await;
                }
            }
            // Moved by another node's timer or by the cardholder first.
            Outcome::Conflict { .. } | Outcome::Replayed { .. } => {}
        }
    }
    Ok(fired)
}
