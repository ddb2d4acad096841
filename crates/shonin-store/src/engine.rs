//! What differs between the two engines, in one place, so every port is written once over
//! [`Sql<DB>`].
//!
//! Both engines accept `$1`-style parameters, `ON CONFLICT … DO UPDATE … WHERE`, and `RETURNING`
//! (SQLite ≥ 3.35), so the shared queries are the same text. Only the chain lock differs.

use shonin_types::Clock;
use sqlx::{Database, Pool, Postgres, Sqlite};
use std::sync::Arc;

/// An engine-specific detail the shared queries need.
pub(crate) trait Engine: Database {
    /// Opens the transaction in which an audit append reads and moves the head.
    const BEGIN_APPEND: &'static str;
    /// Reads the head inside that transaction, holding the lock that serialises appends across
    /// every process sharing the database.
    const LOCK_HEAD: &'static str;

    /// Whether the group-commit writer gets an OS thread of its own ([`crate::batch`]).
    const WRITER_THREAD: bool;
    /// Whether the writer may send a batch as one statement list ([`crate::batch_script`]).
    const SCRIPTED_BATCH: bool;

    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl Engine for Sqlite {
    // SQLite has one writer per database file. `BEGIN IMMEDIATE` takes the write lock before the
    // head is read (waiting up to `busy_timeout`), so two processes cannot read the same head.
    const BEGIN_APPEND: &'static str = "BEGIN IMMEDIATE";
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";
    // Measured (bench/profile.sh sqlite, 2026-12-03): on its own thread the writer picks up
    // work sooner, so batches halve and the extra fsyncs cost more than the wake-ups saved.
    const WRITER_THREAD: bool = false;
    const SCRIPTED_BATCH: bool = true;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl Engine for Postgres {
    // READ COMMITTED explicitly: under a server default of SERIALIZABLE a waiter on the row lock
    // would fail with a serialisation error instead of reading the new head.
    const BEGIN_APPEND: &'static str = "BEGIN ISOLATION LEVEL READ COMMITTED";
    // The row lock on the single head row serialises appends across nodes; a waiter re-reads the
    // committed row once the lock is released.
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
    const WRITER_THREAD: bool = true;
    // The extended query protocol takes one statement per message.
    const SCRIPTED_BATCH: bool = false;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Rows one sweep transaction reads (replay log) or deletes (token records, pruned audit
/// entries) at most, so that a sweep never holds SQLite's write lock for long.
pub(crate) const SWEEP_CHUNK: i64 = 4096;

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'e> i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    /// Runs `delete` — a DELETE of at most `$2` rows selected by `$1` — with `$1 = bound` and
    /// `$2 =` [`SWEEP_CHUNK`] until a round deletes fewer, each round its own transaction queued
    /// behind this process's other writes (one statement over hundreds of thousands of rows
    /// would hold SQLite's write lock, and every request behind it, for as long as it takes).
    /// Returns how many rows were deleted.
    pub(crate) async fn delete_in_chunks(
        &self,
        delete: &'static str,
        bound: i64,
        what: &'static str,
    ) -> Result<u64, shonin_types::StorageError> {
        let mut deleted = 0;
        loop {
            let _queued = self.queue_write().await;
            let result = sqlx::query(delete)
                .bind(bound)
                .bind(SWEEP_CHUNK)
                .execute(&self.pool)
                .await
                .map_err(crate::error::sqlx_err(what))?;
            let n = DB::rows_affected(&result);
            deleted += n;
            if n < SWEEP_CHUNK.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }
}

/// A connection pool of one engine plus what every port needs beside it.
pub(crate) struct Sql<DB: Database> {
    pub(crate) pool: Pool<DB>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Queues this process's write transactions (audit appends made directly, and the batches of
    /// [`crate::batch`]) before they contend for the database lock. SQLite's
    /// lock waits are sleeps (busy handler), so many local writers would otherwise burn the
    /// busy timeout; PostgreSQL queues fairly on the row lock and does not need it.
    pub(crate) append_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The group-commit writer of replay claims and token records ([`crate::batch`]); `None`
    /// in the writer's own copy and outside a Tokio runtime (writes then go directly).
    pub(crate) batch: Option<crate::batch::Batcher>,
    /// SQLite: the replay claims decided in this process ([`crate::claims_memo`]); `None` on
    /// PostgreSQL, where the `replay_cache` upsert decides across nodes.
    pub(crate) memo: Option<Arc<crate::claims_memo::ClaimsMemo>>,
}

impl<DB: Database> Sql<DB> {
    /// Waits for this process's turn to write (the append gate; nothing to wait for where there
    /// is no gate). Hold the guard for the whole write transaction.
    pub(crate) async fn queue_write(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.append_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }
}

impl<DB: Database> Clone for Sql<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            clock: Arc::clone(&self.clock),
            append_gate: self.append_gate.clone(),
            batch: self.batch.clone(),
            memo: self.memo.clone(),
        }
    }
}
