//! Where vault records live: what the vault reads. Implemented over SQLite and PostgreSQL by
//! `shonin-store`; a request's writes are staged as a unit of work (`records.rs`).

use crate::Sealed;
use async_trait::async_trait;
use shonin_types::StorageError;
use shonin_types::unit::{Outcome, UnitOfWork};
use time::OffsetDateTime;

/// One stored card: everything but the number in the clear, the number only in `sealed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub tenant: String,
    pub token: String,
    /// HMAC-SHA256 of the whole number under the card-fingerprint key, 64 hex characters.
    pub fingerprint: String,
    pub brand: String,
    pub first6: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub sealed: Sealed,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A payment nonce waiting for its exchange: the card (and its CVV, if one came) sealed under
/// the nonce's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNonce {
    /// SHA-256 of the nonce, 64 hex characters.
    pub digest: String,
    pub tenant: String,
    pub sealed: Sealed,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A card's security code held sealed until the card's next detokenize or its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCvv {
    pub tenant: String,
    pub token: String,
    pub sealed: Sealed,
    pub expires_at: OffsetDateTime,
}

/// How many records one sweep deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultSwept {
    pub cards: u64,
    pub nonces: u64,
    pub cvvs: u64,
    pub client_tokens: u64,
}

#[async_trait]
pub trait VaultStore: Send + Sync {
    /// The tenant's unexpired card with this token.
    async fn vault_card(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCard>, StorageError>;
    /// The tenant's unexpired card with this fingerprint.
    async fn vault_card_by_fingerprint(
        &self,
        tenant: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCard>, StorageError>;
    /// Commits a unit of the vault's own, with no audit entry (a re-wrap: the operator's
    /// command audits the run as a whole). A request's unit is committed by its caller with the
    /// request's audit entry.
    async fn write_vault_unit(&self, unit: UnitOfWork) -> Result<Outcome, StorageError>;
    /// Up to `limit` unexpired cards whose data key is not wrapped by `kek_version`.
    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError>;
    /// Deletes expired cards, nonces, CVVs and client-token budgets; returns how many of each.
    async fn sweep_vault(&self, now: OffsetDateTime) -> Result<VaultSwept, StorageError>;
    /// The tenant's unexpired nonce with this digest.
    async fn vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError>;
    /// The unexpired CVV held for the tenant's card.
    async fn vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError>;
}
