//! The group-commit writer's statements, and on SQLite the whole batch as **one** round trip.
//!
//! sqlx runs a SQLite connection on a thread of its own; every statement is a message to that
//! thread and an answer back. Written step by step ([`crate::batch`]'s `write_transaction`), a
//! batch is seven such round trips (BEGIN, claims, tokens, head, entries, head, COMMIT), and
//! under load each answer waits for the writer to be scheduled again: measured with
//! `bench/profile.sh sqlite` (2026-12-03), 5 of a batch's 8.7 ms went to that, not to SQLite.
//!
//! So when the writer knows the audit chain's head from its own last commit, it sends the batch
//! as one statement list that sqlx's thread runs start to end. The batch's replay claims are
//! already decided by the process's memo (`claims_memo.rs`): the granted ones are appended to
//! the log, and a unit with a replayed value leaves its updates, rows and audit entry out.
//!
//! ```sql
//! CREATE TEMP TABLE IF NOT EXISTS batch_guard (…CHECK (failed = 0));
//! BEGIN IMMEDIATE;
//! INSERT INTO replay_log …;                                            -- granted claims
//! INSERT INTO temp.batch_guard SELECT 1 WHERE changes() <> <claims>;    -- all written?
//! UPDATE … ; INSERT INTO temp.batch_guard SELECT 1 WHERE changes() <> 1; -- each compare-and-set
//! INSERT INTO <each unit table> …;  INSERT INTO audit_entries …;     -- sealed after the head
//! UPDATE audit_head SET <new> WHERE seq = <cached> AND hash = <cached>;
//! INSERT INTO temp.batch_guard SELECT 1 WHERE changes() <> 1;          -- head unchanged?
//! COMMIT;
//! ```
//!
//! A guard inserts a row only when its count is wrong, and that row breaks the CHECK: the
//! statement fails, the list stops before `COMMIT`, and the writer rolls back and writes the
//! batch step by step. So the script commits only what the step-by-step transaction would have
//! committed when the head is the one the entries were sealed after and every compare-and-set
//! matched; anything else (another process's append, a lost race, a duplicate key, a
//! constraint) costs one rollback and the slow path, which answers each unit on its own.
//! PostgreSQL's extended protocol allows one statement per message, so this is SQLite's only.

use crate::audit::{ROWS_PER_INSERT, push_entries, seal_after, seq_column};
use crate::batch::{Batch, Claim, Written, audit_records, writing, written};
use crate::claims_memo::{Decided, push_log_rows};
use crate::engine::Engine;
use crate::error::sqlx_err;
use crate::unit::{insert_chunks, push_insert, push_update};
use shonin_audit::Hash;
use shonin_types::StorageError;
use shonin_types::unit::{Expect, Outcome, Row};
use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

/// What [`write_script`] did.
pub(crate) enum Scripted {
    /// Committed.
    Done(Written),
    /// Not tried: the batch has claims but no verdict of the memo.
    NotApplicable,
    /// A guard or a statement failed; the transaction was rolled back and nothing was written.
    RolledBack,
}

/// Appends the insert of `claims` as rows of `table` to `q`.
pub(crate) fn push_claim_rows<DB: Database>(
    q: &mut QueryBuilder<DB>,
    table: &'static str,
    claims: &[&Claim],
) where
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    q.push("INSERT INTO ");
    q.push(table);
    q.push(" (namespace, key, expires_at) ");
    q.push_values(claims, |mut row, c| {
        row.push_bind(c.namespace.clone())
            .push_bind(c.key.clone())
            .push_bind(c.expires_at);
    });
}

/// Appends the upsert of `claims` (distinct, in key order) to `q`: a key is written if it is new
/// or its record expired at or before `now`, as in `ReplayStore::first_use`.
pub(crate) fn push_claims<DB: Database>(q: &mut QueryBuilder<DB>, claims: &[&Claim], now: i64)
where
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    push_claim_rows(q, "replay_cache", claims);
    q.push(
        " ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE replay_cache.expires_at <= ",
    );
    q.push_bind(now);
}

/// Fails the statement list unless the previous statement changed exactly `expected` rows.
fn push_guard<DB: Database>(q: &mut QueryBuilder<DB>, expected: usize)
where
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    q.push("; INSERT INTO temp.batch_guard (failed) SELECT 1 WHERE changes() <> ");
    q.push_bind(i64::try_from(expected).unwrap_or(i64::MAX));
}

/// Writes `batch` as one statement list whose entries follow `head` (SQLite only; see the
/// module). `Err` only if the rollback after a failure failed too: the connection is then in
/// an unknown state and must be closed.
pub(crate) async fn write_script<DB: Engine>(
    conn: &mut DB::Connection,
    head: (u64, Hash),
    batch: Batch<'_>,
    decided: Option<&Decided<'_>>,
) -> Result<Scripted, StorageError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB>,
    for<'e> bool: Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB>,
{
    // The memo's verdict on the batch's claims: the rows to append and each unit's outcome.
    // SQLite always has the memo; without a verdict only a batch without claims is scripted.
    let (claims, replayed) = match decided {
        Some(d) => (d.rows.clone(), d.replayed.clone()),
        None if batch.units.iter().all(|u| u.claims.is_empty()) => {
            (Vec::new(), vec![None; batch.units.len()])
        }
        None => return Ok(Scripted::NotApplicable),
    };
    let stops: Vec<Option<Outcome>> = replayed
        .iter()
        .map(|r| r.map(|claim| Outcome::Replayed { claim }))
        .collect();
    let writing = writing(batch.units, &stops);
    let rows: Vec<&Row> = writing.iter().flat_map(|u| u.rows.iter()).collect();
    let entries = seal_after(head, audit_records(batch.audits, &writing))?;

    let mut q = QueryBuilder::<DB>::new(
        "CREATE TEMP TABLE IF NOT EXISTS batch_guard \
         (failed INTEGER NOT NULL CHECK (failed = 0)); ",
    );
    q.push(DB::BEGIN_APPEND);
    if !claims.is_empty() {
        q.push("; ");
        push_log_rows(&mut q, &claims);
        push_guard(&mut q, claims.len());
    }
    for update in writing.iter().flat_map(|u| u.updates.iter()) {
        q.push("; ");
        push_update(&mut q, update);
        if update.expect == Expect::One {
            push_guard(&mut q, 1);
        }
    }
    for (table, columns, rows) in insert_chunks(&rows) {
        q.push("; ");
        push_insert(&mut q, table, columns, &rows);
    }
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        q.push("; ");
        push_entries(&mut q, chunk);
    }
    if let Some(last) = entries.last() {
        q.push("; UPDATE audit_head SET seq = ");
        q.push_bind(seq_column(last.seq));
        q.push(", hash = ");
        q.push_bind(last.hash.to_vec());
        q.push(" WHERE id = 1 AND seq = ");
        q.push_bind(seq_column(head.0));
        q.push(" AND hash = ");
        q.push_bind(head.1.to_vec());
        push_guard(&mut q, 1);
    }
    q.push("; COMMIT");

    match q.build().execute(&mut *conn).await {
        Ok(_) => written(batch.audits, batch.units, &stops, entries, true).map(Scripted::Done),
        Err(e) => {
            tracing::debug!(error = %e, "write batch script declined; writing step by step");
            // The list stopped before COMMIT, inside the transaction (or before BEGIN, when
            // "no transaction is active" is the answer and the connection must go).
            sqlx::raw_sql("ROLLBACK")
                .execute(&mut *conn)
                .await
                .map_err(sqlx_err("write batch rollback"))?;
            Ok(Scripted::RolledBack)
        }
    }
}
