//! [`TokenStore`] over both engines: issued-token records keyed by `token_hash` (issue second,
//! then 192 bits of the token's SHA-256).

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_audit::AuditRecord;
use shonin_oauth::client::ClientId;
use shonin_oauth::token_record::{TokenHash, TokenKind, TokenRecord, TokenStore};
use shonin_types::StorageError;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

/// The columns of `oauth_tokens`, in the order of `shonin_oauth::token_record::TOKEN_COLUMNS`.
macro_rules! token_columns {
    () => {
        "token_hash, kind, client_id, subject, grant_id, scope, authorization_details, cnf_jkt, \
         cnf_x5t_s256, issued_at, expires_at, revoked_at"
    };
}

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Decode<'e, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Decode<'e, DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn get_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM oauth_tokens WHERE token_hash = $1"
        ))
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("token get"))?;
        row.as_ref().map(decode_token::<DB>).transpose()
    }

    async fn revoke_token(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let result = sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(to_micros(now))
        .bind(hash.as_slice())
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("token revoke"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn shorten_token(
        &self,
        hash: &TokenHash,
        until: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let until = to_micros(until);
        let result = sqlx::query(
            "UPDATE oauth_tokens SET expires_at = $1 \
             WHERE token_hash = $2 AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(until)
        .bind(hash.as_slice())
        .bind(until)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("token shorten"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        )
        .bind(to_micros(now))
        .bind(grant_id)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("token revoke grant"))?;
        Ok(DB::rows_affected(&result))
    }

    async fn revoke_certificate_bound(
        &self,
        client_id: &ClientId,
        x5t_s256: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        // Uses the client_id index; certificate revocation is a rare operator action.
        let result = sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $1 \
             WHERE client_id = $2 AND cnf_x5t_s256 = $3 AND revoked_at IS NULL",
        )
        .bind(to_micros(now))
        .bind(client_id.as_str())
        .bind(x5t_s256)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("token revoke certificate"))?;
        Ok(DB::rows_affected(&result))
    }

    async fn sweep_tokens(&self, expired_before: OffsetDateTime) -> Result<u64, StorageError> {
        // Through the expiry index; at a few thousand tokens a second a minute's sweep deletes
        // hundreds of thousands of records.
        self.delete_in_chunks(
            "DELETE FROM oauth_tokens WHERE token_hash IN \
             (SELECT token_hash FROM oauth_tokens WHERE expires_at <= $1 LIMIT $2)",
            to_micros(expired_before),
            "token sweep",
        )
        .await
    }
}

fn decode_token<DB: Engine>(row: &DB::Row) -> Result<TokenRecord, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Decode<'e, DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Decode<'e, DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let hash: Vec<u8> = row
        .try_get("token_hash")
        .map_err(|_| StorageError::Corrupt("token record: token_hash does not decode".into()))?;
    let token_hash = TokenHash::try_from(hash.as_slice())
        .map_err(|_| StorageError::Corrupt("token record: token_hash is not 32 bytes".into()))?;
    // Name the record by a few bytes of its hash (after the key's 8 bytes of time): enough to
    // find it, not enough to matter.
    let label: String = token_hash
        .iter()
        .skip(8)
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let bad = |what: &str| StorageError::Corrupt(format!("token record {label}…: {what}"));
    let text = |col: &'static str| -> Result<String, StorageError> {
        row.try_get::<String, _>(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let opt_text = |col: &'static str| -> Result<Option<String>, StorageError> {
        row.try_get::<Option<String>, _>(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let time = |col: &'static str| -> Result<OffsetDateTime, StorageError> {
        let us: i64 = row
            .try_get(col)
            .map_err(|_| bad(&format!("{col} does not decode")))?;
        from_micros(us, &format!("token record {label}… {col}"))
    };
    let revoked: Option<i64> = row
        .try_get("revoked_at")
        .map_err(|_| bad("revoked_at does not decode"))?;
    let details = opt_text("authorization_details")?
        .map(|d| serde_json::from_str(&d))
        .transpose()
        .map_err(|_| bad("authorization_details is not JSON"))?;
    Ok(TokenRecord {
        token_hash,
        kind: TokenKind::parse(&text("kind")?).ok_or_else(|| bad("unknown kind"))?,
        client_id: ClientId::try_from(text("client_id")?)
            .map_err(|_| bad("client_id breaks the rule"))?,
        subject: opt_text("subject")?,
        grant_id: text("grant_id")?,
        scope: text("scope")?,
        authorization_details: details,
        cnf_jkt: opt_text("cnf_jkt")?,
        cnf_x5t_s256: opt_text("cnf_x5t_s256")?,
        issued_at: time("issued_at")?,
        expires_at: time("expires_at")?,
        revoked_at: revoked
            .map(|t| from_micros(t, &format!("token record {label}… revoked_at")))
            .transpose()?,
    })
}

#[async_trait]
impl TokenStore for Store {
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StorageError> {
        // A unit of one row, so it shares the writer's batch with everything else.
        let mut unit = UnitOfWork::new();
        unit.insert(record);
        match UnitStore::<AuditRecord>::commit(self, unit, None).await? {
            Outcome::Committed { .. } => Ok(()),
            other => Err(StorageError::Corrupt(format!(
                "token insert: unexpected outcome {other:?}"
            ))),
        }
    }

    async fn get_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        dispatch!(self, s => s.sql.get_token(hash).await)
    }

    async fn revoke_token(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.revoke_token(hash, now).await)
    }

    async fn shorten_token(
        &self,
        hash: &TokenHash,
        until: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.shorten_token(hash, until).await)
    }

    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.revoke_grant(grant_id, now).await)
    }

    async fn revoke_certificate_bound(
        &self,
        client_id: &ClientId,
        x5t_s256: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.revoke_certificate_bound(client_id, x5t_s256, now).await)
    }

    async fn sweep_tokens(&self, expired_before: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_tokens(expired_before).await)
    }
}
