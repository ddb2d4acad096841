//! [`ClientStore`] over both engines: the client as JSON beside its id and times.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_oauth::client::{Client, ClientId, ClientStore};
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
    async fn create_client(&self, client: &Client) -> Result<(), StorageError> {
        let data = encode_client(client)?;
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(client.client_id.as_str())
        .bind(data.as_str())
        .bind(to_micros(client.created_at))
        .bind(to_micros(client.updated_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("client create"))?;
        Ok(())
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<Option<Client>, StorageError> {
        let row = sqlx::query(
            "SELECT client_id, data, created_at, updated_at FROM oauth_clients \
             WHERE client_id = $1",
        )
        .bind(client_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("client get"))?;
        row.as_ref().map(decode_client::<DB>).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StorageError> {
        let rows = sqlx::query(
            "SELECT client_id, data, created_at, updated_at FROM oauth_clients \
             ORDER BY client_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("client list"))?;
        rows.iter().map(decode_client::<DB>).collect()
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StorageError> {
        let data = encode_client(client)?;
        let result =
            sqlx::query("UPDATE oauth_clients SET data = $1, updated_at = $2 WHERE client_id = $3")
                .bind(data.as_str())
                .bind(to_micros(client.updated_at))
                .bind(client.client_id.as_str())
                .execute(&self.pool)
                .await
                .map_err(sqlx_err("client update"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StorageError> {
        let result = sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1")
            .bind(client_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("client delete"))?;
        Ok(DB::rows_affected(&result) == 1)
    }
}

fn encode_client(client: &Client) -> Result<String, StorageError> {
    serde_json::to_string(client).map_err(|e| {
        // Only a non-string map key could fail here, and `Client` has none.
        tracing::error!(error = %e, "client does not serialise");
        StorageError::Conflict("client: does not serialise to JSON".into())
    })
}

/// The stored client; the id and times come from their columns, the rest from `data`.
fn decode_client<DB: Engine>(row: &DB::Row) -> Result<Client, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let id: String = row
        .try_get("client_id")
        .map_err(|_| StorageError::Corrupt("client: client_id does not decode".into()))?;
    let bad = |what: &str| StorageError::Corrupt(format!("client {id}: {what}"));
    let data: String = row
        .try_get("data")
        .map_err(|_| bad("data does not decode"))?;
    let created_at: i64 = row
        .try_get("created_at")
        .map_err(|_| bad("created_at does not decode"))?;
    let updated_at: i64 = row
        .try_get("updated_at")
        .map_err(|_| bad("updated_at does not decode"))?;
    let mut client: Client =
        serde_json::from_str(&data).map_err(|_| bad("data is not a valid client"))?;
    if client.client_id.as_str() != id {
        return Err(bad("data names another client_id"));
    }
    client.created_at = from_micros(created_at, &format!("client {id} created_at"))?;
    client.updated_at = from_micros(updated_at, &format!("client {id} updated_at"))?;
    Ok(client)
}

#[async_trait]
impl ClientStore for Store {
    async fn create_client(&self, client: &Client) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.create_client(client).await)
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<Option<Client>, StorageError> {
        dispatch!(self, s => s.sql.get_client(client_id).await)
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StorageError> {
        dispatch!(self, s => s.sql.list_clients().await)
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.update_client(client).await)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.delete_client(client_id).await)
    }
}
