//! [`ReplayStore`] over both engines: on PostgreSQL one atomic statement per check, on SQLite
//! a decision of the process's memo and an appended log row (`claims_memo.rs`).

use crate::batch::Claim;
use crate::engine::{Engine, SWEEP_CHUNK, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::to_micros;
use crate::unit::Unit;
use async_trait::async_trait;
use shonin_types::StorageError;
use shonin_types::ports::ReplayStore;
use shonin_types::unit::Outcome;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use time::OffsetDateTime;

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn first_use(
        &self,
        namespace: &str,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let now = to_micros(self.clock.now());
        let expires_at = to_micros(expires_at);
        if let Some(batch) = &self.batch {
            // A unit of one claim, so it shares the writer's batch with everything else.
            let unit = Unit {
                claims: vec![Claim {
                    namespace: namespace.to_owned(),
                    key: key.to_owned(),
                    expires_at,
                    now,
                }],
                updates: Vec::new(),
                rows: Vec::new(),
                audit: None,
            };
            if let Ok(result) = batch.unit(unit).await {
                return result.map(|o| o == Outcome::Committed { seq: None });
            }
        }
        self.first_use_at(namespace, key, expires_at, now).await
    }

    /// One claim in its own statement; `expires_at` and `now` in unix µs.
    pub(crate) async fn first_use_at(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        if let Some(memo) = &self.memo {
            memo.ensure_loaded(&self.pool).await?;
            let Some(granted) = memo.reserve(namespace, key, expires_at, now) else {
                return Ok(false);
            };
            let written = sqlx::query(
                "INSERT INTO replay_log (namespace, key, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(namespace)
            .bind(key)
            .bind(expires_at)
            .execute(&self.pool)
            .await;
            if let Err(e) = written {
                memo.release(&[granted]);
                return Err(sqlx_err("replay check")(e));
            }
            return Ok(true);
        }
        // Insert if absent; an existing row is taken over only if it has expired. Under
        // concurrency the loser of the insert race waits for the winner's row and then finds it
        // unexpired, so exactly one caller sees a changed row.
        let result = sqlx::query(
            "INSERT INTO replay_cache (namespace, key, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_cache.expires_at <= $4",
        )
        .bind(namespace)
        .bind(key)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("replay check"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn sweep_replays(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let now = to_micros(now);
        if let Some(memo) = &self.memo {
            memo.sweep(now);
            return self.sweep_replay_log(now).await;
        }
        let result = sqlx::query("DELETE FROM replay_cache WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("replay sweep"))?;
        Ok(DB::rows_affected(&result))
    }

    /// SQLite: deletes the expired rows of `replay_log` by ranges of [`SWEEP_CHUNK`] sequence
    /// numbers, oldest first, each range in its own short transaction queued behind the
    /// process's other writes (the append gate). The log has no index on `expires_at` (migration
    /// 0009): such an index took a few extra pages in every commit of the hot path, because claims
    /// of different lifetimes interleave in it, while a sweep once a minute can afford to read the
    /// log in sequence order. A range reads at most `SWEEP_CHUNK` rows, so no sweep holds the
    /// database's write lock for long.
    async fn sweep_replay_log(&self, now: i64) -> Result<u64, StorageError> {
        let (first, last): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT min(seq), max(seq) FROM replay_log")
                .fetch_one(&self.pool)
                .await
                .map_err(sqlx_err("replay sweep"))?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(0);
        };
        let mut deleted = 0;
        let mut from = first;
        while from <= last {
            let to = from.saturating_add(SWEEP_CHUNK - 1).min(last);
            let _queued = self.queue_write().await;
            let result = sqlx::query(
                "DELETE FROM replay_log WHERE seq BETWEEN $1 AND $2 AND expires_at <= $3",
            )
            .bind(from)
            .bind(to)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("replay sweep"))?;
            deleted += DB::rows_affected(&result);
            from = to.saturating_add(1);
        }
        Ok(deleted)
    }
}

#[async_trait]
impl ReplayStore for Store {
    async fn first_use(
        &self,
        namespace: &str,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.first_use(namespace, key, expires_at).await)
    }

    async fn sweep_replays(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_replays(now).await)
    }
}
