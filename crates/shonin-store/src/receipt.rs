//! [`ReceiptStore`] over both engines: reading transaction approval receipts. They are written
//! only by a request's unit of work (`shonin_txn::receipt::StoredReceipt` is a row).

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::from_micros;
use async_trait::async_trait;
use shonin_txn::receipt::{ReceiptStore, StoredReceipt};
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn get_receipt(&self, txn_id: &str) -> Result<Option<StoredReceipt>, StorageError> {
        let row = sqlx::query(
            "SELECT txn_id, client_id, user_id, receipt, approved_at FROM txn_receipts \
             WHERE txn_id = $1",
        )
        .bind(txn_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("receipt get"))?;
        let Some(row) = row else { return Ok(None) };
        let bad =
            |col: &str| StorageError::Corrupt(format!("receipt {txn_id}: {col} does not decode"));
        let approved_at: i64 = row.try_get("approved_at").map_err(|_| bad("approved_at"))?;
        Ok(Some(StoredReceipt {
            txn_id: row.try_get("txn_id").map_err(|_| bad("txn_id"))?,
            client_id: row.try_get("client_id").map_err(|_| bad("client_id"))?,
            user_id: row.try_get("user_id").map_err(|_| bad("user_id"))?,
            receipt: row.try_get("receipt").map_err(|_| bad("receipt"))?,
            approved_at: from_micros(approved_at, &format!("receipt {txn_id}"))?,
        }))
    }
}

#[async_trait]
impl ReceiptStore for Store {
    async fn get_receipt(&self, txn_id: &str) -> Result<Option<StoredReceipt>, StorageError> {
        dispatch!(self, s => s.sql.get_receipt(txn_id).await)
    }
}
