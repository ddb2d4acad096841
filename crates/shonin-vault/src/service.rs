//! The vault's operations: tokenize, show, detokenize, delete, re-wrap under a new KEK.

use crate::records::{self, ClientTokenUses};
use crate::seal::{self, Aad, Sealed};
use crate::staged::{Lost, Staged};
use crate::{
    Brand, CardData, CardInput, CardToken, CardView, Cvv, HeldCvv, PaymentNonce, StoredCard,
    StoredNonce, VaultError, VaultStore, VaultSwept,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shonin_keys::{KeyEncryptionKey, MacKey};
use shonin_types::unit::{Outcome, UnitOfWork};
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
    /// How many payment nonces one client token may issue.
    pub nonces_per_client_token: u32,
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

    async fn fingerprint(&self, card: &CardData) -> Result<String, VaultError> {
        let mac = self.fingerprints.mac(card.pan.expose().as_bytes()).await?;
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

    /// Stages a card for `tenant`: a number the tenant stored before keeps its token (its expiry
    /// and name are replaced by these, and its retention starts again); a new one gets a new
    /// token. A CVV that came with it is held apart until the card's next detokenize.
    pub async fn tokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        input: &CardInput,
        now: OffsetDateTime,
    ) -> Result<Staged<Tokenized>, VaultError> {
        let card = input.check(now)?;
        let cvv = input.checked_cvv(&card)?;
        let mut unit = UnitOfWork::new();
        let done = self
            .stage_card(keks, tenant, &card, cvv.as_ref(), now, &mut unit)
            .await?;
        Ok(Staged::new(unit, done))
    }

    /// Stages the card's record in `unit` (a compare-and-set on the KEK version of the record
    /// read, or an insert) and its CVV's.
    async fn stage_card(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        card: &CardData,
        cvv: Option<&Cvv>,
        now: OffsetDateTime,
        unit: &mut UnitOfWork,
    ) -> Result<Tokenized, VaultError> {
        let fingerprint = self.fingerprint(card).await?;
        let existing = self
            .store
            .vault_card_by_fingerprint(tenant, &fingerprint, now)
            .await?;
        let (token, created_at) = match &existing {
            Some(e) => (e.token.clone(), e.created_at),
            None => (CardToken::generate()?.as_str().to_owned(), now),
        };
        let at = Place {
            tenant,
            token: &token,
            fingerprint: &fingerprint,
        };
        let record = self.sealed_record(keks, at, card, created_at, now).await?;
        match &existing {
            Some(e) => {
                unit.update(records::replace_card(&record, &e.sealed.kek_version));
            }
            None => {
                unit.update(records::delete_expired_card(tenant, &fingerprint, now));
                unit.insert(&record);
            }
        }
        let cvv_held_until = match cvv {
            Some(cvv) => Some(self.stage_cvv(keks, tenant, &token, cvv, now, unit).await?),
            None => None,
        };
        Ok(Tokenized {
            view: view(&record),
            created: existing.is_none(),
            cvv_held_until,
        })
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

    /// The card with its number, for a use inside this server that reveals it to no one (the
    /// AReq of a 3-D Secure authentication goes to the card scheme's DS over mutual TLS). A held
    /// CVV is left for the authorisation. Nothing is written: the caller's own audit entry names
    /// the token.
    pub async fn card_data(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<CardData, VaultError> {
        let record = self.record(tenant, token, now).await?;
        open_json(keks, aad(tenant, token), &record.sealed).await
    }

    /// The card with its number, and its CVV if one is held: the CVV's deletion is staged, so
    /// no later call sees it (PCI DSS 3.3.1.2: not kept after authorisation). Callers must have
    /// checked the client's permission and must commit the unit with the call's audit entry
    /// before answering (PCI DSS 10.2.1.1).
    pub async fn detokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Staged<Revealed>, VaultError> {
        let record = self.record(tenant, token, now).await?;
        let card: CardData = open_json(keks, aad(tenant, token), &record.sealed).await?;
        let mut unit = UnitOfWork::new();
        let cvv = match self.store.vault_cvv(tenant, token, now).await? {
            None => None,
            Some(held) => {
                // Taken by one call only; a call that loses it stages again and gets none.
                unit.update(records::delete_cvv(tenant, token, Some(now)));
                Some(open_json(keks, cvv_aad(tenant, token), &held.sealed).await?)
            }
        };
        Ok(Staged::new(
            unit,
            Revealed {
                view: view(&record),
                card,
                cvv,
            },
        ))
    }

    /// Seals `cvv` for the tenant's card `token` and stages it in place of one held before;
    /// returns until when it is held.
    async fn stage_cvv(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        cvv: &Cvv,
        now: OffsetDateTime,
        unit: &mut UnitOfWork,
    ) -> Result<OffsetDateTime, VaultError> {
        let sealed = seal_json(keks, cvv_aad(tenant, token), cvv).await?;
        let expires_at = now + self.settings.cvv_hold;
        unit.update(records::delete_cvv(tenant, token, None));
        unit.insert(&HeldCvv {
            tenant: tenant.to_owned(),
            token: token.to_owned(),
            sealed,
            expires_at,
        });
        Ok(expires_at)
    }

    /// Stages a new client token's nonce budget: `id` (its `jti`) may issue
    /// [`VaultSettings::nonces_per_client_token`] nonces until `expires_at`.
    pub fn register_client_token(
        &self,
        tenant: &str,
        id: &str,
        expires_at: OffsetDateTime,
    ) -> UnitOfWork {
        let mut unit = UnitOfWork::new();
        unit.insert(&ClientTokenUses {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            nonces_issued: 0,
            expires_at,
        });
        unit
    }

    /// Checks a card a page posted with client token `client_token` (its `jti`) of `tenant`
    /// and seals it, with its CVV, under a new payment nonce; the token's budget is spent by one
    /// (refused once it is spent). Nothing enters the tenant's cards until the exchange.
    pub async fn issue_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        client_token: &str,
        input: &CardInput,
        now: OffsetDateTime,
    ) -> Result<Staged<NonceIssued>, VaultError> {
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
        let mut unit = UnitOfWork::new();
        unit.update(records::spend_client_token(
            tenant,
            client_token,
            self.settings.nonces_per_client_token,
            now,
        ));
        unit.insert(&StoredNonce {
            digest,
            tenant: tenant.to_owned(),
            sealed,
            created_at: now,
            expires_at: issued.expires_at,
        });
        let mut staged = Staged::new(unit, issued);
        staged.refuses_update(0, Lost::ClientToken);
        Ok(staged)
    }

    /// Stages the exchange of the tenant's payment nonce for a vault token: the nonce's
    /// deletion (of concurrent exchanges on any node one commits it, the others get
    /// [`VaultError::InvalidNonce`]) with its card, tokenized as by [`Vault::tokenize`]. A unit
    /// that does not commit leaves the nonce as it was.
    pub async fn exchange_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<Staged<Tokenized>, VaultError> {
        let nonce = PaymentNonce::parse(nonce).ok_or(VaultError::InvalidNonce)?;
        let digest = nonce.digest();
        let stored = self
            .store
            .vault_nonce(tenant, &digest, now)
            .await?
            .ok_or(VaultError::InvalidNonce)?;
        let payload: NoncePayload =
            open_json(keks, nonce_aad(tenant, &digest), &stored.sealed).await?;
        let mut unit = UnitOfWork::new();
        unit.update(records::take_nonce(tenant, &digest, now));
        let done = self
            .stage_card(
                keks,
                tenant,
                &payload.card,
                payload.cvv.as_ref(),
                now,
                &mut unit,
            )
            .await?;
        let mut staged = Staged::new(unit, done);
        staged.refuses_update(0, Lost::Nonce);
        Ok(staged)
    }

    /// Stages the deletion of a card (its data key goes with it) and of any CVV held for it.
    pub fn delete(&self, tenant: &str, token: &str) -> Result<Staged<()>, VaultError> {
        if CardToken::parse(token).is_none() {
            return Err(VaultError::NotFound);
        }
        let mut unit = UnitOfWork::new();
        unit.update(records::delete_cvv(tenant, token, None));
        unit.update(records::delete_card(tenant, token));
        let mut staged = Staged::new(unit, ());
        staged.refuses_update(1, Lost::Card);
        Ok(staged)
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
            let mut unit = UnitOfWork::new();
            unit.update(records::replace_card(&updated, &card.sealed.kek_version));
            // A card written or deleted since it was read is skipped: a write was under the
            // current KEK already; a later run moves the rest.
            if let Outcome::Committed { .. } = self.store.write_vault_unit(unit).await? {
                moved += 1;
            }
        }
        Ok(moved)
    }

    pub async fn sweep(&self, now: OffsetDateTime) -> Result<VaultSwept, VaultError> {
        Ok(self.store.sweep_vault(now).await?)
    }
}
