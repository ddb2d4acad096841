//! Group commit of the hot-path writes: replay claims ([`ReplayStore::first_use`]), token
//! records ([`TokenStore::insert_token`]) and audit appends ([`AuditStore::append`]).
//!
//! A token request makes four such writes (the client assertion's `jti`, the DPoP proof's `jti`,
//! the access token record, its audit entry). One at a time, each is its own transaction: on
//! SQLite one WAL sync (about 2–3 ms on a virtual disk) and one turn at the single write lock, on
//! PostgreSQL one round trip and one commit. Instead, every store runs one writer task that takes
//! whatever is queued (up to [`MAX_BATCH`] operations) and writes it in **one transaction**: all
//! claims in one multi-row upsert, all token records in one multi-row insert, then each audit
//! batch after the chain head (which the audit writer has already grouped). Each caller still
//! awaits its own result, and that result is committed (durable) before the caller sees it, so
//! the ports' contracts are unchanged; the audit chain stays all-or-nothing per append.
//!
//! - Claims of the same key in one batch: the first queued wins, the others are replays, exactly
//!   as if they had run one after the other.
//! - Claims are written in key order, so two nodes' batches on one PostgreSQL lock rows in the
//!   same order and cannot deadlock on each other.
//! - If the batch transaction fails, every operation is retried on its own, so one bad record
//!   (a duplicate token hash, an unknown client) fails alone and the rest still commit.
//! - If the writer is gone (its runtime shut down), callers write directly, one by one.
//!
//! [`ReplayStore::first_use`]: shonin_types::ports::ReplayStore::first_use
//! [`TokenStore::insert_token`]: shonin_oauth::TokenStore::insert_token
//! [`AuditStore::append`]: shonin_audit::AuditStore::append

use crate::audit::append_in;
use crate::batch_script::{Scripted, push_claims, push_tokens, write_script};
use crate::claims_memo::{Decided, push_log_rows};
use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use shonin_audit::{AuditRecord, Hash, SealedEntry};
use shonin_oauth::token_record::TokenRecord;
use shonin_types::StorageError;
use sqlx::pool::PoolConnection;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// The most operations written in one transaction: 256 claims are 769 parameters and 256 token
/// records 3,072, far below SQLite's 32,766 and PostgreSQL's 65,535.
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

/// A token response's writes, all or nothing ([`crate::Store::issue_tokens`]): the request's
/// one-time values, then — only if every one of them was fresh — its token records and its
/// audit entry.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub claims: Vec<Claim>,
    pub tokens: Vec<TokenRecord>,
    pub audit: AuditRecord,
}

/// The outcome of [`crate::Store::issue_tokens`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// Every claim was fresh; the token records and the audit entry (sequence number `seq`)
    /// are committed.
    Committed { seq: u64 },
    /// Claim number `claim` (in the order given) was used before; nothing but the fresh claims
    /// was written.
    Replayed { claim: usize },
}

/// A queued write and where its outcome goes.
#[derive(Debug)]
pub(crate) enum Op {
    Claim(Claim, oneshot::Sender<Result<bool, StorageError>>),
    Token(Box<TokenRecord>, oneshot::Sender<Result<(), StorageError>>),
    Audit(Vec<AuditRecord>, oneshot::Sender<AuditResult>),
    Issue(Box<Issue>, oneshot::Sender<Result<Issued, StorageError>>),
}

type AuditResult = Result<Vec<SealedEntry>, StorageError>;

/// The writes of one batch, by kind, each in queue order.
#[derive(Default, Clone, Copy)]
pub(crate) struct Batch<'a> {
    pub claims: &'a [Claim],
    pub tokens: &'a [&'a TokenRecord],
    pub audits: &'a [Vec<AuditRecord>],
    pub issues: &'a [&'a Issue],
}

/// What one batch transaction wrote: each claim's outcome, each audit append's entries and
/// each issue's outcome.
pub(crate) struct Written {
    pub fresh: Vec<bool>,
    pub sealed: Vec<Vec<SealedEntry>>,
    pub issued: Vec<Issued>,
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

    /// Queues a claim; `None` if the writer is gone (the caller then writes directly).
    pub(crate) async fn claim(&self, claim: Claim) -> Option<Result<bool, StorageError>> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Op::Claim(claim, ack)).await.ok()?;
        Some(done.await.unwrap_or_else(|_| Err(writer_gone())))
    }

    /// Queues several claims back to back (so they normally share one batch) and awaits them
    /// all; `None` if the writer is gone before the first was queued.
    pub(crate) async fn claims(
        &self,
        claims: Vec<Claim>,
    ) -> Option<Result<Vec<bool>, StorageError>> {
        let mut pending = Vec::with_capacity(claims.len());
        for claim in claims {
            let (ack, done) = oneshot::channel();
            if self.tx.send(Op::Claim(claim, ack)).await.is_err() {
                if pending.is_empty() {
                    return None;
                }
                return Some(Err(writer_gone()));
            }
            pending.push(done);
        }
        let mut fresh = Vec::with_capacity(pending.len());
        for done in pending {
            match done.await {
                Ok(Ok(f)) => fresh.push(f),
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => return Some(Err(writer_gone())),
            }
        }
        Some(Ok(fresh))
    }

    /// Queues a token record; `None` if the writer is gone.
    pub(crate) async fn insert_token(
        &self,
        record: &TokenRecord,
    ) -> Option<Result<(), StorageError>> {
        let (ack, done) = oneshot::channel();
        let op = Op::Token(Box::new(record.clone()), ack);
        self.tx.send(op).await.ok()?;
        Some(done.await.unwrap_or_else(|_| Err(writer_gone())))
    }

    /// Queues an issue; the issue back if the writer is gone.
    pub(crate) async fn issue(
        &self,
        issue: Issue,
    ) -> Result<Result<Issued, StorageError>, Box<Issue>> {
        let (ack, done) = oneshot::channel();
        match self.tx.send(Op::Issue(Box::new(issue), ack)).await {
            Ok(()) => Ok(done.await.unwrap_or_else(|_| Err(writer_gone()))),
            Err(mpsc::error::SendError(Op::Issue(issue, _))) => Err(issue),
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

/// What the writer needs from an engine: the batch transaction and the one-by-one fallbacks.
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
    /// Writes every claim, then the token records, then the audit entries of `batch` in one
    /// transaction on `conn` (an issue's records only if all its claims were fresh).
    fn write_batch(
        &self,
        conn: &mut Self::Conn,
        batch: Batch<'_>,
    ) -> impl std::future::Future<Output = Result<Written, StorageError>> + Send;
    fn claim_one(
        &self,
        claim: &Claim,
    ) -> impl std::future::Future<Output = Result<bool, StorageError>> + Send;
    fn insert_one(
        &self,
        record: &TokenRecord,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send;
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
    let mut claims = Vec::new();
    let mut claim_acks = Vec::new();
    let mut tokens = Vec::new();
    let mut token_acks = Vec::new();
    let mut audits = Vec::new();
    let mut audit_acks = Vec::new();
    let mut issues = Vec::new();
    let mut issue_acks = Vec::new();
    for op in ops {
        match op {
            Op::Claim(c, ack) => {
                claims.push(c);
                claim_acks.push(ack);
            }
            Op::Token(r, ack) => {
                tokens.push(r);
                token_acks.push(ack);
            }
            Op::Audit(records, ack) => {
                audits.push(records);
                audit_acks.push(ack);
            }
            Op::Issue(issue, ack) => {
                issues.push(issue);
                issue_acks.push(ack);
            }
        }
    }
    let n = claims.len() + tokens.len() + audits.len() + issues.len();
    metrics::histogram!("shonin_store_write_batch_size").record(n as f64);
    let records: Vec<&TokenRecord> = tokens.iter().map(|r| r.as_ref()).collect();
    let issues: Vec<&Issue> = issues.iter().map(|i| i.as_ref()).collect();
    let batch = Batch {
        claims: &claims,
        tokens: &records,
        audits: &audits,
        issues: &issues,
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
            for (ack, fresh) in claim_acks.into_iter().zip(written.fresh) {
                let _ = ack.send(Ok(fresh));
            }
            for ack in token_acks {
                let _ = ack.send(Ok(()));
            }
            for (ack, sealed) in audit_acks.into_iter().zip(written.sealed) {
                let _ = ack.send(Ok(sealed));
            }
            for (ack, issued) in issue_acks.into_iter().zip(written.issued) {
                let _ = ack.send(Ok(issued));
            }
            path
        }
        Err(e) if n == 1 => {
            // Nothing to separate: the one caller gets the error.
            if let Some(ack) = claim_acks.pop() {
                let _ = ack.send(Err(e));
            } else if let Some(ack) = token_acks.pop() {
                let _ = ack.send(Err(e));
            } else if let Some(ack) = audit_acks.pop() {
                let _ = ack.send(Err(e));
            } else if let Some(ack) = issue_acks.pop() {
                let _ = ack.send(Err(e));
            }
            WritePath::OneByOne
        }
        Err(e) => {
            metrics::counter!("shonin_store_write_batch_fallbacks_total").increment(1);
            tracing::warn!(error = %e, ops = n, "write batch failed; retrying its writes one by one");
            // Claims in queue order, so a key claimed twice is still won by the first caller.
            for (claim, ack) in claims.iter().zip(claim_acks) {
                let _ = ack.send(sql.claim_one(claim).await);
            }
            for (record, ack) in records.iter().zip(token_acks) {
                let _ = ack.send(sql.insert_one(record).await);
            }
            for (batch, ack) in audits.into_iter().zip(audit_acks) {
                let _ = ack.send(sql.append_one(batch).await);
            }
            for (issue, ack) in issues.into_iter().zip(issue_acks) {
                let _ = ack.send(issue_one(sql, held, issue).await);
            }
            WritePath::OneByOne
        }
    }
}

/// An issue written in a transaction of its own.
pub(crate) async fn issue_one<W: Writes>(
    sql: &W,
    held: &mut Option<W::Conn>,
    issue: &Issue,
) -> Result<Issued, StorageError> {
    let batch = Batch {
        issues: &[issue],
        ..Batch::default()
    };
    let mut written = write_held(sql, held, batch).await?;
    written
        .issued
        .pop()
        .ok_or_else(|| StorageError::Corrupt("write batch: an issue without outcome".into()))
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

/// Splits the outcomes of all claims (the plain claims first, then each issue's in turn) into
/// the plain claims' outcomes and each issue's first replayed claim, if any.
fn split_outcomes(
    mut fresh: Vec<bool>,
    plain: usize,
    issues: &[&Issue],
) -> (Vec<bool>, Vec<Option<usize>>) {
    let rest = fresh.split_off(plain.min(fresh.len()));
    let mut rest = rest.into_iter();
    let replayed = issues
        .iter()
        .map(|i| {
            let mine: Vec<bool> = rest.by_ref().take(i.claims.len()).collect();
            mine.iter().position(|f| !f)
        })
        .collect();
    (fresh, replayed)
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

    async fn claim_one(&self, c: &Claim) -> Result<bool, StorageError> {
        self.first_use_at(&c.namespace, &c.key, c.expires_at, c.now)
            .await
    }

    async fn insert_one(&self, record: &TokenRecord) -> Result<(), StorageError> {
        self.insert_token_direct(record).await
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
            Some(memo) if !batch.claims.is_empty() || !batch.issues.is_empty() => {
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
/// as log rows), then the records of the issues whose claims were all fresh, then the audit
/// entries after the head read under its lock.
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
    &'static str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    let Batch {
        claims,
        tokens,
        audits,
        issues,
    } = batch;
    let op = "write batch";
    // An owned `SqlStr`: with `&'static str` the future's `Send` cannot be proven (rustc's
    // higher-ranked lifetime limitation).
    let begin = sqlx::SqlSafeStr::into_sql_str(DB::BEGIN_APPEND);
    let mut tx = sqlx::Connection::begin_with(&mut *conn, begin)
        .await
        .map_err(sqlx_err(op))?;
    let (fresh, replayed) = match decided {
        Some(d) => {
            if !d.rows.is_empty() {
                let mut q = QueryBuilder::<DB>::new("");
                push_log_rows(&mut q, &d.rows);
                q.build().execute(&mut *tx).await.map_err(sqlx_err(op))?;
            }
            (d.fresh.clone(), d.replayed.clone())
        }
        None => {
            // Every claim of the batch in one statement: the plain ones, then each issue's.
            let all_claims: Vec<&Claim> = claims
                .iter()
                .chain(issues.iter().flat_map(|i| i.claims.iter()))
                .collect();
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
            split_outcomes(outcomes(&all_claims, fresh_keys), claims.len(), issues)
        }
    };
    let issuing = issuing(issues, &replayed);
    let all_tokens: Vec<&TokenRecord> = tokens
        .iter()
        .copied()
        .chain(issuing.iter().flat_map(|i| i.tokens.iter()))
        .collect();
    if !all_tokens.is_empty() {
        let mut q = QueryBuilder::<DB>::new("");
        push_tokens(&mut q, &all_tokens);
        q.build().execute(&mut *tx).await.map_err(sqlx_err(op))?;
    }
    // Last, so the chain head's lock (PostgreSQL: a row lock) is held for the shortest time;
    // every append of the batch after one read of the head, each keeping its own entries.
    let records: Vec<AuditRecord> = audits
        .iter()
        .flatten()
        .chain(issuing.iter().map(|i| &i.audit))
        .cloned()
        .collect();
    let entries = if records.is_empty() {
        Vec::new()
    } else {
        append_in::<DB>(&mut tx, records).await?
    };
    let written = written(fresh, audits, &replayed, entries, false)?;
    tx.commit().await.map_err(sqlx_err(op))?;
    Ok(written)
}

/// The issues none of whose claims was replayed: their token records and audit entries are
/// written.
pub(crate) fn issuing<'a>(issues: &[&'a Issue], replayed: &[Option<usize>]) -> Vec<&'a Issue> {
    issues
        .iter()
        .zip(replayed)
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| *i)
        .collect()
}

/// A batch's outcome: `entries` are the sealed audit entries, the plain appends' first (in
/// order, `audits[i].len()` each), then one per issue that was not replayed.
pub(crate) fn written(
    fresh: Vec<bool>,
    audits: &[Vec<AuditRecord>],
    replayed: &[Option<usize>],
    entries: Vec<SealedEntry>,
    scripted: bool,
) -> Result<Written, StorageError> {
    let head = entries.last().map(|e| (e.seq, e.hash));
    let mut entries = entries.into_iter();
    let sealed: Vec<Vec<SealedEntry>> = audits
        .iter()
        .map(|a| entries.by_ref().take(a.len()).collect())
        .collect();
    let issued = replayed
        .iter()
        .map(|r| match r {
            Some(claim) => Ok(Issued::Replayed { claim: *claim }),
            None => entries
                .next()
                .map(|e| Issued::Committed { seq: e.seq })
                .ok_or_else(|| StorageError::Corrupt("audit append: entries missing".into())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Written {
        fresh,
        sealed,
        issued,
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
