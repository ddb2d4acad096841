//! A transaction as stored, and the rules for each step, as pure functions: each reads the
//! record as it was loaded and returns the compare-and-set that moves it, to be staged in the
//! request's unit of work. Nothing here writes.

use crate::amount::{Amount, Locale};
use crate::error::TxnError;
use crate::linking::{Shown, SignedData};
use crate::payee::{Payee, validate_reference};
use crate::state::TxnState;
use serde::{Deserialize, Serialize};
use shonin_types::flow::Flow;
use shonin_types::unit::Update;
use time::{Duration, OffsetDateTime};

/// Transaction ids are 32 lower-case hex digits (a v4 UUID); anything else is unknown without
/// a lookup.
pub const ID_LEN: usize = 32;

/// The longest an approval may take (OWASP Transaction Authorization 2.9; our choice of 5
/// minutes, see `../shared/specs/transaction-authorization.md`).
pub const MAX_LIFETIME: Duration = Duration::minutes(5);
/// PSD2 RTS Art. 4(3)(b): at most five failed attempts.
pub const MAX_ATTEMPTS: u32 = 5;

/// The operator's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnPolicy {
    /// From creation to the approval deadline; at most [`MAX_LIFETIME`].
    pub lifetime: Duration,
    /// Failed approval attempts before the transaction locks; 1..=[`MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// How long after approval the payment backend may execute it.
    pub execute_window: Duration,
    /// How long a transaction's record is kept (then it is gone; the audit log keeps the
    /// receipt).
    pub retention: Duration,
}

impl Default for TxnPolicy {
    fn default() -> Self {
        TxnPolicy {
            lifetime: MAX_LIFETIME,
            max_attempts: MAX_ATTEMPTS,
            execute_window: Duration::minutes(10),
            retention: Duration::days(1),
        }
    }
}

impl TxnPolicy {
    pub fn check(&self) -> Result<(), &'static str> {
        if self.lifetime <= Duration::ZERO || self.lifetime > MAX_LIFETIME {
            return Err("transactions.lifetime_secs must be 1..=300");
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err("transactions.max_attempts must be 1..=5");
        }
        if self.execute_window <= Duration::ZERO || self.execute_window > Duration::hours(1) {
            return Err("transactions.execute_window_secs must be 1..=3600");
        }
        if self.retention < self.lifetime + self.execute_window
            || self.retention > Duration::days(90)
        {
            return Err(
                "transactions.retention_secs must cover lifetime + execute window, at most 90 days",
            );
        }
        Ok(())
    }
}

/// What a client asks to have approved.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTransaction {
    /// The user who must approve it (the account's id, the tokens' `sub`).
    pub user_id: String,
    pub payee: Payee,
    pub amount: Amount,
    #[serde(default)]
    pub reference: Option<String>,
}

/// The data of a transaction that a modification may replace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub payee: Payee,
    pub amount: Amount,
    #[serde(default)]
    pub reference: Option<String>,
}

impl Terms {
    /// What the user is shown of these terms, in `locale` (the same function as
    /// [`Loaded::shown`]: only the signed fields).
    pub fn shown(&self, locale: Locale) -> Shown {
        SignedData {
            transaction_id: "",
            payee: &self.payee,
            amount: &self.amount,
            reference: self.reference.as_deref(),
            nonce: "",
            expires_at: 0,
        }
        .display(locale)
    }

    pub fn validate(self) -> Result<Self, TxnError> {
        Ok(Terms {
            payee: self.payee.validate()?,
            amount: self.amount,
            reference: validate_reference(self.reference)?,
        })
    }
}

/// The stored record (the flow record's data, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    /// The client that created it; no other client sees it.
    pub client_id: String,
    pub user_id: String,
    pub payee: Payee,
    pub amount: Amount,
    pub reference: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The approval deadline, unix seconds.
    pub expires_at: i64,
    /// The current challenge's nonce, while there is one.
    pub nonce: Option<String>,
    /// Failed approval attempts so far.
    pub attempts: u32,
    pub approval: Option<Approval>,
    pub executed_at: Option<i64>,
    pub rejected_at: Option<i64>,
    /// Set when the current challenge is for Secure Payment Confirmation: where it may be
    /// answered. A plain passkey approval of the same challenge stays possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spc: Option<crate::spc::SpcContext>,
}

/// What an approval recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approved challenge (SHA-256 of the signed data), base64url.
    pub challenge: String,
    /// The passkey that signed it, base64url.
    pub credential_id: String,
    pub approved_at: i64,
    /// The signed receipt (compact JWS).
    pub receipt: String,
}

/// A step's move: the compare-and-set to stage, and the transaction as it is once that commits
/// (so nothing has to read it back).
#[derive(Debug, Clone)]
pub struct Move {
    pub update: Update,
    pub after: Loaded,
}

/// A loaded transaction: the typed flow record and its decoded data.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub flow: Flow<TxnState>,
    pub txn: Transaction,
}

impl Loaded {
    pub fn decode(flow: Flow<TxnState>) -> Result<Self, TxnError> {
        let txn: Transaction = serde_json::from_slice(&flow.data)
            .map_err(|e| TxnError::Internal(format!("stored transaction {}: {e}", flow.id)))?;
        Ok(Loaded { flow, txn })
    }

    /// The state as the client sees it: a transaction still waiting for approval past its
    /// deadline is expired, whether or not a request has recorded that yet.
    pub fn state(&self, now: OffsetDateTime) -> TxnState {
        match self.flow.state {
            TxnState::Created | TxnState::Challenged if self.past_deadline(now) => {
                TxnState::Expired
            }
            s => s,
        }
    }

    fn past_deadline(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() >= self.txn.expires_at
    }

    /// The signed data, once a challenge was issued.
    pub fn signed_data(&self) -> Option<SignedData<'_>> {
        let nonce = self.txn.nonce.as_deref()?;
        Some(self.txn.signed_with(
            &self.txn.payee,
            &self.txn.amount,
            self.txn.reference.as_deref(),
            nonce,
        ))
    }

    /// What the user is shown, in `locale`.
    pub fn shown(&self, locale: Locale) -> Shown {
        self.txn
            .signed_with(
                &self.txn.payee,
                &self.txn.amount,
                self.txn.reference.as_deref(),
                "",
            )
            .display(locale)
    }

    /// Refuses a step unless the transaction is in `allowed` and, when that is a waiting state,
    /// still within its deadline.
    fn require(&self, allowed: &[TxnState], now: OffsetDateTime) -> Result<(), TxnError> {
        match self.state(now) {
            s if allowed.contains(&s) => Ok(()),
            TxnState::Expired => Err(TxnError::Expired),
            TxnState::Locked => Err(TxnError::Locked),
            s => Err(TxnError::State(s)),
        }
    }

    fn moved(
        &self,
        next: TxnState,
        txn: Transaction,
        now: OffsetDateTime,
    ) -> Result<Move, TxnError> {
        let data = serde_json::to_vec(&txn).map_err(|e| TxnError::Internal(e.to_string()))?;
        let update = self
            .flow
            .advance(next, Some(data.clone()), now)
            .map_err(|e| TxnError::Internal(e.to_string()))?;
        let flow = Flow {
            state: next,
            data,
            version: self.flow.version + 1,
            ..self.flow.clone()
        };
        Ok(Move {
            update,
            after: Loaded { flow, txn },
        })
    }

    /// Issues the challenge: a fresh nonce bound into the signed data, and where an SPC
    /// assertion of it may come from, if SPC is asked for. Only from `created`.
    pub fn challenge(
        &self,
        nonce: String,
        spc: Option<crate::spc::SpcContext>,
        now: OffsetDateTime,
    ) -> Result<Move, TxnError> {
        self.require(&[TxnState::Created], now)?;
        let mut txn = self.txn.clone();
        txn.nonce = Some(nonce);
        txn.spc = spc;
        self.moved(TxnState::Challenged, txn, now)
    }

    /// Records a failed approval attempt; the last allowed one locks the transaction (PSD2 RTS
    /// Art. 4(3)(b)). Returns the move and the attempts left.
    pub fn failed_attempt(
        &self,
        policy: &TxnPolicy,
        now: OffsetDateTime,
    ) -> Result<(Move, u32), TxnError> {
        let mut txn = self.txn.clone();
        txn.attempts = txn.attempts.saturating_add(1);
        let left = policy.max_attempts.saturating_sub(txn.attempts);
        let next = if left == 0 {
            TxnState::Locked
        } else {
            TxnState::Challenged
        };
        Ok((self.moved(next, txn, now)?, left))
    }

    /// Checks that an approval may be attempted now: challenged, within the deadline.
    pub fn may_approve(&self, now: OffsetDateTime) -> Result<(), TxnError> {
        self.require(&[TxnState::Challenged], now)
    }

    /// Records the approval.
    pub fn approve(&self, approval: Approval, now: OffsetDateTime) -> Result<Move, TxnError> {
        self.may_approve(now)?;
        let mut txn = self.txn.clone();
        txn.approval = Some(approval);
        self.moved(TxnState::Approved, txn, now)
    }

    /// The user (or the client on their behalf) declines it.
    pub fn reject(&self, now: OffsetDateTime) -> Result<Move, TxnError> {
        self.require(&[TxnState::Created, TxnState::Challenged], now)?;
        let mut txn = self.txn.clone();
        txn.rejected_at = Some(now.unix_timestamp());
        self.moved(TxnState::Rejected, txn, now)
    }

    /// Replaces the terms before approval. After a challenge this voids it: the record goes
    /// back to `created` without a nonce (PSD2 RTS Art. 5(1)(d), OWASP 2.6); the second value
    /// says whether a challenge was voided.
    pub fn modify(&self, terms: Terms, now: OffsetDateTime) -> Result<(Move, bool), TxnError> {
        self.require(&[TxnState::Created, TxnState::Challenged], now)?;
        let mut txn = self.txn.clone();
        txn.payee = terms.payee;
        txn.amount = terms.amount;
        txn.reference = terms.reference;
        let voided = txn.nonce.take().is_some();
        txn.spc = None;
        Ok((self.moved(TxnState::Created, txn, now)?, voided))
    }

    /// The final gate (OWASP 2.8): the payment backend presents what it is about to execute;
    /// it must hash to the approved challenge, under the stored nonce and deadline, within the
    /// execution window. Anything else is a [`TxnError::Mismatch`] and nothing moves.
    pub fn execute(
        &self,
        presented: &Terms,
        policy: &TxnPolicy,
        now: OffsetDateTime,
    ) -> Result<Move, TxnError> {
        self.require(&[TxnState::Approved], now)?;
        let approval = self
            .txn
            .approval
            .as_ref()
            .ok_or_else(|| TxnError::Internal("approved without an approval".into()))?;
        if now.unix_timestamp() >= approval.approved_at + policy.execute_window.whole_seconds() {
            return Err(TxnError::Expired);
        }
        let nonce = self.txn.nonce.as_deref().unwrap_or_default();
        let presented = self.txn.signed_with(
            &presented.payee,
            &presented.amount,
            presented.reference.as_deref(),
            nonce,
        );
        let approved = shonin_jose::b64url_decode(&approval.challenge).unwrap_or_default();
        if !shonin_types::constant_time_eq(&presented.challenge(), &approved) {
            return Err(TxnError::Mismatch);
        }
        let mut txn = self.txn.clone();
        txn.executed_at = Some(now.unix_timestamp());
        self.moved(TxnState::Executed, txn, now)
    }
}

impl Transaction {
    /// A new transaction for `client_id`, checked; the flow record starts in `created`.
    pub fn create(
        new: NewTransaction,
        client_id: &str,
        policy: &TxnPolicy,
        now: OffsetDateTime,
    ) -> Result<Flow<TxnState>, TxnError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self::create_with_id(id, new, client_id, policy, now)
    }

    /// [`Self::create`] under a given id (a payment consent's derived one,
    /// [`crate::consent::transaction_id`]).
    pub fn create_with_id(
        id: String,
        new: NewTransaction,
        client_id: &str,
        policy: &TxnPolicy,
        now: OffsetDateTime,
    ) -> Result<Flow<TxnState>, TxnError> {
        if !is_valid_id(&id) {
            return Err(TxnError::Internal(format!("not a transaction id: {id}")));
        }
        let terms = Terms {
            payee: new.payee,
            amount: new.amount,
            reference: new.reference,
        }
        .validate()?;
        let txn = Transaction {
            id: id.clone(),
            client_id: client_id.to_owned(),
            user_id: new.user_id,
            payee: terms.payee,
            amount: terms.amount,
            reference: terms.reference,
            created_at: now.unix_timestamp(),
            expires_at: (now + policy.lifetime).unix_timestamp(),
            nonce: None,
            attempts: 0,
            approval: None,
            executed_at: None,
            rejected_at: None,
            spc: None,
        };
        let data = serde_json::to_vec(&txn).map_err(|e| TxnError::Internal(e.to_string()))?;
        Ok(Flow::new(
            id,
            TxnState::Created,
            data,
            now + policy.retention,
        ))
    }

    /// The signed data of this transaction with these terms and nonce.
    fn signed_with<'a>(
        &'a self,
        payee: &'a Payee,
        amount: &'a Amount,
        reference: Option<&'a str>,
        nonce: &'a str,
    ) -> SignedData<'a> {
        SignedData {
            transaction_id: &self.id,
            payee,
            amount,
            reference,
            nonce,
            expires_at: self.expires_at,
        }
    }
}

/// Whether `id` has the shape of a transaction id.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
