//! [`VaultStore`] over both engines: the card vault's records.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use shonin_types::StorageError;
use shonin_vault::{Sealed, StoredCard, VaultStore};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

macro_rules! columns {
    () => {
        "tenant, token, fingerprint, brand, first6, last4, exp_month, exp_year, kek_version, \
         wrapped_key, sealed, created_at, expires_at"
    };
}

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn vault_card_where(
        &self,
        sql: &'static str,
        tenant: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCard>, StorageError> {
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(key)
            .bind(to_micros(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlx_err("vault card get"))?;
        row.map(|r| decode::<DB>(&r)).transpose()
    }

    async fn insert_vault_card(
        &self,
        c: &StoredCard,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        // An expired record of the same number is gone for good before the new one goes in.
        sqlx::query(
            "DELETE FROM vault_cards WHERE tenant = $1 AND fingerprint = $2 AND expires_at <= $3",
        )
        .bind(c.tenant.as_str())
        .bind(c.fingerprint.as_str())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("vault card insert"))?;
        let result = sqlx::query(concat!(
            "INSERT INTO vault_cards (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"
        ))
        .bind(c.tenant.as_str())
        .bind(c.token.as_str())
        .bind(c.fingerprint.as_str())
        .bind(c.brand.as_str())
        .bind(c.first6.as_str())
        .bind(c.last4.as_str())
        .bind(i64::from(c.exp_month))
        .bind(i64::from(c.exp_year))
        .bind(c.sealed.kek_version.as_str())
        .bind(B64.encode(&c.sealed.wrapped_key))
        .bind(B64.encode(&c.sealed.ciphertext))
        .bind(to_micros(c.created_at))
        .bind(to_micros(c.expires_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("vault card insert"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn update_vault_card(
        &self,
        c: &StoredCard,
        expected_kek_version: &str,
    ) -> Result<bool, StorageError> {
        let result = sqlx::query(
            "UPDATE vault_cards SET exp_month = $3, exp_year = $4, kek_version = $5, \
             wrapped_key = $6, sealed = $7, expires_at = $8 \
             WHERE tenant = $1 AND token = $2 AND kek_version = $9",
        )
        .bind(c.tenant.as_str())
        .bind(c.token.as_str())
        .bind(i64::from(c.exp_month))
        .bind(i64::from(c.exp_year))
        .bind(c.sealed.kek_version.as_str())
        .bind(B64.encode(&c.sealed.wrapped_key))
        .bind(B64.encode(&c.sealed.ciphertext))
        .bind(to_micros(c.expires_at))
        .bind(expected_kek_version)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("vault card update"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn delete_vault_card(&self, tenant: &str, token: &str) -> Result<bool, StorageError> {
        let result = sqlx::query("DELETE FROM vault_cards WHERE tenant = $1 AND token = $2")
            .bind(tenant)
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("vault card delete"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM vault_cards WHERE kek_version <> $1 AND expires_at > $2 \
             ORDER BY tenant, token LIMIT $3"
        ))
        .bind(kek_version)
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("vault cards to rewrap"))?;
        rows.iter().map(decode::<DB>).collect()
    }

    async fn sweep_vault_cards(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = sqlx::query("DELETE FROM vault_cards WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("vault sweep"))?;
        Ok(DB::rows_affected(&result))
    }
}

fn decode<DB: Engine>(row: &DB::Row) -> Result<StoredCard, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let bad = |col: &str| StorageError::Corrupt(format!("vault card: {col} does not decode"));
    let text = |col: &'static str| row.try_get::<String, _>(col).map_err(|_| bad(col));
    let bytes = |col: &'static str| B64.decode(text(col)?.as_bytes()).map_err(|_| bad(col));
    let int = |col: &'static str| row.try_get::<i64, _>(col).map_err(|_| bad(col));
    Ok(StoredCard {
        tenant: text("tenant")?,
        token: text("token")?,
        fingerprint: text("fingerprint")?,
        brand: text("brand")?,
        first6: text("first6")?,
        last4: text("last4")?,
        exp_month: u8::try_from(int("exp_month")?).map_err(|_| bad("exp_month"))?,
        exp_year: u16::try_from(int("exp_year")?).map_err(|_| bad("exp_year"))?,
        sealed: Sealed {
            kek_version: text("kek_version")?,
            wrapped_key: bytes("wrapped_key")?,
            ciphertext: bytes("sealed")?,
        },
        created_at: from_micros(int("created_at")?, "vault card")?,
        expires_at: from_micros(int("expires_at")?, "vault card")?,
    })
}

#[async_trait]
impl VaultStore for Store {
    async fn vault_card(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCard>, StorageError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM vault_cards WHERE tenant = $1 AND token = $2 AND expires_at > $3"
        );
        dispatch!(self, s => s.sql.vault_card_where(SQL, tenant, token, now).await)
    }
    async fn vault_card_by_fingerprint(
        &self,
        tenant: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCard>, StorageError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM vault_cards WHERE tenant = $1 AND fingerprint = $2 AND expires_at > $3"
        );
        dispatch!(self, s => s.sql.vault_card_where(SQL, tenant, fingerprint, now).await)
    }
    async fn insert_vault_card(
        &self,
        card: &StoredCard,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.insert_vault_card(card, now).await)
    }
    async fn update_vault_card(
        &self,
        card: &StoredCard,
        expected_kek_version: &str,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.update_vault_card(card, expected_kek_version).await)
    }
    async fn delete_vault_card(&self, tenant: &str, token: &str) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.delete_vault_card(tenant, token).await)
    }
    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError> {
        dispatch!(self, s => s.sql.vault_cards_not_under(kek_version, now, limit).await)
    }
    async fn sweep_vault_cards(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_vault_cards(now).await)
    }
}
