//! [`RecoveryCodeStore`] over both engines. Replacing a user's codes is one transaction; using a
//! code is one `UPDATE … WHERE used_at IS NULL`, so a code is spent at most once on any node.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::to_micros;
use async_trait::async_trait;
use shonin_passkeys::RecoveryCodeStore;
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let op = "recovery codes replace";
        let mut tx = self.pool.begin().await.map_err(sqlx_err(op))?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_err(op))?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(hash.as_slice())
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await
            .map_err(sqlx_err(op))?;
        }
        tx.commit().await.map_err(sqlx_err(op))
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let result = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash.as_slice())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("recovery code use"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn unused_recovery_codes(&self, user_id: &str) -> Result<u32, StorageError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .map_err(sqlx_err("recovery code count"))?;
        let n: i64 = row
            .try_get("n")
            .map_err(|_| StorageError::Corrupt("recovery code count does not decode".into()))?;
        u32::try_from(n)
            .map_err(|_| StorageError::Corrupt("recovery code count out of range".into()))
    }
}

#[async_trait]
impl RecoveryCodeStore for Store {
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.replace_recovery_codes(user_id, hashes, now).await)
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.use_recovery_code(user_id, hash, now).await)
    }

    async fn unused_recovery_codes(&self, user_id: &str) -> Result<u32, StorageError> {
        dispatch!(self, s => s.sql.unused_recovery_codes(user_id).await)
    }
}
