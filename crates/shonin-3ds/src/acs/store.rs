//! What the ACS keeps, and the port it reads it through (`shonin-store` implements it on both
//! engines). Writes go through the request's unit of work as rows and compare-and-set updates.
//!
//! No card number is stored: a card is found by its keyed fingerprint ([`fingerprint`], HMAC
//! under the `CardFingerprint` key, PCI DSS 3.5.1) and shown masked. A transaction keeps the IDs,
//! the purchase shown to the cardholder and the challenge; it expires (PCI 3DS: 3DS sensitive
//! data is kept only as long as the transaction needs it) and is swept.

use async_trait::async_trait;
use shonin_keys::{KeyError, MacKey};
use shonin_types::StorageError;
use shonin_types::unit::{Assign, Record, Row, Update, Value};
use time::OffsetDateTime;

use super::card::Scheme;
use super::challenge::{Challenge, ChallengeState};
use super::results::TransactionIds;
use crate::message::{Pan, TransStatus};

pub const CARD_TABLE: &str = "acs_cards";
const CARD_COLUMNS: &[&str] = &["fingerprint", "user_id", "masked", "scheme", "created_at"];
pub const TRANSACTION_TABLE: &str = "acs_transactions";
const TRANSACTION_COLUMNS: &[&str] = &[
    "acs_trans_id",
    "card_fingerprint",
    "trans_status",
    "data",
    "due_at",
    "created_at",
    "expires_at",
    "version",
];

/// The keyed fingerprint of a card number: 64 hex characters.
pub async fn fingerprint(key: &dyn MacKey, pan: &Pan) -> Result<String, KeyError> {
    let mut data = b"shonin-card-v1\0".to_vec();
    data.extend_from_slice(pan.expose().as_bytes());
    let mac = key.mac(&data).await?;
    Ok(mac.iter().map(|b| format!("{b:02x}")).collect())
}

/// A card enrolled in 3-D Secure, linked to the Shonin user who holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolledCard {
    pub fingerprint: String,
    pub user_id: String,
    /// First six and last four digits.
    pub masked: String,
    pub scheme: Scheme,
    pub created_at: OffsetDateTime,
}

pub fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Visa => "visa",
        Scheme::Mastercard => "mastercard",
        Scheme::Amex => "amex",
        Scheme::Jcb => "jcb",
        Scheme::Discover => "discover",
    }
}

pub fn scheme_from_name(name: &str) -> Option<Scheme> {
    [
        Scheme::Visa,
        Scheme::Mastercard,
        Scheme::Amex,
        Scheme::Jcb,
        Scheme::Discover,
    ]
    .into_iter()
    .find(|s| scheme_name(*s) == name)
}

impl Record for EnrolledCard {
    fn row(&self) -> Row {
        Row {
            table: CARD_TABLE,
            columns: CARD_COLUMNS,
            values: vec![
                Value::text(self.fingerprint.clone()),
                Value::text(self.user_id.clone()),
                Value::text(self.masked.clone()),
                Value::text(scheme_name(self.scheme)),
                Value::time(self.created_at),
            ],
        }
    }
}

/// The purchase as the AReq described it, which the challenge page shows and the passkey signs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Purchase {
    pub merchant_name: String,
    /// Minor units.
    pub amount: String,
    /// ISO 4217 numeric.
    pub currency: String,
    pub exponent: String,
}

/// Seconds from a failed RReq delivery to the next attempt: after the first failure 10 s, then
/// 30 s, 1, 5 and 15 minutes. Six attempts in all over about 22 minutes; then the ACS gives up
/// (the audit log says so). The RReq goes again unchanged, same IDs: a DS that took it before
/// without acknowledging it may answer the repeat with an Erro, which also ends the retries.
pub const RESULTS_RETRY_SECS: [i64; 5] = [10, 30, 60, 300, 900];

/// An RReq the DS did not take (no connection, a timeout, an HTTP error, an answer that is no
/// message), waiting for its next attempt. Any node sends it when `next_at` falls due: the
/// transaction's `due_at` holds it, as it holds a challenge's timer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingResults {
    /// Deliveries that failed so far.
    pub attempts: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub next_at: OffsetDateTime,
}

impl PendingResults {
    /// After `failed` failed deliveries at `now`: when to try next, or `None` when that was the
    /// last attempt.
    pub fn after(failed: u8, now: OffsetDateTime) -> Option<Self> {
        let delay = RESULTS_RETRY_SECS.get(usize::from(failed).checked_sub(1)?)?;
        Some(PendingResults {
            attempts: failed,
            next_at: now + time::Duration::seconds(*delay),
        })
    }
}

/// What a transaction keeps between its messages (the `data` column, JSON).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransactionData {
    pub ids: TransactionIds,
    pub scheme: Scheme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<Purchase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Where the RReq goes (the DS's URL, or the 3DS Server's when there is no DS in between).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// Set when the ARes was S: the SPC challenge its follow-up AReq answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spc: Option<super::spc::SpcChallenge>,
    /// The browser's keyed hash ([`super::browser`]), for a browser AReq of an enrolled card:
    /// remembered with the card when the challenge ends Y.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Set while the challenge's RReq waits for another attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_pending: Option<PendingResults>,
}

/// One authentication the ACS answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcsTransaction {
    pub acs_trans_id: String,
    pub card_fingerprint: String,
    /// The ARes's `transStatus`.
    pub trans_status: TransStatus,
    pub data: TransactionData,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub version: i64,
}

pub fn status_name(status: TransStatus) -> &'static str {
    match status {
        TransStatus::Y => "Y",
        TransStatus::N => "N",
        TransStatus::U => "U",
        TransStatus::A => "A",
        TransStatus::C => "C",
        TransStatus::D => "D",
        TransStatus::R => "R",
        TransStatus::I => "I",
        TransStatus::S => "S",
    }
}

pub fn status_from_name(name: &str) -> Option<TransStatus> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

impl AcsTransaction {
    /// When the running challenge's timer fires, or else when the RReq is tried again; `None`
    /// when neither waits.
    pub fn due_at(&self) -> Option<OffsetDateTime> {
        self.data
            .challenge
            .as_ref()
            .filter(|c| c.state != ChallengeState::Completed)
            .map(|c| c.due_at)
            .or_else(|| self.data.results_pending.as_ref().map(|p| p.next_at))
    }

    /// The record as [`Self::advance`] to `next` commits it: the new challenge, the next version.
    pub fn moved(&self, next: Challenge) -> AcsTransaction {
        AcsTransaction {
            data: TransactionData {
                challenge: Some(next),
                ..self.data.clone()
            },
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The record as [`Self::schedule_results`] with `pending` commits it.
    pub fn scheduled(&self, pending: Option<PendingResults>) -> AcsTransaction {
        AcsTransaction {
            data: TransactionData {
                results_pending: pending,
                ..self.data.clone()
            },
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The compare-and-set that sets (or, with `None`, clears) this record's pending RReq.
    pub fn schedule_results(
        &self,
        pending: Option<PendingResults>,
    ) -> Result<Update, StorageError> {
        self.replace_with(&self.scheduled(pending))
    }

    /// The compare-and-set that replaces this transaction's challenge with `next`: it matches
    /// only the record as read (same version). An illegal move is refused before anything is
    /// staged.
    pub fn advance(&self, next: Challenge) -> Result<Update, StorageError> {
        let current = self.data.challenge.as_ref().map(|c| c.state);
        if !current.is_some_and(|c| c.may_become(next.state)) {
            return Err(StorageError::Corrupt(format!(
                "acs transaction {}: {:?} may not become {:?}",
                self.acs_trans_id, current, next.state
            )));
        }
        self.replace_with(&self.moved(next))
    }

    /// The compare-and-set that writes `next`'s data and timer over this record as read
    /// (`self.version`; the store increments the version, `next`'s is not written).
    fn replace_with(&self, next: &AcsTransaction) -> Result<Update, StorageError> {
        let json =
            serde_json::to_string(&next.data).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(Update::compare_and_set(
            TRANSACTION_TABLE,
            ("acs_trans_id", Value::text(self.acs_trans_id.clone())),
            self.version,
            vec![
                ("data", Assign::Value(Value::text(json))),
                (
                    "due_at",
                    Assign::Value(next.due_at().map_or(Value::Int(None), Value::time)),
                ),
            ],
        ))
    }
}

impl Record for AcsTransaction {
    fn row(&self) -> Row {
        // The data is plain strings and enums: serialising it cannot fail.
        let json = serde_json::to_string(&self.data).unwrap_or_default();
        Row {
            table: TRANSACTION_TABLE,
            columns: TRANSACTION_COLUMNS,
            values: vec![
                Value::text(self.acs_trans_id.clone()),
                Value::text(self.card_fingerprint.clone()),
                Value::text(status_name(self.trans_status)),
                Value::text(json),
                self.due_at().map_or(Value::Int(None), Value::time),
                Value::time(self.created_at),
                Value::time(self.expires_at),
                Value::int(self.version),
            ],
        }
    }
}

/// The ACS's reads. Writes are rows and updates of a unit of work.
#[async_trait]
pub trait AcsStore: Send + Sync + std::fmt::Debug {
    async fn enrolled_card(&self, fingerprint: &str) -> Result<Option<EnrolledCard>, StorageError>;
    async fn enrolled_cards(&self) -> Result<Vec<EnrolledCard>, StorageError>;
    /// Enrols a card; `false` if its fingerprint is enrolled already.
    async fn enrol_card(&self, card: &EnrolledCard) -> Result<bool, StorageError>;
    /// Removes a card; `false` if it was not enrolled.
    async fn remove_card(&self, fingerprint: &str) -> Result<bool, StorageError>;
    /// Transactions of a card answered Y or A without a challenge since `since`.
    async fn frictionless_since(
        &self,
        fingerprint: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StorageError>;
    /// A transaction, if present and unexpired at `now`.
    async fn acs_transaction(
        &self,
        acs_trans_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AcsTransaction>, StorageError>;
    /// Up to `limit` unexpired transactions whose challenge timer fell due at `now`, oldest first.
    async fn due_challenges(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AcsTransaction>, StorageError>;
    /// Whether a challenge of card `card` passed in browser `browser` (its keyed hash) and is
    /// still remembered at `now`.
    async fn known_browser(
        &self,
        card: &str,
        browser: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;
    /// Deletes transactions and remembered browsers expired at `now`; returns how many.
    async fn sweep_acs_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn failed_deliveries_are_tried_again_five_times_then_given_up() {
        let t0 = datetime!(2026-12-08 12:00 UTC);
        let waits: Vec<i64> = (1..=6)
            .map_while(|n| PendingResults::after(n, t0))
            .map(|p| (p.next_at - t0).whole_seconds())
            .collect();
        assert_eq!(waits, [10, 30, 60, 300, 900]);
        assert_eq!(PendingResults::after(0, t0), None);
        assert_eq!(PendingResults::after(6, t0), None);
        assert_eq!(PendingResults::after(1, t0).unwrap().attempts, 1);
    }
}
