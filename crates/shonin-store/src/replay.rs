//! [`ReplayStore`] over both engines: on PostgreSQL one atomic statement per check, on SQLite
//! a decision of the process's memo and an appended log row (`claims_memo.rs`).

use crate::batch::Claim;
use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::to_micros;
use async_trait::async_trait;
use shonin_types::StorageError;
use shonin_types::ports::ReplayStore;
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
            let claim = Claim {
                namespace: namespace.to_owned(),
                key: key.to_owned(),
                expires_at,
                now,
            };
            if let Some(result) = batch.claim(claim).await {
                return result;
            }
        }
        self.first_use_at(namespace, key, expires_at, now).await
    }

    async fn first_use_many(
        &self,
        claims: &[(&str, &str, OffsetDateTime)],
    ) -> Result<Vec<bool>, StorageError> {
        let now = to_micros(self.clock.now());
        let claims: Vec<Claim> = claims
            .iter()
            .map(|(namespace, key, expires_at)| Claim {
                namespace: (*namespace).to_owned(),
                key: (*key).to_owned(),
                expires_at: to_micros(*expires_at),
                now,
            })
            .collect();
        if let Some(batch) = &self.batch
            && let Some(result) = batch.claims(claims.clone()).await
        {
            return result;
        }
        let mut fresh = Vec::with_capacity(claims.len());
        for c in &claims {
            fresh.push(
                self.first_use_at(&c.namespace, &c.key, c.expires_at, c.now)
                    .await?,
            );
        }
        Ok(fresh)
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
        let sql = match &self.memo {
            Some(memo) => {
                memo.sweep(now);
                "DELETE FROM replay_log WHERE expires_at <= $1"
            }
            None => "DELETE FROM replay_cache WHERE expires_at <= $1",
        };
        let result = sqlx::query(sql)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("replay sweep"))?;
        Ok(DB::rows_affected(&result))
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

    async fn first_use_many(
        &self,
        claims: &[(&str, &str, OffsetDateTime)],
    ) -> Result<Vec<bool>, StorageError> {
        dispatch!(self, s => s.sql.first_use_many(claims).await)
    }

    async fn sweep_replays(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_replays(now).await)
    }
}
