//! [`AcsStore`] over both engines: enrolled cards and the ACS's transactions. A transaction's
//! moves are compare-and-set updates of a unit of work; only enrolment, removal and the sweep
//! write here.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use crate::timestamp::{from_micros, to_micros};
use async_trait::async_trait;
use shonin_3ds::acs::store::{
    AcsStore, AcsTransaction, EnrolledCard, TransactionData, scheme_from_name, scheme_name,
    status_from_name,
};
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;

macro_rules! card_columns {
    () => {
        "fingerprint, user_id, masked, scheme, created_at"
    };
}

macro_rules! transaction_columns {
    () => {
        "acs_trans_id, card_fingerprint, trans_status, data, created_at, expires_at, version"
    };
}

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn enrolled_card(&self, fingerprint: &str) -> Result<Option<EnrolledCard>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            card_columns!(),
            " FROM acs_cards WHERE fingerprint = $1"
        ))
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("acs card get"))?;
        row.map(|r| decode_card::<DB>(&r)).transpose()
    }

    async fn enrolled_cards(&self) -> Result<Vec<EnrolledCard>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            card_columns!(),
            " FROM acs_cards ORDER BY created_at, fingerprint"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("acs card list"))?;
        rows.iter().map(decode_card::<DB>).collect()
    }

    async fn enrol_card(&self, card: &EnrolledCard) -> Result<bool, StorageError> {
        let result = sqlx::query(concat!(
            "INSERT INTO acs_cards (",
            card_columns!(),
            ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fingerprint) DO NOTHING"
        ))
        .bind(card.fingerprint.as_str())
        .bind(card.user_id.as_str())
        .bind(card.masked.as_str())
        .bind(scheme_name(card.scheme))
        .bind(to_micros(card.created_at))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("acs card enrol"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn remove_card(&self, fingerprint: &str) -> Result<bool, StorageError> {
        let result = sqlx::query("DELETE FROM acs_cards WHERE fingerprint = $1")
            .bind(fingerprint)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("acs card remove"))?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn frictionless_since(
        &self,
        fingerprint: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM acs_transactions WHERE card_fingerprint = $1 \
             AND created_at > $2 AND trans_status IN ('Y', 'A')",
        )
        .bind(fingerprint)
        .bind(to_micros(since))
        .fetch_one(&self.pool)
        .await
        .map_err(sqlx_err("acs velocity"))?;
        let n: i64 = row
            .try_get("n")
            .map_err(|_| StorageError::Corrupt("acs velocity: count does not decode".into()))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn acs_transaction(
        &self,
        acs_trans_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AcsTransaction>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            transaction_columns!(),
            " FROM acs_transactions WHERE acs_trans_id = $1 AND expires_at > $2"
        ))
        .bind(acs_trans_id)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("acs transaction get"))?;
        row.map(|r| decode_transaction::<DB>(&r)).transpose()
    }

    async fn due_challenges(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AcsTransaction>, StorageError> {
        let now = to_micros(now);
        let rows = sqlx::query(concat!(
            "SELECT ",
            transaction_columns!(),
            " FROM acs_transactions WHERE due_at IS NOT NULL AND due_at <= $1 \
             AND expires_at > $1 ORDER BY due_at LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("acs due challenges"))?;
        rows.iter().map(decode_transaction::<DB>).collect()
    }

    async fn known_browser(
        &self,
        card: &str,
        browser: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let row = sqlx::query(
            "SELECT acs_trans_id FROM acs_known_browsers WHERE card_fingerprint = $1 \
             AND browser = $2 AND expires_at > $3 LIMIT 1",
        )
        .bind(card)
        .bind(browser)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("acs known browser"))?;
        Ok(row.is_some())
    }

    async fn sweep_acs_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let mut removed = 0;
        for sql in [
            "DELETE FROM acs_transactions WHERE expires_at <= $1",
            "DELETE FROM acs_known_browsers WHERE expires_at <= $1",
        ] {
            let result = sqlx::query(sql)
                .bind(to_micros(now))
                .execute(&self.pool)
                .await
                .map_err(sqlx_err("acs sweep"))?;
            removed += DB::rows_affected(&result);
        }
        Ok(removed)
    }
}

fn decode_card<DB: Engine>(row: &DB::Row) -> Result<EnrolledCard, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let bad = |col: &str| StorageError::Corrupt(format!("acs card: {col} does not decode"));
    let scheme: String = row.try_get("scheme").map_err(|_| bad("scheme"))?;
    let created_at: i64 = row.try_get("created_at").map_err(|_| bad("created_at"))?;
    Ok(EnrolledCard {
        fingerprint: row.try_get("fingerprint").map_err(|_| bad("fingerprint"))?,
        user_id: row.try_get("user_id").map_err(|_| bad("user_id"))?,
        masked: row.try_get("masked").map_err(|_| bad("masked"))?,
        scheme: scheme_from_name(&scheme).ok_or_else(|| bad("scheme"))?,
        created_at: from_micros(created_at, "acs card")?,
    })
}

fn decode_transaction<DB: Engine>(row: &DB::Row) -> Result<AcsTransaction, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let bad = |col: &str| StorageError::Corrupt(format!("acs transaction: {col} does not decode"));
    let status: String = row
        .try_get("trans_status")
        .map_err(|_| bad("trans_status"))?;
    let data: String = row.try_get("data").map_err(|_| bad("data"))?;
    let data: TransactionData = serde_json::from_str(&data).map_err(|_| bad("data"))?;
    let created_at: i64 = row.try_get("created_at").map_err(|_| bad("created_at"))?;
    let expires_at: i64 = row.try_get("expires_at").map_err(|_| bad("expires_at"))?;
    Ok(AcsTransaction {
        acs_trans_id: row
            .try_get("acs_trans_id")
            .map_err(|_| bad("acs_trans_id"))?,
        card_fingerprint: row
            .try_get("card_fingerprint")
            .map_err(|_| bad("card_fingerprint"))?,
        trans_status: status_from_name(&status).ok_or_else(|| bad("trans_status"))?,
        data,
        created_at: from_micros(created_at, "acs transaction")?,
        expires_at: from_micros(expires_at, "acs transaction")?,
        version: row.try_get("version").map_err(|_| bad("version"))?,
    })
}

#[async_trait]
impl AcsStore for Store {
    async fn enrolled_card(&self, fingerprint: &str) -> Result<Option<EnrolledCard>, StorageError> {
        dispatch!(self, s => s.sql.enrolled_card(fingerprint).await)
    }
    async fn enrolled_cards(&self) -> Result<Vec<EnrolledCard>, StorageError> {
        dispatch!(self, s => s.sql.enrolled_cards().await)
    }
    async fn enrol_card(&self, card: &EnrolledCard) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.enrol_card(card).await)
    }
    async fn remove_card(&self, fingerprint: &str) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.remove_card(fingerprint).await)
    }
    async fn frictionless_since(
        &self,
        fingerprint: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.frictionless_since(fingerprint, since).await)
    }
    async fn acs_transaction(
        &self,
        acs_trans_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AcsTransaction>, StorageError> {
        dispatch!(self, s => s.sql.acs_transaction(acs_trans_id, now).await)
    }
    async fn due_challenges(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AcsTransaction>, StorageError> {
        dispatch!(self, s => s.sql.due_challenges(now, limit).await)
    }
    async fn known_browser(
        &self,
        card: &str,
        browser: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        dispatch!(self, s => s.sql.known_browser(card, browser, now).await)
    }
    async fn sweep_acs_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.sweep_acs_transactions(now).await)
    }
}
