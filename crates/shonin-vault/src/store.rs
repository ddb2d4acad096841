//! Where vault records live. Implemented over SQLite and PostgreSQL by `shonin-store`.

use crate::Sealed;
use async_trait::async_trait;
use shonin_types::StorageError;
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
    /// Inserts a card; `false` when the tenant already holds a card with this fingerprint (an
    /// expired one is replaced).
    async fn insert_vault_card(
        &self,
        card: &StoredCard,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;
    /// Replaces a card's sealed data, expiry and retention if its KEK version is still
    /// `expected_kek_version` (compare-and-set); `false` if it changed or the card is gone.
    async fn update_vault_card(
        &self,
        card: &StoredCard,
        expected_kek_version: &str,
    ) -> Result<bool, StorageError>;
    /// Deletes a card (its data key goes with it) and any CVV held for it; `false` if there was
    /// no card.
    async fn delete_vault_card(&self, tenant: &str, token: &str) -> Result<bool, StorageError>;
    /// Up to `limit` unexpired cards whose data key is not wrapped by `kek_version`.
    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError>;
    /// Deletes expired cards, nonces and CVVs; returns how many of each.
    async fn sweep_vault(&self, now: OffsetDateTime) -> Result<VaultSwept, StorageError>;
    async fn insert_vault_nonce(&self, nonce: &StoredNonce) -> Result<(), StorageError>;
    /// Deletes and returns the tenant's unexpired nonce with this digest, in one statement: of
    /// any number of concurrent callers, on any node, at most one gets it.
    async fn take_vault_nonce(
        &self,
        tenant: &str,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredNonce>, StorageError>;
    /// Holds a CVV for a card, replacing one held before.
    async fn hold_vault_cvv(&self, cvv: &HeldCvv) -> Result<(), StorageError>;
    /// Deletes and returns the unexpired CVV held for the tenant's card (at most one caller
    /// gets it).
    async fn take_vault_cvv(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HeldCvv>, StorageError>;
}
