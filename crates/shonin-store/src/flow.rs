//! [`FlowStore`] over both engines: every change is a compare-and-set on the previous state.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_types::StorageError;
use shonin_types::ports::{FlowRecord, FlowStore};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn create_flow(&self, r: &FlowRecord) -> Result<(), StorageError> {
        let now = to_micros(self.clock.now());
        // An expired record is as good as absent (it is never returned), so its id may be reused
        // before the sweeper removes it; an unexpired one is a conflict.
        let result = sqlx::query(
            "INSERT INTO flow_records (kind, id, state, data, expires_at, version) \
             VALUES ($1, $2, $3, $4, $5, 1) \
             ON CONFLICT (kind, id) DO UPDATE SET state = excluded.state, data = excluded.data, \
             expires_at = excluded.expires_at, version = 1 \
             WHERE flow_records.expires_at <= $6",
        )
        .bind(r.kind.as_str())
        .bind(r.id.as_str())
        .bind(r.state.as_str())
        .bind(r.data.as_slice())
        .bind(to_micros(r.expires_at))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("flow create"))?;
        if DB::rows_affected(&result) == 1 {
            Ok(())
        } else {
            Err(StorageError::Conflict("flow create: already exists".into()))
        }
    }

    async fn get_flow(
        &self,
        kind: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError> {
        let row = sqlx::query(
            "SELECT kind, id, state, data, expires_at, version FROM flow_records \
             WHERE kind = $1 AND id = $2 AND expires_at > $3",
        )
        .bind(kind)
        .bind(id)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("flow get"))?;
        row.as_ref().map(decode_flow::<DB>).transpose()
    }

    async fn transition_flow(
        &self,
        kind: &str,
        id: &str,
        from_state: &str,
        to_state: &str,
        data: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError> {
        // One statement: the WHERE clause is the compare, so of any number of concurrent callers
        // from the same state exactly one matches the row.
        let row = sqlx::query(
            "UPDATE flow_records SET state = $1, data = $2, version = version + 1 \
             WHERE kind = $3 AND id = $4 AND state = $5 AND expires_at > $6 \
             RETURNING kind, id, state, data, expires_at, version",
        )
        .bind(to_state)
        .bind(data)
        .bind(kind)
        .bind(id)
        .bind(from_state)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("flow transition"))?;
        row.as_ref().map(decode_flow::<DB>).transpose()
    }

    async fn sweep_flows(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = sqlx::query("DELETE FROM flow_records WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("flow sweep"))?;
        Ok(DB::rows_affected(&result))
    }
}

fn decode_flow<DB: Engine>(row: &DB::Row) -> Result<FlowRecord, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let bad = |col: &str| StorageError::Corrupt(format!("flow record: {col} does not decode"));
    let kind: String = row.try_get("kind").map_err(|_| bad("kind"))?;
    let id: String = row.try_get("id").map_err(|_| bad("id"))?;
    let expires_at: i64 = row.try_get("expires_at").map_err(|_| bad("expires_at"))?;
    Ok(FlowRecord {
        state: row.try_get("state").map_err(|_| bad("state"))?,
        data: row.try_get("data").map_err(|_| bad("data"))?,
        expires_at: from_micros(expires_at, &format!("flow record {kind}/{id}"))?,
        version: row.try_get("version").map_err(|_| bad("version"))?,
        kind,
        id,
    })
}

#[async_trait]
impl FlowStore for Store {
    async fn create_flow(&self, record: &FlowRecord) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.create_flow(record).await)
    }

    async fn get_flow(
        &self,
        kind: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError> {
        dispatch!(self, s => s.sql.get_flow(kind, id, now).await)
    }

    async fn transition_flow(
        &self,
        kind: &str,
        id: &str,
        from_state: &str,
        to_state: &str,
        data: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError> {
        dispatch!(self, s => s.sql.transition_flow(kind, id, from_state, to_state, data, now).await)
    }

    async fn sweep_flows(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_flows(now).await)
    }
}
