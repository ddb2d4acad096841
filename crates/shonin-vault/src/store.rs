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
    /// Deletes a card (its data key goes with it); `false` if there was none.
    async fn delete_vault_card(&self, tenant: &str, token: &str) -> Result<bool, StorageError>;
    /// Up to `limit` unexpired cards whose data key is not wrapped by `kek_version`.
    async fn vault_cards_not_under(
        &self,
        kek_version: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCard>, StorageError>;
    /// Deletes expired cards; returns how many.
    async fn sweep_vault_cards(&self, now: OffsetDateTime) -> Result<u64, StorageError>;
}
