//! SQLite WAL checkpoints off the commit path.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a *checkpoint* copies them back into
//! the database file (and syncs it) so the WAL can start over. By default the committing
//! connection runs one itself after any commit that leaves more than 1,000 pages in the WAL —
//! for Shonin that is the group-commit writer, so every few dozen batches one of them also paid
//! for copying megabytes and an extra `fsync`, and every caller queued behind it waited.
//!
//! Instead, a task with a connection of its own checkpoints every [`INTERVAL`] with
//! `PRAGMA wal_checkpoint(PASSIVE)`, which copies what it can without waiting for (or blocking)
//! the writer. The writer keeps an automatic checkpoint only as a backstop at
//! [`WRITER_AUTOCHECKPOINT`] pages: under steady load new frames arrive during every passive
//! run, so the WAL would never be fully copied and could not start over; once it passes the
//! backstop the writer copies the little that is left and the WAL restarts. Durability is
//! unchanged: a commit is durable when the WAL is synced (`synchronous = FULL`), before any
//! checkpoint. What changes: the WAL file grows to about [`WRITER_AUTOCHECKPOINT`] pages
//! (40 MiB at 4 KiB pages) before it is reused, and crash recovery reads up to that much.

use crate::error::sqlx_err;
use shonin_types::StorageError;
use sqlx::{Pool, Row, Sqlite};
use std::time::Duration;

/// How often the background checkpoint runs.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);
/// The writer connection's `wal_autocheckpoint`, in pages.
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 10_000;

/// One passive checkpoint: `(frames in the WAL, frames copied into the database)`; both 0
/// when the WAL is empty. `busy` (another checkpoint running) is not an error.
pub(crate) async fn checkpoint(pool: &Pool<Sqlite>) -> Result<(i64, i64), StorageError> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
        .map_err(sqlx_err("wal checkpoint"))?;
    let frames: i64 = row.try_get(1).map_err(sqlx_err("wal checkpoint"))?;
    let copied: i64 = row.try_get(2).map_err(sqlx_err("wal checkpoint"))?;
    Ok((frames.max(0), copied.max(0)))
}

/// Starts the checkpoint task on `pool` (a pool of one connection of its own); it ends when the
/// pool is closed. Nothing is started outside a Tokio runtime (tests, one-shot CLI commands):
/// the writer's backstop then checkpoints as SQLite does by default.
pub(crate) fn start(pool: Pool<Sqlite>) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    tokio::spawn(async move {
        let closed = pool.close_event();
        tokio::pin!(closed);
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut closed => break,
                _ = tick.tick() => {}
            }
            match checkpoint(&pool).await {
                Ok((frames, copied)) => {
                    metrics::gauge!("shonin_store_sqlite_wal_frames").set(frames as f64);
                    metrics::gauge!("shonin_store_sqlite_wal_frames_behind")
                        .set((frames - copied) as f64);
                }
                // Closing, or a disk error that the writer will report on its next commit.
                Err(e) => {
                    if pool.is_closed() {
                        break;
                    }
                    metrics::counter!("shonin_store_sqlite_checkpoint_errors_total").increment(1);
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                }
            }
        }
    });
}
