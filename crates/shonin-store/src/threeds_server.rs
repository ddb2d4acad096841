//! [`ServerStore`] over both engines: the 3DS Server's transactions. They are inserted and moved
//! by the request's unit of work (rows and compare-and-set updates); only the sweep writes here.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_3ds::server::flow::{ServerData, ServerState, ServerStore, ServerTransaction};
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn server_transaction(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ServerTransaction>, StorageError> {
        let row = sqlx::query(
            "SELECT three_ds_server_trans_id, client_id, state, data, created_at, expires_at, \
             version FROM threeds_server_transactions \
             WHERE three_ds_server_trans_id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("3ds server transaction get"))?;
        row.map(|r| decode::<DB>(&r)).transpose()
    }

    async fn sweep_server_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = sqlx::query("DELETE FROM threeds_server_transactions WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("3ds server sweep"))?;
        Ok(DB::rows_affected(&result))
    }
}

fn decode<DB: Engine>(row: &DB::Row) -> Result<ServerTransaction, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let bad =
        |col: &str| StorageError::Corrupt(format!("3ds server transaction: {col} does not decode"));
    let state: String = row.try_get("state").map_err(|_| bad("state"))?;
    let data: String = row.try_get("data").map_err(|_| bad("data"))?;
    let data: ServerData = serde_json::from_str(&data).map_err(|_| bad("data"))?;
    let created_at: i64 = row.try_get("created_at").map_err(|_| bad("created_at"))?;
    let expires_at: i64 = row.try_get("expires_at").map_err(|_| bad("expires_at"))?;
    Ok(ServerTransaction {
        three_ds_server_trans_id: row
            .try_get("three_ds_server_trans_id")
            .map_err(|_| bad("three_ds_server_trans_id"))?,
        client_id: row.try_get("client_id").map_err(|_| bad("client_id"))?,
        state: ServerState::from_name(&state).ok_or_else(|| bad("state"))?,
        data,
        created_at: from_micros(created_at, "3ds server transaction")?,
        expires_at: from_micros(expires_at, "3ds server transaction")?,
        version: row.try_get("version").map_err(|_| bad("version"))?,
    })
}

#[async_trait]
impl ServerStore for Store {
    async fn server_transaction(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ServerTransaction>, StorageError> {
        dispatch!(self, s => s.sql.server_transaction(id, now).await)
    }
    async fn sweep_server_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_server_transactions(now).await)
    }
}
