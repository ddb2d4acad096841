//! [`PasskeyStore`] over both engines.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_passkeys::{PasskeyStore, StoredPasskey};
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

/// The columns of `passkeys`, in the order `insert_passkey` binds them.
macro_rules! passkey_columns {
    () => {
        "credential_id, user_id, name, credential, aaguid, backup_eligible, backup_state, \
         transports, sign_count, created_at, last_used_at"
    };
}

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> bool: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn insert_passkey(&self, p: &StoredPasskey) -> Result<(), StorageError> {
        let transports = serde_json::to_string(&p.transports)
            .map_err(|_| StorageError::Corrupt("passkey transports".into()))?;
        let aaguid = p.aaguid.to_string();
        sqlx::query(concat!(
            "INSERT INTO passkeys (",
            passkey_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(p.credential_id.as_str())
        .bind(p.user_id.as_str())
        .bind(p.name.as_str())
        .bind(p.credential.as_str())
        .bind(aaguid.as_str())
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(transports.as_str())
        .bind(i64::from(p.sign_count))
        .bind(to_micros(p.created_at))
        .bind(p.last_used_at.map(to_micros))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("passkey insert"))?;
        Ok(())
    }

    async fn get_passkey(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("passkey get"))?;
        row.as_ref().map(decode_passkey::<DB>).transpose()
    }

    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("passkey list"))?;
        rows.iter().map(decode_passkey::<DB>).collect()
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        used_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        // The counter only moves forward (WebAuthn L3 §7.2 step 22); authenticators without a
        // counter always report 0 and may be used any number of times.
        let result = sqlx::query(
            "UPDATE passkeys SET credential = $2, sign_count = $3, backup_state = $4, \
             last_used_at = $5 \
             WHERE credential_id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
        )
        .bind(credential_id)
        .bind(credential)
        .bind(i64::from(sign_count))
        .bind(backup_state)
        .bind(to_micros(used_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("passkey use"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StorageError> {
        let result =
            sqlx::query("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND credential_id = $2")
                .bind(user_id)
                .bind(credential_id)
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(sqlx_err("passkey rename"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn remove_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> Result<bool, StorageError> {
        let result = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user_id)
            .bind(credential_id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("passkey remove"))?;
        Ok(DB::rows_affected(&result) == 1)
    }
}

fn decode_passkey<DB: Engine>(row: &DB::Row) -> Result<StoredPasskey, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Decode<'e, DB>,
    for<'e> bool: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let id: String = row
        .try_get("credential_id")
        .map_err(|_| StorageError::Corrupt("passkey: credential_id does not decode".into()))?;
    let bad = |what: &str| StorageError::Corrupt(format!("passkey {id}: {what}"));
    let text = |col: &'static str| -> Result<String, StorageError> {
        row.try_get(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let int = |col: &'static str| -> Result<i64, StorageError> {
        row.try_get(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let flag = |col: &'static str| -> Result<bool, StorageError> {
        row.try_get(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let last_used: Option<i64> = row
        .try_get("last_used_at")
        .map_err(|_| bad("last_used_at does not decode"))?;
    Ok(StoredPasskey {
        user_id: text("user_id")?,
        name: text("name")?,
        credential: text("credential")?,
        aaguid: uuid::Uuid::parse_str(&text("aaguid")?).map_err(|_| bad("aaguid is not a UUID"))?,
        backup_eligible: flag("backup_eligible")?,
        backup_state: flag("backup_state")?,
        transports: serde_json::from_str(&text("transports")?)
            .map_err(|_| bad("transports is not a JSON list of strings"))?,
        sign_count: u32::try_from(int("sign_count")?)
            .map_err(|_| bad("sign_count out of range"))?,
        created_at: from_micros(int("created_at")?, &format!("passkey {id} created_at"))?,
        last_used_at: last_used
            .map(|t| from_micros(t, &format!("passkey {id} last_used_at")))
            .transpose()?,
        credential_id: id,
    })
}

#[async_trait]
impl PasskeyStore for Store {
    async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.insert_passkey(passkey).await)
    }

    async fn get_passkey(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, StorageError> {
        dispatch!(self, s => s.sql.get_passkey(credential_id).await)
    }

    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StorageError> {
        dispatch!(self, s => s.sql.list_passkeys(user_id).await)
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        used_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.record_passkey_use(credential_id, credential, sign_count, backup_state, used_at).await)
    }

    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.rename_passkey(user_id, credential_id, name).await)
    }

    async fn remove_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.remove_passkey(user_id, credential_id).await)
    }
}
