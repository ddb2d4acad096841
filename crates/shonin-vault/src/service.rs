//! The vault's operations: tokenize, show, detokenize, delete, re-wrap under a new KEK.

use crate::seal::{self, Aad};
use crate::{Brand, CardData, CardInput, CardToken, CardView, StoredCard, VaultError, VaultStore};
use shonin_keys::{KeyEncryptionKey, MacKey};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

const KIND: &str = "card";

/// How long cards are kept.
#[derive(Debug, Clone, Copy)]
pub struct VaultSettings {
    /// A card record's life from its last write (PCI DSS 3.2.1: kept no longer than needed).
    pub card_retention: Duration,
}

/// The vault over a store and the fingerprint key; the key-encryption keys come with each call,
/// so a rotation on another node is seen at once.
pub struct Vault<S> {
    store: S,
    fingerprints: Arc<dyn MacKey>,
    settings: VaultSettings,
}

/// The answer to a tokenize: the card as shown, and whether the number was new to the tenant.
#[derive(Debug)]
pub struct Tokenized {
    pub view: CardView,
    pub created: bool,
}

fn view(card: &StoredCard) -> CardView {
    CardView {
        token: card.token.clone(),
        brand: serde_json::from_value(card.brand.clone().into()).unwrap_or(Brand::Other),
        first6: card.first6.clone(),
        last4: card.last4.clone(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        created_at: card.created_at,
        expires_at: card.expires_at,
    }
}

/// Which record: its tenant, token and card fingerprint.
#[derive(Clone, Copy)]
struct Place<'a> {
    tenant: &'a str,
    token: &'a str,
    fingerprint: &'a str,
}

fn aad<'a>(tenant: &'a str, token: &'a str) -> Aad<'a> {
    Aad {
        kind: KIND,
        tenant,
        token,
    }
}

fn current(keks: &[Arc<dyn KeyEncryptionKey>]) -> Result<&dyn KeyEncryptionKey, VaultError> {
    keks.last()
        .map(AsRef::as_ref)
        .ok_or_else(|| VaultError::MissingKek("(none configured)".into()))
}

impl<S> std::fmt::Debug for Vault<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("fingerprints", &self.fingerprints)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S: VaultStore> Vault<S> {
    pub fn new(store: S, fingerprints: Arc<dyn MacKey>, settings: VaultSettings) -> Self {
        Vault {
            store,
            fingerprints,
            settings,
        }
    }

    fn fingerprint(&self, card: &CardData) -> Result<String, VaultError> {
        let mac = self.fingerprints.mac(card.pan.expose().as_bytes())?;
        Ok(mac.iter().map(|b| format!("{b:02x}")).collect())
    }

    async fn sealed_record(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        at: Place<'_>,
        card: &CardData,
        created_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<StoredCard, VaultError> {
        let Place {
            tenant,
            token,
            fingerprint,
        } = at;
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(card).map_err(|_| VaultError::Integrity("card does not encode"))?,
        );
        let sealed = seal::seal(current(keks)?, aad(tenant, token), &plaintext).await?;
        let digits = card.pan.expose();
        Ok(StoredCard {
            tenant: tenant.to_owned(),
            token: token.to_owned(),
            fingerprint: fingerprint.to_owned(),
            brand: Brand::of(&card.pan).as_str().to_owned(),
            first6: digits.get(..6).unwrap_or_default().to_owned(),
            last4: digits
                .get(digits.len().saturating_sub(4)..)
                .unwrap_or_default()
                .to_owned(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            sealed,
            created_at,
            expires_at: now + self.settings.card_retention,
        })
    }

    /// Stores a card for `tenant` and returns its token. A number the tenant stored before keeps
    /// its token; its expiry and name are replaced by these, and its retention starts again.
    pub async fn tokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        input: &CardInput,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        let card = input.check(now)?;
        let fingerprint = self.fingerprint(&card)?;
        // Two tries: a concurrent tokenize of the same number may insert between our read and
        // our insert; the second read then finds its record.
        for _ in 0..2 {
            if let Some(existing) = self
                .store
                .vault_card_by_fingerprint(tenant, &fingerprint, now)
                .await?
            {
                let record = self
                    .sealed_record(
                        keks,
                        Place {
                            tenant,
                            token: &existing.token,
                            fingerprint: &fingerprint,
                        },
                        &card,
                        existing.created_at,
                        now,
                    )
                    .await?;
                if self
                    .store
                    .update_vault_card(&record, &existing.sealed.kek_version)
                    .await?
                {
                    return Ok(Tokenized {
                        view: view(&record),
                        created: false,
                    });
                }
                continue;
            }
            let token = CardToken::generate()?;
            let record = self
                .sealed_record(
                    keks,
                    Place {
                        tenant,
                        token: token.as_str(),
                        fingerprint: &fingerprint,
                    },
                    &card,
                    now,
                    now,
                )
                .await?;
            if self.store.insert_vault_card(&record, now).await? {
                return Ok(Tokenized {
                    view: view(&record),
                    created: true,
                });
            }
        }
        Err(VaultError::Storage(shonin_types::StorageError::Conflict(
            "the card changed while it was stored; try again".into(),
        )))
    }

    async fn record(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<StoredCard, VaultError> {
        if CardToken::parse(token).is_none() {
            return Err(VaultError::NotFound);
        }
        self.store
            .vault_card(tenant, token, now)
            .await?
            .ok_or(VaultError::NotFound)
    }

    /// The card as shown: masked, from the clear columns (nothing is decrypted).
    pub async fn show(
        &self,
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<CardView, VaultError> {
        Ok(view(&self.record(tenant, token, now).await?))
    }

    /// The card with its number. Callers must have checked the client's permission and must
    /// audit-log the call (PCI DSS 10.2.1.1).
    pub async fn detokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<(CardView, CardData), VaultError> {
        let record = self.record(tenant, token, now).await?;
        let plaintext = seal::open(keks, aad(tenant, token), &record.sealed).await?;
        let card: CardData = serde_json::from_slice(&plaintext)
            .map_err(|_| VaultError::Integrity("the record's content does not decode"))?;
        Ok((view(&record), card))
    }

    pub async fn delete(&self, tenant: &str, token: &str) -> Result<(), VaultError> {
        if CardToken::parse(token).is_none() || !self.store.delete_vault_card(tenant, token).await?
        {
            return Err(VaultError::NotFound);
        }
        Ok(())
    }

    /// Moves up to `limit` records to the current KEK (each re-encrypted under a fresh data
    /// key, compare-and-set on its KEK version). Returns how many moved; 0 means none is left.
    pub async fn rewrap(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, VaultError> {
        let to = current(keks)?;
        let cards = self
            .store
            .vault_cards_not_under(to.version(), now, limit)
            .await?;
        let mut moved = 0;
        for card in cards {
            let sealed =
                seal::rewrap(keks, to, aad(&card.tenant, &card.token), &card.sealed).await?;
            let updated = StoredCard {
                sealed,
                ..card.clone()
            };
            if self
                .store
                .update_vault_card(&updated, &card.sealed.kek_version)
                .await?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    pub async fn sweep(&self, now: OffsetDateTime) -> Result<u64, VaultError> {
        Ok(self.store.sweep_vault_cards(now).await?)
    }
}
