//! [`VaultStore`] over both engines: the card vault's records.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use shonin_audit::AuditRecord;
use shonin_types::StorageError;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use shonin_vault::{HeldCvv, Sealed, StoredCard, StoredNonce, VaultStore, VaultSwept};
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

    async fn delete_expired(
        &self,
        sql: &'static str,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        let result = sqlx::query(sql)
            .bind(to_micros(now))
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("vault sweep"))?;
        Ok(DB::rows_affected(&result))
    }

    async fn sweep_vault(&self, now: OffsetDateTime) -> Result<VaultSwept, StorageError> {
        Ok(VaultSwept {
            cards: self
                .delete_expired("DELETE FROM vault_cards WHERE expires_at <= $1", now)
                .await?,
            nonces: self
                .delete_expired("DELETE FROM vault_nonces WHERE expires_at <= $1", now)
                .await?,
            cvvs: self
                .delete_expired("DELETE FROM vault_cvvs WHERE expires_at <= $1", now)
                .await?,
            client_tokens: self
                .delete_expired(
                    "DELETE FROM vault_client_tokens WHERE expires_at <= $1",
                    now,
                )
                .await?,
        })
    }

    async fn vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError> {
        let row = sqlx::query(
            "SELECT digest, tenant, kek_version, wrapped_key, sealed, created_at, expires_at \
             FROM vault_nonces WHERE tenant = $1 AND digest = $2 AND expires_at > $3",
        )
        .bind(tenant)
        .bind(digest)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("vault nonce get"))?;
        row.map(|r| {
            let d = Columns::<DB>::new(&r, "vault nonce");
            Ok(StoredNonce {
                digest: d.text("digest")?,
                tenant: d.text("tenant")?,
                sealed: d.sealed()?,
                created_at: d.time("created_at")?,
                expires_at: d.time("expires_at")?,
            })
        })
        .transpose()
    }

    async fn vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError> {
        let row = sqlx::query(
            "SELECT tenant, token, kek_version, wrapped_key, sealed, expires_at \
             FROM vault_cvvs WHERE tenant = $1 AND token = $2 AND expires_at > $3",
        )
        .bind(tenant)
        .bind(token)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("vault cvv get"))?;
        row.map(|r| {
            let d = Columns::<DB>::new(&r, "vault cvv");
            Ok(HeldCvv {
                tenant: d.text("tenant")?,
                token: d.text("token")?,
                sealed: d.sealed()?,
                expires_at: d.time("expires_at")?,
            })
        })
        .transpose()
    }
}

/// Reads the columns of one row, naming the record kind in errors.
struct Columns<'r, DB: Engine> {
    row: &'r DB::Row,
    what: &'static str,
}

impl<'r, DB: Engine> Columns<'r, DB>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    fn new(row: &'r DB::Row, what: &'static str) -> Self {
        Columns { row, what }
    }

    fn bad(&self, col: &str) -> StorageError {
        StorageError::Corrupt(format!("{}: {col} does not decode", self.what))
    }

    fn text(&self, col: &'static str) -> Result<String, StorageError> {
        self.row
            .try_get::<String, _>(col)
            .map_err(|_| self.bad(col))
    }

    fn bytes(&self, col: &'static str) -> Result<Vec<u8>, StorageError> {
        B64.decode(self.text(col)?.as_bytes())
            .map_err(|_| self.bad(col))
    }

    fn int(&self, col: &'static str) -> Result<i64, StorageError> {
        self.row.try_get::<i64, _>(col).map_err(|_| self.bad(col))
    }

    fn time(&self, col: &'static str) -> Result<OffsetDateTime, StorageError> {
        from_micros(self.int(col)?, self.what)
    }

    fn sealed(&self) -> Result<Sealed, StorageError> {
        Ok(Sealed {
            kek_version: self.text("kek_version")?,
            wrapped_key: self.bytes("wrapped_key")?,
            ciphertext: self.bytes("sealed")?,
        })
    }
}

fn decode<DB: Engine>(row: &DB::Row) -> Result<StoredCard, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let d = Columns::<DB>::new(row, "vault card");
    let small = |col: &'static str| d.int(col).map_err(|_| d.bad(col));
    Ok(StoredCard {
        tenant: d.text("tenant")?,
        token: d.text("token")?,
        fingerprint: d.text("fingerprint")?,
        brand: d.text("brand")?,
        first6: d.text("first6")?,
        last4: d.text("last4")?,
        exp_month: u8::try_from(small("exp_month")?).map_err(|_| d.bad("exp_month"))?,
        exp_year: u16::try_from(small("exp_year")?).map_err(|_| d.bad("exp_year"))?,
        sealed: d.sealed()?,
        created_at: d.time("created_at")?,
        expires_at: d.time("expires_at")?,
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
    async fn write_vault_unit(&self, unit: UnitOfWork) -> Result<Outcome, StorageError> {
        UnitStore::<AuditRecord>::commit(self, unit, None).await
    }
    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError> {
        dispatch!(self, s => s.sql.vault_cards_not_under(kek_version, now, limit).await)
    }
    async fn sweep_vault(&self, now: OffsetDateTime) -> Result<VaultSwept, StorageError> {
        dispatch!(self, s => s.sql.sweep_vault(now).await)
    }
    async fn vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError> {
        dispatch!(self, s => s.sql.vault_nonce(tenant, digest, now).await)
    }
    async fn vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError> {
        dispatch!(self, s => s.sql.vault_cvv(tenant, token, now).await)
    }
}
