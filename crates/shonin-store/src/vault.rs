//! [`VaultStore`] over both engines: the card vault's records.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use shonin_types::StorageError;
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
        // A CVV held for the card goes first; the answer is the card statement's (the last).
        let mut deleted = 0;
        for sql in [
            "DELETE FROM vault_cvvs WHERE tenant = $1 AND token = $2",
            "DELETE FROM vault_cards WHERE tenant = $1 AND token = $2",
        ] {
            let result = sqlx::query(sql)
                .bind(tenant)
                .bind(token)
                .execute(&self.pool)
                .await
                .map_err(sqlx_err("vault card delete"))?;
            deleted = DB::rows_affected(&result);
        }
        Ok(deleted == 1)
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
        })
    }

    async fn insert_vault_nonce(&self, n: &StoredNonce) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO vault_nonces (digest, tenant, kek_version, wrapped_key, sealed, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(n.digest.as_str())
        .bind(n.tenant.as_str())
        .bind(n.sealed.kek_version.as_str())
        .bind(B64.encode(&n.sealed.wrapped_key))
        .bind(B64.encode(&n.sealed.ciphertext))
        .bind(to_micros(n.created_at))
        .bind(to_micros(n.expires_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("vault nonce insert"))?;
        Ok(())
    }

    async fn take_vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError> {
        // One statement: the row goes to whichever caller's DELETE reaches it first.
        let row = sqlx::query(
            "DELETE FROM vault_nonces WHERE digest = $1 AND tenant = $2 AND expires_at > $3 \
             RETURNING digest, tenant, kek_version, wrapped_key, sealed, created_at, expires_at",
        )
        .bind(digest)
        .bind(tenant)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("vault nonce take"))?;
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

    async fn hold_vault_cvv(&self, c: &HeldCvv) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO vault_cvvs (tenant, token, kek_version, wrapped_key, sealed, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, token) DO UPDATE SET \
             kek_version = excluded.kek_version, wrapped_key = excluded.wrapped_key, \
             sealed = excluded.sealed, expires_at = excluded.expires_at",
        )
        .bind(c.tenant.as_str())
        .bind(c.token.as_str())
        .bind(c.sealed.kek_version.as_str())
        .bind(B64.encode(&c.sealed.wrapped_key))
        .bind(B64.encode(&c.sealed.ciphertext))
        .bind(to_micros(c.expires_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("vault cvv hold"))?;
        Ok(())
    }

    async fn take_vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError> {
        let row = sqlx::query(
            "DELETE FROM vault_cvvs WHERE tenant = $1 AND token = $2 \
             RETURNING tenant, token, kek_version, wrapped_key, sealed, expires_at",
        )
        .bind(tenant)
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("vault cvv take"))?;
        let Some(r) = row else { return Ok(None) };
        let d = Columns::<DB>::new(&r, "vault cvv");
        let held = HeldCvv {
            tenant: d.text("tenant")?,
            token: d.text("token")?,
            sealed: d.sealed()?,
            expires_at: d.time("expires_at")?,
        };
        // An expired one is deleted all the same, and not returned.
        Ok((held.expires_at > now).then_some(held))
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
    async fn sweep_vault(&self, now: OffsetDateTime) -> Result<VaultSwept, StorageError> {
        dispatch!(self, s => s.sql.sweep_vault(now).await)
    }
    async fn insert_vault_nonce(&self, nonce: &StoredNonce) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.insert_vault_nonce(nonce).await)
    }
    async fn take_vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError> {
        dispatch!(self, s => s.sql.take_vault_nonce(tenant, digest, now).await)
    }
    async fn hold_vault_cvv(&self, cvv: &HeldCvv) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.hold_vault_cvv(cvv).await)
    }
    async fn take_vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError> {
        dispatch!(self, s => s.sql.take_vault_cvv(tenant, token, now).await)
    }
}
