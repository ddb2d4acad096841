//! The vault's operations: tokenize, show, detokenize, delete, re-wrap under a new KEK.

use crate::seal::{self, Aad, Sealed};
use crate::{
    Brand, CardData, CardInput, CardToken, CardView, Cvv, HeldCvv, PaymentNonce, StoredCard,
    StoredNonce, VaultError, VaultStore, VaultSwept,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shonin_keys::{KeyEncryptionKey, MacKey};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

const KIND: &str = "card";
const NONCE_KIND: &str = "nonce";
const CVV_KIND: &str = "cvv";

/// How long each kind of record is kept.
#[derive(Debug, Clone, Copy)]
pub struct VaultSettings {
    /// A card record's life from its last write (PCI DSS 3.2.1: kept no longer than needed).
    pub card_retention: Duration,
    /// A payment nonce's life: the time from the page's post to the merchant's exchange.
    pub nonce_ttl: Duration,
    /// How long a CVV is held for the card's authorisation (PCI DSS 3.3.2).
    pub cvv_hold: Duration,
}

/// What a nonce carries, sealed.
#[derive(Serialize, Deserialize)]
struct NoncePayload {
    card: CardData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cvv: Option<Cvv>,
}

/// A new payment nonce, and what the page may show of its card (brand and last four digits).
#[derive(Debug)]
pub struct NonceIssued {
    pub nonce: PaymentNonce,
    pub brand: Brand,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub expires_at: OffsetDateTime,
}

/// A detokenized card, and its CVV if one was held (it is not held any more).
#[derive(Debug)]
pub struct Revealed {
    pub view: CardView,
    pub card: CardData,
    pub cvv: Option<Cvv>,
}

/// The vault over a store and the fingerprint key; the key-encryption keys come with each call,
/// so a rotation on another node is seen at once.
pub struct Vault<S> {
    store: S,
    fingerprints: Arc<dyn MacKey>,
    settings: VaultSettings,
}

/// The answer to a tokenize: the card as shown, whether the number was new to the tenant, and
/// until when its CVV is held, if one came.
#[derive(Debug)]
pub struct Tokenized {
    pub view: CardView,
    pub created: bool,
    pub cvv_held_until: Option<OffsetDateTime>,
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

/// A held CVV's binding: its tenant and card token.
fn cvv_aad<'a>(tenant: &'a str, token: &'a str) -> Aad<'a> {
    Aad {
        kind: CVV_KIND,
        tenant,
        token,
    }
}

/// A nonce's binding: its tenant and the nonce's digest.
fn nonce_aad<'a>(tenant: &'a str, digest: &'a str) -> Aad<'a> {
    Aad {
        kind: NONCE_KIND,
        tenant,
        token: digest,
    }
}

/// Seals `value` as JSON under a fresh data key wrapped by the current KEK, bound to `aad`.
async fn seal_json(
    keks: &[Arc<dyn KeyEncryptionKey>],
    aad: Aad<'_>,
    value: &impl Serialize,
) -> Result<Sealed, VaultError> {
    let plaintext = Zeroizing::new(
        serde_json::to_vec(value)
            .map_err(|_| VaultError::Integrity("the content does not encode"))?,
    );
    seal::seal(current(keks)?, aad, &plaintext).await
}

/// Opens what [`seal_json`] sealed with the same binding.
async fn open_json<T: DeserializeOwned>(
    keks: &[Arc<dyn KeyEncryptionKey>],
    aad: Aad<'_>,
    sealed: &Sealed,
) -> Result<T, VaultError> {
    let plaintext = seal::open(keks, aad, sealed).await?;
    serde_json::from_slice(&plaintext)
        .map_err(|_| VaultError::Integrity("the sealed content does not decode"))
}

/// The last four digits of the card's number (PCI DSS 3.4.1: at most these and the first six are
/// shown).
fn last4(card: &CardData) -> String {
    let digits = card.pan.expose();
    digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or_default()
        .to_owned()
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
        let sealed = seal_json(keks, aad(tenant, token), card).await?;
        let digits = card.pan.expose();
        Ok(StoredCard {
            tenant: tenant.to_owned(),
            token: token.to_owned(),
            fingerprint: fingerprint.to_owned(),
            brand: Brand::of(&card.pan).as_str().to_owned(),
            first6: digits.get(..6).unwrap_or_default().to_owned(),
            last4: last4(card),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            sealed,
            created_at,
            expires_at: now + self.settings.card_retention,
        })
    }

    /// Stores a card for `tenant` and returns its token. A number the tenant stored before keeps
    /// its token; its expiry and name are replaced by these, and its retention starts again. A
    /// CVV that came with it is held apart until the card's next detokenize.
    pub async fn tokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        input: &CardInput,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        let card = input.check(now)?;
        let cvv = input.checked_cvv(&card)?;
        self.store_card(keks, tenant, &card, cvv.as_ref(), now)
            .await
    }

    async fn store_card(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        card: &CardData,
        cvv: Option<&Cvv>,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        let mut done = self.store_card_data(keks, tenant, card, now).await?;
        if let Some(cvv) = cvv {
            done.cvv_held_until = Some(
                self.hold_cvv(keks, tenant, &done.view.token, cvv, now)
                    .await?,
            );
        }
        Ok(done)
    }

    async fn store_card_data(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        card: &CardData,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        let fingerprint = self.fingerprint(card)?;
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
                        card,
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
                        cvv_held_until: None,
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
                    card,
                    now,
                    now,
                )
                .await?;
            if self.store.insert_vault_card(&record, now).await? {
                return Ok(Tokenized {
                    view: view(&record),
                    created: true,
                    cvv_held_until: None,
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

    /// The card with its number, and its CVV if one is held: the CVV is taken, so no later
    /// call sees it (PCI DSS 3.3.1.2: not kept after authorisation). Callers must have checked
    /// the client's permission and must audit-log the call (PCI DSS 10.2.1.1).
    pub async fn detokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Revealed, VaultError> {
        let record = self.record(tenant, token, now).await?;
        let card: CardData = open_json(keks, aad(tenant, token), &record.sealed).await?;
        let cvv = match self.store.take_vault_cvv(tenant, token, now).await? {
            None => None,
            Some(held) => Some(open_json(keks, cvv_aad(tenant, token), &held.sealed).await?),
        };
        Ok(Revealed {
            view: view(&record),
            card,
            cvv,
        })
    }

    /// Seals `cvv` for the tenant's card `token`; returns until when it is held.
    async fn hold_cvv(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        cvv: &Cvv,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, VaultError> {
        let sealed = seal_json(keks, cvv_aad(tenant, token), cvv).await?;
        let expires_at = now + self.settings.cvv_hold;
        self.store
            .hold_vault_cvv(&HeldCvv {
                tenant: tenant.to_owned(),
                token: token.to_owned(),
                sealed,
                expires_at,
            })
            .await?;
        Ok(expires_at)
    }

    /// Checks a card a page posted with a client token for `tenant` and seals it, with its CVV,
    /// under a new payment nonce. Nothing enters the tenant's cards until the exchange.
    pub async fn issue_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        input: &CardInput,
        now: OffsetDateTime,
    ) -> Result<NonceIssued, VaultError> {
        let card = input.check(now)?;
        let cvv = input.checked_cvv(&card)?;
        let nonce = PaymentNonce::generate()?;
        let digest = nonce.digest();
        let issued = NonceIssued {
            nonce,
            brand: Brand::of(&card.pan),
            last4: last4(&card),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            expires_at: now + self.settings.nonce_ttl,
        };
        let payload = NoncePayload { card, cvv };
        let sealed = seal_json(keks, nonce_aad(tenant, &digest), &payload).await?;
        self.store
            .insert_vault_nonce(&StoredNonce {
                digest,
                tenant: tenant.to_owned(),
                sealed,
                created_at: now,
                expires_at: issued.expires_at,
            })
            .await?;
        Ok(issued)
    }

    /// Exchanges the tenant's payment nonce, once, for a vault token: the nonce is taken by
    /// compare-and-set (of concurrent exchanges on any node one wins, the others get
    /// [`VaultError::InvalidNonce`]), its card tokenized as by [`Vault::tokenize`].
    pub async fn exchange_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        let nonce = PaymentNonce::parse(nonce).ok_or(VaultError::InvalidNonce)?;
        let digest = nonce.digest();
        let stored = self
            .store
            .take_vault_nonce(tenant, &digest, now)
            .await?
            .ok_or(VaultError::InvalidNonce)?;
        let payload: NoncePayload =
            open_json(keks, nonce_aad(tenant, &digest), &stored.sealed).await?;
        self.store_card(keks, tenant, &payload.card, payload.cvv.as_ref(), now)
            .await
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

    pub async fn sweep(&self, now: OffsetDateTime) -> Result<VaultSwept, VaultError> {
        Ok(self.store.sweep_vault(now).await?)
    }
}
