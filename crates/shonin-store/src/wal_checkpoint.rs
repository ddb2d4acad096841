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
//! the writer, and backs off to [`IDLE_INTERVAL`] while nothing is committed. The interval is
//! short because each pass ends with an `fsync` of the database file on the disk the writer's
//! commits sync to: the more pages a pass copies, the longer that `fsync`, and a commit syncing
//! at the same time waits behind it. At 250 ms the p99 of token requests was 45 ms at 32
//! connections, at 10 ms 16–23 ms, for the same throughput within the noise and 17–25 % more
//! bytes written (pages changed again between passes are copied again; bench/profile.sh
//! sqlite, 2026-12-03). The writer keeps an automatic checkpoint only as a backstop at
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

/// How often the background checkpoint runs while the WAL grows.
pub(crate) const INTERVAL: Duration = Duration::from_millis(10);
/// The longest wait between passes once nothing new is committed (doubling from [`INTERVAL`]).
pub(crate) const IDLE_INTERVAL: Duration = Duration::from_millis(250);
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
        let (mut wait, mut last) = (INTERVAL, (0, 0));
        loop {
            tokio::select! {
                () = &mut closed => break,
                () = tokio::time::sleep(wait) => {}
            }
            match checkpoint(&pool).await {
                Ok((frames, copied)) => {
                    metrics::gauge!("shonin_store_sqlite_wal_frames").set(frames as f64);
                    metrics::gauge!("shonin_store_sqlite_wal_frames_behind")
                        .set((frames - copied) as f64);
                    wait = next_wait(wait, last, (frames, copied));
                    last = (frames, copied);
                }
                // Closing, or a disk error that the writer will report on its next commit.
                Err(e) => {
                    if pool.is_closed() {
                        break;
                    }
                    metrics::counter!("shonin_store_sqlite_checkpoint_errors_total").increment(1);
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                    wait = IDLE_INTERVAL;
                }
            }
        }
    });
}

/// The wait before the next pass, after one that found the WAL at `now` (frames, copied) and
/// the one before at `last`: [`INTERVAL`] while something changed (commits arrived, or the pass
/// copied more), else twice the last wait, up to [`IDLE_INTERVAL`] — also when frames are left
/// that a reader still needs, so a long read does not make the task poll every 10 ms.
fn next_wait(wait: Duration, last: (i64, i64), now: (i64, i64)) -> Duration {
    if now != last {
        INTERVAL
    } else {
        (wait * 2).min(IDLE_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_follow_commits_and_back_off_when_idle() {
        // New frames, or more of them copied: the short interval.
        assert_eq!(next_wait(IDLE_INTERVAL, (10, 10), (25, 25)), INTERVAL);
        assert_eq!(next_wait(IDLE_INTERVAL, (25, 20), (25, 25)), INTERVAL);
        // Frames a reader holds back and nothing new: backing off, not polling.
        assert_eq!(next_wait(INTERVAL, (25, 20), (25, 20)), INTERVAL * 2);
        // A restarted WAL is new work too.
        assert_eq!(next_wait(IDLE_INTERVAL, (4000, 4000), (12, 12)), INTERVAL);
        // Nothing new: doubling up to the idle interval.
        let mut wait = INTERVAL;
        for _ in 0..10 {
            wait = next_wait(wait, (25, 25), (25, 25));
        }
        assert_eq!(wait, IDLE_INTERVAL);
        assert_eq!(next_wait(INTERVAL, (25, 25), (25, 25)), INTERVAL * 2);
    }
}
