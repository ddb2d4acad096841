//! [`UserStore`] over both engines. The failed-sign-in count is one atomic `UPDATE … RETURNING`,
//! so concurrent failures on any number of nodes are all counted.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use serde_json::{Value, json};
use shonin_identity::user::{FailedSignIns, PasswordHash, User, UserStore, Username};
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::{Duration, OffsetDateTime};

/// The columns of `users`, in the order `create_user` binds them.
macro_rules! user_columns {
    () => {
        "id, username, disabled, password_hash, failed_attempts, locked_until, created_at, data, \
         passkey_only, sessions_valid_after"
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
    for<'e> Option<&'e str>: Encode<'e, DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Decode<'e, DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn create_user(&self, user: &User) -> Result<(), StorageError> {
        let data = json!({ "display_name": user.display_name }).to_string();
        sqlx::query(concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(user.id.as_str())
        .bind(user.username.as_str())
        .bind(user.disabled)
        .bind(user.password_hash.as_ref().map(PasswordHash::as_str))
        .bind(i64::from(user.failed_attempts))
        .bind(user.locked_until.map(to_micros))
        .bind(to_micros(user.created_at))
        .bind(data.as_str())
        .bind(user.passkey_only)
        .bind(user.sessions_valid_after.map(to_micros))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("user create"))?;
        Ok(())
    }

    async fn get_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<User>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("user get"))?;
        row.as_ref().map(decode_user::<DB>).transpose()
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("user get"))?;
        row.as_ref().map(decode_user::<DB>).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("user list"))?;
        rows.iter().map(decode_user::<DB>).collect()
    }

    async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool, StorageError> {
        let result = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("user disable"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn end_sessions(&self, id: &str, at: OffsetDateTime) -> Result<bool, StorageError> {
        let result = sqlx::query("UPDATE users SET sessions_valid_after = $1 WHERE id = $2")
            .bind(to_micros(at))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("user end sessions"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn set_passkey_only(&self, id: &str, on: bool) -> Result<bool, StorageError> {
        let result = sqlx::query("UPDATE users SET passkey_only = $1 WHERE id = $2")
            .bind(on)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("user passkey-only"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StorageError> {
        let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash.as_str())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("user password"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn record_failed_sign_in(
        &self,
        id: &str,
        now: OffsetDateTime,
        max_failures: u32,
        lock_for: Duration,
    ) -> Result<Option<FailedSignIns>, StorageError> {
        let now_us = to_micros(now);
        let lock_us = i64::try_from(lock_for.whole_microseconds()).unwrap_or(i64::MAX);
        let until = now_us.saturating_add(lock_us);
        // One statement: the row lock (PostgreSQL) or the database write lock (SQLite) orders
        // concurrent failures, and each one reads the count the previous one wrote. In SET, every
        // column reference is the row's value before this update.
        let row = sqlx::query(
            "UPDATE users SET \
               failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 \
                                      THEN 1 ELSE failed_attempts + 1 END, \
               locked_until = CASE \
                 WHEN locked_until IS NOT NULL AND locked_until > $2 THEN locked_until \
                 WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 \
                            THEN 1 ELSE failed_attempts + 1 END) >= $3 THEN $4 \
                 ELSE NULL END \
             WHERE id = $1 \
             RETURNING failed_attempts, locked_until",
        )
        .bind(id)
        .bind(now_us)
        .bind(i64::from(max_failures))
        .bind(until)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("user failed sign-in"))?;
        let Some(row) = row else { return Ok(None) };
        let bad = |what: &str| StorageError::Corrupt(format!("user {id}: {what}"));
        let count: i64 = row
            .try_get("failed_attempts")
            .map_err(|_| bad("failed_attempts does not decode"))?;
        let locked: Option<i64> = row
            .try_get("locked_until")
            .map_err(|_| bad("locked_until does not decode"))?;
        Ok(Some(FailedSignIns {
            count: u32::try_from(count).map_err(|_| bad("failed_attempts out of range"))?,
            locked_until: locked
                .map(|t| from_micros(t, &format!("user {id} locked_until")))
                .transpose()?,
        }))
    }

    async fn reset_failed_sign_ins(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let result = sqlx::query(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL \
             WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(id)
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("user reset sign-ins"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn unlock_user(&self, id: &str) -> Result<bool, StorageError> {
        let result =
            sqlx::query("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(sqlx_err("user unlock"))?;
        Ok(DB::rows_affected(&result) == 1)
    }
}

fn decode_user<DB: Engine>(row: &DB::Row) -> Result<User, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Decode<'e, DB>,
    for<'e> bool: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Decode<'e, DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let id: String = row
        .try_get("id")
        .map_err(|_| StorageError::Corrupt("user: id does not decode".into()))?;
    let bad = |what: &str| StorageError::Corrupt(format!("user {id}: {what}"));
    let get_err = |col: &str| bad(&format!("{col} does not decode"));
    let username: String = row.try_get("username").map_err(|_| get_err("username"))?;
    let hash: Option<String> = row
        .try_get("password_hash")
        .map_err(|_| get_err("password_hash"))?;
    let failed: i64 = row
        .try_get("failed_attempts")
        .map_err(|_| get_err("failed_attempts"))?;
    let locked: Option<i64> = row
        .try_get("locked_until")
        .map_err(|_| get_err("locked_until"))?;
    let created: i64 = row
        .try_get("created_at")
        .map_err(|_| get_err("created_at"))?;
    let sessions_after: Option<i64> = row
        .try_get("sessions_valid_after")
        .map_err(|_| get_err("sessions_valid_after"))?;
    let data: String = row.try_get("data").map_err(|_| get_err("data"))?;
    let data: Value = serde_json::from_str(&data).map_err(|_| bad("data is not JSON"))?;
    let display_name = match data.get("display_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("display_name is not a string")),
    };
    let username = Username::new(&username).map_err(|_| bad("username breaks the rule"))?;
    Ok(User {
        disabled: row.try_get("disabled").map_err(|_| get_err("disabled"))?,
        passkey_only: row
            .try_get("passkey_only")
            .map_err(|_| get_err("passkey_only"))?,
        password_hash: hash
            .map(|h| PasswordHash::parse(&h))
            .transpose()
            .map_err(|_| bad("password_hash is not an Argon2id PHC string"))?,
        failed_attempts: u32::try_from(failed).map_err(|_| bad("failed_attempts out of range"))?,
        locked_until: locked
            .map(|t| from_micros(t, &format!("user {id} locked_until")))
            .transpose()?,
        sessions_valid_after: sessions_after
            .map(|t| from_micros(t, &format!("user {id} sessions_valid_after")))
            .transpose()?,
        created_at: from_micros(created, &format!("user {id} created_at"))?,
        username,
        display_name,
        id,
    })
}

#[async_trait]
impl UserStore for Store {
    async fn create_user(&self, user: &User) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.create_user(user).await)
    }

    async fn get_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<User>, StorageError> {
        dispatch!(self, s => s.sql.get_user_by_username(username).await)
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StorageError> {
        dispatch!(self, s => s.sql.get_user(id).await)
    }

    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        dispatch!(self, s => s.sql.list_users().await)
    }

    async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.set_user_disabled(id, disabled).await)
    }

    async fn set_passkey_only(&self, id: &str, on: bool) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.set_passkey_only(id, on).await)
    }

    async fn end_sessions(&self, id: &str, at: OffsetDateTime) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.end_sessions(id, at).await)
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.set_password_hash(id, hash).await)
    }

    async fn record_failed_sign_in(
        &self,
        id: &str,
        now: OffsetDateTime,
        max_failures: u32,
        lock_for: Duration,
    ) -> Result<Option<FailedSignIns>, StorageError> {
        dispatch!(self, s => s.sql.record_failed_sign_in(id, now, max_failures, lock_for).await)
    }

    async fn reset_failed_sign_ins(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.reset_failed_sign_ins(id, now).await)
    }

    async fn unlock_user(&self, id: &str) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.unlock_user(id).await)
    }
}
