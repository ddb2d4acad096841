//! One commit per token response: the request's replay claims, the records of the tokens it
//! issues and its audit entry, written together ([`Store::issue_tokens`]).
//!
//! Made one after the other, these are three waits for a commit (claims, token records, audit
//! entry), each queued behind the group-commit writer's current batch. Written as one
//! [`crate::batch`] operation they are one wait, and the request's outcome is still all or
//! nothing: a replayed value leaves no token record and no success entry behind.

use crate::batch::{Claim, Issue, Issued, issue_one};
use crate::store::Store;
use crate::timestamp::to_micros;
use shonin_audit::AuditRecord;
use shonin_oauth::token_record::TokenRecord;
use shonin_types::StorageError;
use time::OffsetDateTime;

impl Store {
    /// Claims every `(namespace, key, expires_at)` of `claims` as [`ReplayStore::first_use`]
    /// would and, only if all of them were fresh, inserts `tokens` (as
    /// [`TokenStore::insert_token`]) and appends `audit` to the audit chain — all in one
    /// transaction, shared with whatever else the writer batches. The caller owns the audit
    /// log's bookkeeping: it should clamp `audit` and report the entry to its
    /// [`shonin_audit::AuditLog`] (`appended_elsewhere`) so checkpoints count it.
    ///
    /// [`ReplayStore::first_use`]: shonin_types::ports::ReplayStore::first_use
    /// [`TokenStore::insert_token`]: shonin_oauth::TokenStore::insert_token
    pub async fn issue_tokens(
        &self,
        claims: &[(&str, &str, OffsetDateTime)],
        tokens: Vec<TokenRecord>,
        audit: AuditRecord,
    ) -> Result<Issued, StorageError> {
        let now = to_micros(dispatch!(self, s => s.sql.clock.now()));
        let issue = Issue {
            claims: claims
                .iter()
                .map(|(namespace, key, expires_at)| Claim {
                    namespace: (*namespace).to_owned(),
                    key: (*key).to_owned(),
                    expires_at: to_micros(*expires_at),
                    now,
                })
                .collect(),
            tokens,
            audit,
        };
        dispatch!(self, s => {
            let issue = match &s.sql.batch {
                Some(batch) => match batch.issue(issue).await {
                    Ok(result) => return result,
                    // The writer is gone (shutting down): write it directly.
                    Err(issue) => *issue,
                },
                None => issue,
            };
            issue_one(&s.sql, &mut None, &issue).await
        })
    }
}
