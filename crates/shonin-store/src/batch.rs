//! Group commit of the hot-path writes: units of work ([`UnitStore::commit`], which
//! [`ReplayStore::first_use`] and [`TokenStore::insert_token`] also go through) and audit
//! appends ([`AuditStore::append`]).
//!
//! A token request's unit holds four writes (the client assertion's `jti`, the DPoP proof's
//! `jti`, the access token record, its audit entry). Written one request at a time, each unit
//! is its own transaction: on SQLite one WAL sync (about 2–3 ms on a virtual disk) and one turn
//! at the single write lock, on PostgreSQL one round trip and one commit. Instead, every store
//! runs one writer task that takes whatever is queued (up to [`MAX_BATCH`] operations) and
//! writes it in **one transaction**: all units' claims in one multi-row upsert, each unit's
//! guarded updates, all rows in multi-row inserts by table, then the audit entries after the
//! chain head. Each caller still awaits its own result, and that result is committed (durable)
//! before the caller sees it; each unit stays all or nothing.
//!
//! The writer knows no domain: a unit is claims, [`Update`]s and [`Row`]s
//! (`shonin_types::unit`), so a new capability adds its tables without editing this file.
//!
//! - Claims of the same key in one batch: the first queued wins, the others are replays, exactly
//!   as if they had run one after the other. A unit with a replayed claim writes nothing else.
//! - Claims are written in key order, so two nodes' batches on one PostgreSQL lock rows in the
//!   same order and cannot deadlock on each other.
//! - A unit whose compare-and-set update matches no row is undone (a savepoint) and answered
//!   [`Outcome::Conflict`]; the other units of the batch commit.
//! - If the batch transaction fails, every operation is retried on its own, so one bad record
//!   (a duplicate key, an unknown client) fails alone and the rest still commit.
//! - If the writer is gone (its runtime shut down), callers write directly, one by one.
//!
//! [`UnitStore::commit`]: shonin_types::unit::UnitStore::commit
//! [`ReplayStore::first_use`]: shonin_types::ports::ReplayStore::first_use
//! [`TokenStore::insert_token`]: shonin_oauth::TokenStore::insert_token
//! [`AuditStore::append`]: shonin_audit::AuditStore::append

use crate::audit::append_in;
use crate::batch_script::{Scripted, push_claims, write_script};
use crate::claims_memo::{Decided, push_log_rows};
use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::unit::{Unit, insert_chunks, push_insert, push_update};
use shonin_audit::{AuditRecord, Hash, SealedEntry};
use shonin_types::StorageError;
use shonin_types::unit::{Expect, Outcome, Row};
use sqlx::pool::PoolConnection;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Type};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// The most operations written in one transaction. A token request's unit is two claims, one
/// row of 12 columns and an audit entry: 256 of them bind well below either engine's limit, and
/// inserts are split further by [`crate::unit::insert_chunks`].
pub(crate) const MAX_BATCH: usize = 256;
/// Operations that may wait for the writer; further callers wait for room.
const QUEUE: usize = 4096;

/// One replay claim: `namespace`/`key` until `expires_at` (unix µs), decided at `now` (unix µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub namespace: String,
    pub key: String,
    pub expires_at: i64,
    pub now: i64,
}

/// A queued write and where its outcome goes.
#[derive(Debug)]
pub(crate) enum Op {
    Unit(Box<Unit>, oneshot::Sender<Result<Outcome, StorageError>>),
    Audit(Vec<AuditRecord>, oneshot::Sender<AuditResult>),
}

type AuditResult = Result<Vec<SealedEntry>, StorageError>;

/// The writes of one batch, by kind, each in queue order.
#[derive(Default, Clone, Copy)]
pub(crate) struct Batch<'a> {
    pub units: &'a [&'a Unit],
    pub audits: &'a [Vec<AuditRecord>],
}

/// What one batch transaction wrote: each audit append's entries and each unit's outcome.
pub(crate) struct Written {
    pub sealed: Vec<Vec<SealedEntry>>,
    pub outcomes: Vec<Outcome>,
    /// The audit chain's head after this batch, if it appended to it.
    pub head: Option<(u64, Hash)>,
    /// Written by [`crate::batch_script`] in one round trip.
    pub scripted: bool,
}

/// The writer's connection, and the audit chain's head as of its last commit (`None`: not
/// known; the next batch reads it). A stale head is harmless: [`crate::batch_script`] checks
/// it inside the transaction and falls back to the step-by-step transaction.
pub(crate) struct Held<C> {
    pub conn: C,
    pub head: Option<(u64, Hash)>,
}

/// The sending side of a store's writer task. Cloning shares the task; the task ends when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<Op>,
}

impl Batcher {
    /// Starts the writer for `sql`, or returns `None` outside a Tokio runtime or when no thread
    /// can be started (the store then writes directly). `sql` must not itself carry a batcher,
    /// or the task would keep its own channel open forever.
    ///
    /// Where it runs is [`Engine::WRITER_THREAD`]: on PostgreSQL a batch awaits its socket once
    /// per statement, and on the server's runtime every such wake-up queues behind request tasks
    /// busy with signatures, so the writer gets a thread with a single-threaded runtime of its
    /// own. SQLite's connection already works on its own thread; there the writer stays a task.
    pub(crate) fn start<DB>(sql: Sql<DB>) -> Option<Batcher>
    where
        DB: Engine,
        Sql<DB>: Writes,
    {
        tokio::runtime::Handle::try_current().ok()?;
        debug_assert!(sql.batch.is_none());
        let (tx, rx) = mpsc::channel(QUEUE);
        if DB::WRITER_THREAD {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            std::thread::Builder::new()
                .name("shonin-store-writer".into())
                .spawn(move || runtime.block_on(run(sql, rx)))
                .ok()?;
        } else {
            tokio::spawn(run(sql, rx));
        }
        Some(Batcher { tx })
    }

    /// Queues a unit; the unit back if the writer is gone (the caller then writes directly).
    pub(crate) async fn unit(
        &self,
        unit: Unit,
    ) -> Result<Result<Outcome, StorageError>, Box<Unit>> {
        let (ack, done) = oneshot::channel();
        match self.tx.send(Op::Unit(Box::new(unit), ack)).await {
            Ok(()) => Ok(done.await.unwrap_or_else(|_| Err(writer_gone()))),
            Err(mpsc::error::SendError(Op::Unit(unit, _))) => Err(unit),
            Err(_) => Ok(Err(writer_gone())),
        }
    }

    /// Queues an audit append; the records back if the writer is gone.
    pub(crate) async fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<AuditResult, Vec<AuditRecord>> {
        let (ack, done) = oneshot::channel();
        match self.tx.send(Op::Audit(records, ack)).await {
            Ok(()) => Ok(done.await.unwrap_or_else(|_| Err(writer_gone()))),
            Err(mpsc::error::SendError(Op::Audit(records, _))) => Err(records),
            Err(_) => Ok(Err(writer_gone())),
        }
    }
}

fn writer_gone() -> StorageError {
    StorageError::Unavailable("store writer stopped (shutting down)".into())
}

/// What the writer needs from an engine: the batch transaction and the one-by-one fallback.
pub(crate) trait Writes: Send + Sync + 'static {
    /// A connection held by the writer.
    type Conn: Send;
    /// Resolves when the store's pool is closed.
    fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static;
    /// Takes a connection from the writer's pool.
    fn acquire(&self)
    -> impl std::future::Future<Output = Result<Self::Conn, StorageError>> + Send;
    /// Closes a held connection, in this task.
    fn release(conn: Self::Conn) -> impl std::future::Future<Output = ()> + Send;
    /// Writes every unit's claims, then each unit's updates and rows (if its claims were
    /// fresh), then the audit entries of `batch`, in one transaction on `conn`.
    fn write_batch(
        &self,
        conn: &mut Self::Conn,
        batch: Batch<'_>,
    ) -> impl std::future::Future<Output = Result<Written, StorageError>> + Send;
    fn append_one(
        &self,
        records: Vec<AuditRecord>,
    ) -> impl std::future::Future<Output = AuditResult> + Send;
}

async fn run<W: Writes>(sql: W, mut rx: mpsc::Receiver<Op>) {
    let mut ops = Vec::with_capacity(MAX_BATCH);
    // One connection for every batch: no pool round trip per batch (returning a connection to
    // sqlx's pool is itself a spawned task) and, on SQLite, a page cache that stays valid. It
    // goes back when the pool is closed, since closing waits for every connection.
    let mut held = None;
    let closed = sql.closed();
    tokio::pin!(closed);
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            () = &mut closed, if open => {
                open = false;
                close::<W>(held.take()).await;
            }
            n = rx.recv_many(&mut ops, MAX_BATCH) => {
                if n == 0 {
                    break;
                }
                let mut unheld = None;
                let conn = if open { &mut held } else { &mut unheld };
                let _ = commit(&sql, conn, std::mem::take(&mut ops)).await;
            }
        }
    }
    close::<W>(held).await;
}

/// Closes the writer's connection in this task: dropping it instead would hand its return to a
/// task on the writer's runtime, which may never run once that runtime ends.
pub(crate) async fn close<W: Writes>(held: Option<W::Conn>) {
    if let Some(conn) = held {
        W::release(conn).await;
    }
}

/// Writes `batch` on the held connection, taking one first if none is held; after a failure
/// the connection is closed, so the next batch starts on a fresh one.
async fn write_held<W: Writes>(
    sql: &W,
    held: &mut Option<W::Conn>,
    batch: Batch<'_>,
) -> Result<Written, StorageError> {
    let conn = match held {
        Some(conn) => conn,
        None => held.insert(sql.acquire().await?),
    };
    let result = sql.write_batch(conn, batch).await;
    if result.is_err() {
        close::<W>(held.take()).await;
    }
    result
}

/// How a batch was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WritePath {
    /// One statement list ([`crate::batch_script`]).
    Script,
    /// One transaction, statement by statement.
    Transaction,
    /// The transaction failed; every op was retried on its own.
    OneByOne,
}

/// Writes `ops` as one batch and answers each caller; on failure, retries each op on its own.
pub(crate) async fn commit<W: Writes>(
    sql: &W,
    held: &mut Option<W::Conn>,
    ops: Vec<Op>,
) -> WritePath {
    let mut units = Vec::new();
    let mut unit_acks = Vec::new();
    let mut audits = Vec::new();
    let mut audit_acks = Vec::new();
    for op in ops {
        match op {
            Op::Unit(unit, ack) => {
                units.push(unit);
                unit_acks.push(ack);
            }
            Op::Audit(records, ack) => {
                audits.push(records);
                audit_acks.push(ack);
            }
        }
    }
    let n = units.len() + audits.len();
    metrics::histogram!("shonin_store_write_batch_size").record(n as f64);
    let units: Vec<&Unit> = units.iter().map(|u| u.as_ref()).collect();
    let batch = Batch {
        units: &units,
        audits: &audits,
    };
    let started = std::time::Instant::now();
    let result = write_held(sql, held, batch).await;
    metrics::histogram!("shonin_store_write_batch_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(written) => {
            let path = if written.scripted {
                metrics::counter!("shonin_store_write_batch_scripts_total").increment(1);
                WritePath::Script
            } else {
                WritePath::Transaction
            };
            for (ack, sealed) in audit_acks.into_iter().zip(written.sealed) {
                let _ = ack.send(Ok(sealed));
            }
            for (ack, outcome) in unit_acks.into_iter().zip(written.outcomes) {
                let _ = ack.send(Ok(outcome));
            }
            path
        }
        Err(e) if n == 1 => {
            // Nothing to separate: the one caller gets the error.
            if let Some(ack) = unit_acks.pop() {
                let _ = ack.send(Err(e));
            } else if let Some(ack) = audit_acks.pop() {
                let _ = ack.send(Err(e));
            }
            WritePath::OneByOne
        }
        Err(e) => {
            metrics::counter!("shonin_store_write_batch_fallbacks_total").increment(1);
            tracing::warn!(error = %e, ops = n, "write batch failed; retrying its writes one by one");
            // Units in queue order, so a key claimed twice is still won by the first caller.
            for (unit, ack) in units.into_iter().zip(unit_acks) {
                let _ = ack.send(unit_one(sql, held, unit).await);
            }
            for (batch, ack) in audits.into_iter().zip(audit_acks) {
                let _ = ack.send(sql.append_one(batch).await);
            }
            WritePath::OneByOne
        }
    }
}

/// A unit written in a transaction of its own.
pub(crate) async fn unit_one<W: Writes>(
    sql: &W,
    held: &mut Option<W::Conn>,
    unit: &Unit,
) -> Result<Outcome, StorageError> {
    let batch = Batch {
        units: &[unit],
        ..Batch::default()
    };
    let mut written = write_held(sql, held, batch).await?;
    written
        .outcomes
        .pop()
        .ok_or_else(|| StorageError::Corrupt("write batch: a unit without outcome".into()))
}

/// The distinct claims of a batch in key order (the first occurrence of each key), and the
/// earliest `now` among them: a record is taken over only if it expired before every caller's
/// clock reading.
pub(crate) fn distinct_sorted<'a>(claims: &[&'a Claim]) -> (Vec<&'a Claim>, i64) {
    let mut seen = HashSet::new();
    let mut unique: Vec<&Claim> = claims
        .iter()
        .copied()
        .filter(|c| seen.insert((c.namespace.as_str(), c.key.as_str())))
        .collect();
    unique.sort_by(|a, b| (&a.namespace, &a.key).cmp(&(&b.namespace, &b.key)));
    let now = claims.iter().map(|c| c.now).min().unwrap_or(0);
    (unique, now)
}

/// Which claims, in their order, won: a key the database returned as written, first occurrence
/// only (a second claim of the same key in one batch is a replay of the first).
fn outcomes(claims: &[&Claim], mut written: HashSet<(String, String)>) -> Vec<bool> {
    claims
        .iter()
        .map(|c| written.remove(&(c.namespace.clone(), c.key.clone())))
        .collect()
}

/// Each unit's first replayed claim, if any, from the outcomes of all units' claims in order.
fn replayed_per_unit(fresh: Vec<bool>, units: &[&Unit]) -> Vec<Option<usize>> {
    let mut fresh = fresh.into_iter();
    units
        .iter()
        .map(|u| {
            let mine: Vec<bool> = fresh.by_ref().take(u.claims.len()).collect();
            mine.iter().position(|f| !f)
        })
        .collect()
}

impl<DB: Engine> Writes for Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> String: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB>,
    for<'e> bool: Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB>,
    &'static str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    Sql<DB>: Send + Sync + 'static,
{
    type Conn = Held<PoolConnection<DB>>;

    fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.pool.close_event()
    }

    async fn release(held: Self::Conn) {
        // Closed, not returned: after a failed batch it may be broken, and a closing pool
        // waits for it.
        let _ = held.conn.close().await;
    }

    async fn acquire(&self) -> Result<Self::Conn, StorageError> {
        let conn = self.pool.acquire().await.map_err(sqlx_err("write batch"))?;
        Ok(Held { conn, head: None })
    }

    async fn append_one(&self, records: Vec<AuditRecord>) -> AuditResult {
        self.append_direct(records).await
    }

    async fn write_batch(
        &self,
        held: &mut Self::Conn,
        batch: Batch<'_>,
    ) -> Result<Written, StorageError> {
        // SQLite: queue behind this process's other writer (the audit log) instead of sleeping
        // in the busy handler; BEGIN IMMEDIATE takes the write lock up front.
        let _queued = self.queue_write().await;
        // SQLite: the process's memo decides the claims before anything is written, and its
        // grants are undone unless the batch commits.
        let decided = match &self.memo {
            Some(memo) if batch.units.iter().any(|u| !u.claims.is_empty()) => {
                memo.ensure_loaded(&mut *held.conn).await?;
                Some(memo.decide(&batch))
            }
            _ => None,
        };
        let decided_ref = decided.as_ref();
        // One script if the head is known, else (or if the script declined) step by step.
        let result = async {
            if DB::SCRIPTED_BATCH
                && let Some(head) = held.head
            {
                match write_script::<DB>(&mut held.conn, head, batch, decided_ref).await? {
                    Scripted::Done(written) => {
                        held.head = written.head;
                        return Ok(written);
                    }
                    Scripted::NotApplicable => {}
                    Scripted::RolledBack => {
                        metrics::counter!("shonin_store_write_batch_script_fallbacks_total")
                            .increment(1);
                        held.head = None;
                    }
                }
            }
            let written = write_transaction::<DB>(&mut held.conn, batch, decided_ref).await?;
            if written.head.is_some() {
                held.head = written.head;
            }
            Ok(written)
        }
        .await;
        if result.is_err()
            && let (Some(memo), Some(decided)) = (&self.memo, &decided)
        {
            memo.release(&decided.reservations);
        }
        result
    }
}

/// Writes `batch` statement by statement in one transaction: the claims (with `RETURNING`, so
/// each caller learns whether its value was fresh; or, `decided` by the memo, the granted ones
/// as log rows), then the updates of the units whose claims were all fresh (each unit's under a
/// savepoint, undone if a compare-and-set misses), their rows, and last the audit entries after
/// the head read under its lock.
async fn write_transaction<DB: Engine>(
    conn: &mut DB::Connection,
    batch: Batch<'_>,
    decided: Option<&Decided<'_>>,
) -> Result<Written, StorageError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> String: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB>,
    for<'e> bool: Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB>,
    &'static str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    let Batch { units, audits } = batch;
    let op = "write batch";
    // An owned `SqlStr`: with `&'static str` the future's `Send` cannot be proven (rustc's
    // higher-ranked lifetime limitation).
    let begin = sqlx::SqlSafeStr::into_sql_str(DB::BEGIN_APPEND);
    let mut tx = sqlx::Connection::begin_with(&mut *conn, begin)
        .await
        .map_err(sqlx_err(op))?;
    let replayed = match decided {
        Some(d) => {
            if !d.rows.is_empty() {
                let mut q = QueryBuilder::<DB>::new("");
                push_log_rows(&mut q, &d.rows);
                q.build().execute(&mut *tx).await.map_err(sqlx_err(op))?;
            }
            d.replayed.clone()
        }
        None => {
            // Every claim of the batch in one statement, unit after unit.
            let all_claims: Vec<&Claim> = units.iter().flat_map(|u| u.claims.iter()).collect();
            let mut fresh_keys = HashSet::new();
            if !all_claims.is_empty() {
                let (unique, now) = distinct_sorted(&all_claims);
                let mut q = QueryBuilder::<DB>::new("");
                push_claims(&mut q, &unique, now);
                // RETURNING lists exactly the rows this statement inserted or took over.
                q.push(" RETURNING namespace, key");
                let rows = q.build().fetch_all(&mut *tx).await.map_err(sqlx_err(op))?;
                for row in rows {
                    let ns: String = row.try_get(0usize).map_err(sqlx_err(op))?;
                    let key: String = row.try_get(1usize).map_err(sqlx_err(op))?;
                    fresh_keys.insert((ns, key));
                }
            }
            replayed_per_unit(outcomes(&all_claims, fresh_keys), units)
        }
    };
    let mut stops: Vec<Option<Outcome>> = replayed
        .iter()
        .map(|r| r.map(|claim| Outcome::Replayed { claim }))
        .collect();
    for (unit, stop) in units.iter().zip(stops.iter_mut()) {
        if stop.is_some() || unit.updates.is_empty() {
            continue;
        }
        let guarded = unit.updates.iter().any(|u| u.expect == Expect::One);
        if guarded {
            sqlx::raw_sql("SAVEPOINT shonin_unit")
                .execute(&mut *tx)
                .await
                .map_err(sqlx_err(op))?;
        }
        for (i, update) in unit.updates.iter().enumerate() {
            let mut q = QueryBuilder::<DB>::new("");
            push_update(&mut q, update);
            let result = q.build().execute(&mut *tx).await.map_err(sqlx_err(op))?;
            if update.expect == Expect::One && DB::rows_affected(&result) != 1 {
                *stop = Some(Outcome::Conflict { update: i });
                break;
            }
        }
        if guarded {
            let end = if stop.is_some() {
                "ROLLBACK TO SAVEPOINT shonin_unit; RELEASE SAVEPOINT shonin_unit"
            } else {
                "RELEASE SAVEPOINT shonin_unit"
            };
            sqlx::raw_sql(end)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_err(op))?;
        }
    }
    let writing = writing(units, &stops);
    let rows: Vec<&Row> = writing.iter().flat_map(|u| u.rows.iter()).collect();
    for (table, columns, rows) in insert_chunks(&rows) {
        let mut q = QueryBuilder::<DB>::new("");
        push_insert(&mut q, table, columns, &rows);
        q.build().execute(&mut *tx).await.map_err(sqlx_err(op))?;
    }
    // Last, so the chain head's lock (PostgreSQL: a row lock) is held for the shortest time;
    // every append of the batch after one read of the head, each keeping its own entries.
    let records = audit_records(audits, &writing);
    let entries = if records.is_empty() {
        Vec::new()
    } else {
        append_in::<DB>(&mut tx, records).await?
    };
    let written = written(audits, units, &stops, entries, false)?;
    tx.commit().await.map_err(sqlx_err(op))?;
    Ok(written)
}

/// The units that stopped neither at a claim nor at an update: their rows and audit entries
/// are written.
pub(crate) fn writing<'a>(units: &[&'a Unit], stops: &[Option<Outcome>]) -> Vec<&'a Unit> {
    units
        .iter()
        .zip(stops)
        .filter(|(_, s)| s.is_none())
        .map(|(u, _)| *u)
        .collect()
}

/// The audit records of a batch, in the order [`written`] expects their entries: the plain
/// appends first, then the entry of each unit being written that has one.
pub(crate) fn audit_records(audits: &[Vec<AuditRecord>], writing: &[&Unit]) -> Vec<AuditRecord> {
    audits
        .iter()
        .flatten()
        .chain(writing.iter().filter_map(|u| u.audit.as_ref()))
        .cloned()
        .collect()
}

/// A batch's outcome: `entries` are the sealed audit entries in [`audit_records`] order.
pub(crate) fn written(
    audits: &[Vec<AuditRecord>],
    units: &[&Unit],
    stops: &[Option<Outcome>],
    entries: Vec<SealedEntry>,
    scripted: bool,
) -> Result<Written, StorageError> {
    let head = entries.last().map(|e| (e.seq, e.hash));
    let mut entries = entries.into_iter();
    let sealed: Vec<Vec<SealedEntry>> = audits
        .iter()
        .map(|a| entries.by_ref().take(a.len()).collect())
        .collect();
    let outcomes = units
        .iter()
        .zip(stops)
        .map(|(unit, stop)| match stop {
            Some(stop) => Ok(*stop),
            None if unit.audit.is_none() => Ok(Outcome::Committed { seq: None }),
            None => entries
                .next()
                .map(|e| Outcome::Committed { seq: Some(e.seq) })
                .ok_or_else(|| StorageError::Corrupt("audit append: entries missing".into())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Written {
        sealed,
        outcomes,
        head,
        scripted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(ns: &str, key: &str, now: i64) -> Claim {
        Claim {
            namespace: ns.into(),
            key: key.into(),
            expires_at: now + 60,
            now,
        }
    }

    #[test]
    fn duplicates_keep_the_first_and_sort_by_key() {
        let claims = [
            claim("dpop", "b", 5),
            claim("dpop", "a", 7),
            claim("dpop", "b", 3),
            claim("jwt", "a", 9),
        ];
        let claims: Vec<&Claim> = claims.iter().collect();
        let (unique, now) = distinct_sorted(&claims);
        let keys: Vec<_> = unique
            .iter()
            .map(|c| (c.namespace.as_str(), c.key.as_str(), c.now))
            .collect();
        assert_eq!(keys, [("dpop", "a", 7), ("dpop", "b", 5), ("jwt", "a", 9)]);
        assert_eq!(now, 3);
    }

    #[test]
    fn only_the_first_claim_of_a_written_key_wins() {
        let claims = [
            claim("dpop", "b", 0),
            claim("dpop", "a", 0),
            claim("dpop", "b", 0),
            claim("jwt", "b", 0),
        ];
        // "dpop"/"a" was not written (an unexpired record exists).
        let written = HashSet::from([("dpop".into(), "b".into()), ("jwt".into(), "b".into())]);
        let claims: Vec<&Claim> = claims.iter().collect();
        assert_eq!(outcomes(&claims, written), [true, false, false, true]);
    }
}
