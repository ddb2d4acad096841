//! One authentication as the 3DS Server keeps it, its states and the moves between them, and the
//! port it is read through (`shonin-store` implements it on both engines; writes are rows and
//! compare-and-set updates of a unit of work, so any node can continue a transaction).
//!
//! ```text
//! (3DS Method started) ──▶ method ──AReq──▶ completed, challenge or failed, as below
//! (ARes Y/A/N/U/R/I, or no range: U) ──▶ completed
//! (ARes C) ──▶ challenge ──RReq──▶ completed
//!                  └──requestor cancels──▶ cancelled
//! (Erro, timeout, no ACS) ──▶ failed
//! ```
//! No card number is kept: only the masked number. The authentication value is 3DS sensitive
//! data (PCI 3DS): the record expires and is swept, and is never returned after.

use async_trait::async_trait;
use shonin_types::StorageError;
use shonin_types::unit::{Assign, Record, Row, Update, Value};
use time::OffsetDateTime;

use crate::MessageVersion;
use crate::message::TransStatus;

pub const TRANSACTION_TABLE: &str = "threeds_server_transactions";
const TRANSACTION_COLUMNS: &[&str] = &[
    "three_ds_server_trans_id",
    "client_id",
    "state",
    "data",
    "created_at",
    "expires_at",
    "version",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// The 3DS Method was started; the AReq has not been sent.
    Method,
    /// The result is known (frictionless, or the RReq came).
    Completed,
    /// The ACS asked for a challenge; the RReq will say how it ended.
    Challenge,
    /// The requestor gave up on the challenge.
    Cancelled,
    /// No result: an Erro, a timeout, an unreachable DS.
    Failed,
}

impl ServerState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Method => "method",
            Self::Completed => "completed",
            Self::Challenge => "challenge",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Method,
            Self::Completed,
            Self::Challenge,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// The moves the flow allows: a 3DS Method to the AReq's outcome, a challenge to its end.
    pub fn may_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (
                Self::Method,
                Self::Completed | Self::Challenge | Self::Failed
            ) | (Self::Challenge, Self::Completed | Self::Cancelled)
        )
    }
}

/// What the authentication proved: from the ARes (frictionless) or the RReq (challenge).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthResult {
    #[serde(rename = "transStatus")]
    pub trans_status: TransStatus,
    #[serde(
        rename = "transStatusReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status_reason: Option<String>,
    #[serde(rename = "eci", default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(
        rename = "authenticationValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub authentication_value: Option<String>,
    #[serde(
        rename = "challengeCancel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_cancel: Option<String>,
    #[serde(
        rename = "interactionCounter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interaction_counter: Option<String>,
}

/// What the requestor's page needs to open the challenge.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeData {
    #[serde(rename = "acsURL")]
    pub acs_url: String,
    /// The CReq, base64url without padding: the form field `creq`.
    pub creq: String,
    #[serde(rename = "challengeWindowSize")]
    pub window_size: String,
    #[serde(
        rename = "threeDSSessionData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub session_data: Option<String>,
}

/// Why there is no result: the Erro received (or the one the 3DS Server would answer), or a
/// transport failure named as the spec's code (402 timeout, 405 connection failure).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// Who reported it: `D` the DS, `A` the ACS, `S` this 3DS Server.
    #[serde(rename = "errorComponent")]
    pub error_component: String,
    #[serde(rename = "errorDetail")]
    pub error_detail: String,
}

/// The 3DS Method of a transaction: where the browser posts `threeDSMethodData` (none: the
/// card's range has no method URL, `threeDSCompInd` U), and whether the ACS's page posted it
/// back to the notification URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MethodData {
    #[serde(
        rename = "threeDSMethodURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// base64url of `{"threeDSServerTransID", "threeDSMethodNotificationURL"}`.
    #[serde(rename = "threeDSMethodData")]
    pub data: String,
    pub completed: bool,
}

impl MethodData {
    /// `threeDSCompInd` for the AReq: Y completed, N not (yet), U no method URL.
    pub fn completion(&self) -> super::MethodCompletion {
        match (&self.url, self.completed) {
            (None, _) => super::MethodCompletion::Unavailable,
            (Some(_), true) => super::MethodCompletion::Completed,
            (Some(_), false) => super::MethodCompletion::NotCompleted,
        }
    }
}

/// The purchase, as the AReq described it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PurchaseSummary {
    pub merchant_name: String,
    pub amount: String,
    pub currency: String,
    pub exponent: u8,
}

/// What a transaction keeps (the `data` column, JSON).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerData {
    /// The AReq's version; none when no AReq was sent (no card range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_version: Option<MessageVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_trans_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acs_trans_id: Option<String>,
    /// First six and last four digits.
    pub masked_pan: String,
    /// None while the 3DS Method runs (no AReq yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<MethodData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<AuthResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The final CRes's `transStatus`, when the browser posted it to the notification URL (the
    /// result is the RReq's; this only tells the page's side was seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_cres: Option<TransStatus>,
}

/// One authentication of one requestor (the OAuth client that asked for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTransaction {
    pub three_ds_server_trans_id: String,
    pub client_id: String,
    pub state: ServerState,
    pub data: ServerData,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub version: i64,
}

impl ServerTransaction {
    /// The compare-and-set that moves this transaction to `state` with `data`: it matches only
    /// the record as read (same version). A move the flow does not allow is refused before
    /// anything is staged. `state` equal to the current one updates the data only (the final
    /// CRes seen).
    pub fn advance(&self, state: ServerState, data: ServerData) -> Result<Update, StorageError> {
        if state != self.state && !self.state.may_become(state) {
            return Err(StorageError::Corrupt(format!(
                "3DS Server transaction {}: {} may not become {}",
                self.three_ds_server_trans_id,
                self.state.name(),
                state.name()
            )));
        }
        let json =
            serde_json::to_string(&data).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(Update::compare_and_set(
            TRANSACTION_TABLE,
            (
                "three_ds_server_trans_id",
                Value::text(self.three_ds_server_trans_id.clone()),
            ),
            self.version,
            vec![
                ("state", Assign::Value(Value::text(state.name()))),
                ("data", Assign::Value(Value::text(json))),
            ],
        ))
    }
}

impl Record for ServerTransaction {
    fn row(&self) -> Row {
        // The data is plain strings and enums: serialising it cannot fail.
        let json = serde_json::to_string(&self.data).unwrap_or_default();
        Row {
            table: TRANSACTION_TABLE,
            columns: TRANSACTION_COLUMNS,
            values: vec![
                Value::text(self.three_ds_server_trans_id.clone()),
                Value::text(self.client_id.clone()),
                Value::text(self.state.name()),
                Value::text(json),
                Value::time(self.created_at),
                Value::time(self.expires_at),
                Value::int(self.version),
            ],
        }
    }
}

/// The 3DS Server's reads. Writes are rows and updates of a unit of work.
#[async_trait]
pub trait ServerStore: Send + Sync + std::fmt::Debug {
    /// A transaction, if present and unexpired at `now`.
    async fn server_transaction(
        &self,
        three_ds_server_trans_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ServerTransaction>, StorageError>;
    /// Deletes transactions expired at `now`; returns how many.
    async fn sweep_server_transactions(&self, now: OffsetDateTime) -> Result<u64, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_method_and_a_challenge_move_and_each_once() {
        use ServerState::*;
        let all = [Method, Completed, Challenge, Cancelled, Failed];
        for from in all {
            for to in all {
                let allowed = (from == Challenge && matches!(to, Completed | Cancelled))
                    || (from == Method && matches!(to, Completed | Challenge | Failed));
                assert_eq!(from.may_become(to), allowed, "{from:?} → {to:?}");
            }
            assert_eq!(ServerState::from_name(from.name()), Some(from));
        }
    }
}
