//! The card vault on both engines: tokens per tenant, one record per number, envelope
//! encryption bound to tenant and token, re-wrapping under a new KEK, retention and the sweep.
//! The database is also scanned for the card number.

use crate::suite::T0;
use shonin_keys::{KeyEncryptionKey, KeyPurpose, LocalKek, LocalMacKey, MasterKey};
use shonin_store::Store;
use shonin_store::testing::raw_execute;
use shonin_types::unit::Outcome;
use shonin_vault::{
    CardInput, NonceIssued, Revealed, Staged, Tokenized, Unsettled, Vault, VaultError,
    VaultSettings, VaultStore, settle,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

contract_tests! {
    a_card_is_tokenized_once_per_tenant_and_shown_masked,
    a_ciphertext_moved_to_another_record_does_not_open,
    rotation_rewraps_every_record_and_old_versions_still_open_until_then,
    expired_cards_are_not_returned_and_are_swept,
    a_nonce_is_exchanged_once_by_its_client_and_its_cvv_is_revealed_once,
    concurrent_exchanges_of_one_nonce_have_one_winner,
    nonces_and_held_cvvs_expire_and_are_swept,
    a_client_token_issues_at_most_its_budget_of_nonces_even_in_parallel,
    an_exchange_that_does_not_commit_leaves_its_nonce,
}

const PAN: &str = "4012888888881881";

fn input(pan: &str, month: u8) -> CardInput {
    CardInput {
        pan: pan.into(),
        exp_month: month,
        exp_year: 2029,
        name: Some("Jane Doe".into()),
        cvv: None,
    }
}

fn with_cvv(pan: &str, cvv: &str) -> CardInput {
    let mut card = input(pan, 1);
    card.cvv = Some(cvv.into());
    card
}

struct Fixture {
    vault: Vault<Store>,
    store: Store,
    master: MasterKey,
}

/// Each tenant's client token in these tests, and its nonce budget.
const CLIENT_TOKEN: &str = "ct_test";
const BUDGET: u32 = 3;

/// The vault's calls as a request makes them: staged, then committed as one unit (here without
/// an audit entry), staged again if a record changed in between.
impl Fixture {
    async fn settle<T, SF>(&self, stage: impl FnMut() -> SF) -> Result<T, VaultError>
    where
        SF: Future<Output = Result<Staged<T>, VaultError>>,
    {
        commit_alone(&self.store, stage).await
    }

    async fn tokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        card: &CardInput,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        self.settle(|| self.vault.tokenize(keks, tenant, card, now))
            .await
    }

    async fn detokenize(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Revealed, VaultError> {
        self.settle(|| self.vault.detokenize(keks, tenant, token, now))
            .await
    }

    async fn delete(&self, tenant: &str, token: &str) -> Result<(), VaultError> {
        self.settle(|| std::future::ready(self.vault.delete(tenant, token)))
            .await
    }

    /// Registers the tenant's client token (valid an hour from `now`).
    async fn client_token(&self, tenant: &str, now: OffsetDateTime) {
        let unit = self
            .vault
            .register_client_token(tenant, CLIENT_TOKEN, now + Duration::hours(1));
        let done = self.store.write_vault_unit(unit).await.unwrap();
        assert!(matches!(done, Outcome::Committed { .. }));
    }

    async fn issue_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        card: &CardInput,
        now: OffsetDateTime,
    ) -> Result<NonceIssued, VaultError> {
        self.settle(async || {
            self.vault
                .issue_nonce(keks, tenant, CLIENT_TOKEN, card, now)
                .await
        })
        .await
    }

    async fn exchange_nonce(
        &self,
        keks: &[Arc<dyn KeyEncryptionKey>],
        tenant: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<Tokenized, VaultError> {
        self.settle(|| self.vault.exchange_nonce(keks, tenant, nonce, now))
            .await
    }
}

/// Stages with `stage` and commits the unit on its own (a request adds its audit entry).
pub(crate) async fn commit_alone<T, SF>(
    store: &Store,
    stage: impl FnMut() -> SF,
) -> Result<T, VaultError>
where
    SF: Future<Output = Result<Staged<T>, VaultError>>,
{
    match settle(stage, |unit, _: &T| store.write_vault_unit(unit)).await {
        Ok(value) => Ok(value),
        Err(Unsettled::Vault(e)) => Err(e),
        Err(Unsettled::Commit(e)) => Err(e.into()),
        Err(Unsettled::Replayed { claim }) => panic!("the vault staged claim {claim}"),
    }
}

fn fixture(store: &Store) -> Fixture {
    let master = MasterKey::generate().unwrap();
    let fp = Arc::new(LocalMacKey::derived(&master, KeyPurpose::CardFingerprint));
    let vault = Vault::new(
        store.clone(),
        fp,
        VaultSettings {
            card_retention: Duration::days(30),
            nonce_ttl: Duration::minutes(10),
            cvv_hold: Duration::minutes(15),
            nonces_per_client_token: BUDGET,
        },
    );
    Fixture {
        vault,
        store: store.clone(),
        master,
    }
}

fn kek(f: &Fixture, generation: u32) -> Arc<dyn KeyEncryptionKey> {
    Arc::new(LocalKek::derived(&f.master, generation))
}

async fn a_card_is_tokenized_once_per_tenant_and_shown_masked(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    let a = f
        .tokenize(&keks, "merchant-a", &input(PAN, 1), T0)
        .await
        .unwrap();
    assert!(a.created);
    assert_eq!(a.view.first6, "401288");
    assert_eq!(a.view.last4, "1881");
    assert_eq!(a.view.brand.as_str(), "visa");
    assert_eq!(a.view.expires_at, T0 + Duration::days(30));
    // The same number again: the same token, the new expiry, retention from now.
    let later = T0 + Duration::days(1);
    let again = f
        .tokenize(&keks, "merchant-a", &input(PAN, 7), later)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.view.token, a.view.token);
    assert_eq!(again.view.exp_month, 7);
    assert_eq!(again.view.expires_at, later + Duration::days(30));
    // Another tenant gets its own token and cannot see the first one's.
    let b = f
        .tokenize(&keks, "merchant-b", &input(PAN, 1), T0)
        .await
        .unwrap();
    assert!(b.created);
    assert_ne!(b.view.token, a.view.token);
    assert!(matches!(
        f.vault.show("merchant-b", &a.view.token, T0).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.detokenize(&keks, "merchant-b", &a.view.token, T0).await,
        Err(VaultError::NotFound)
    ));
    let shown = f
        .vault
        .show("merchant-a", &a.view.token, later)
        .await
        .unwrap();
    assert_eq!(shown, again.view);
    let card = f
        .detokenize(&keks, "merchant-a", &a.view.token, later)
        .await
        .unwrap()
        .card;
    assert_eq!(card.pan.expose(), PAN);
    assert_eq!(
        (card.exp_month, card.name.as_deref()),
        (7, Some("Jane Doe"))
    );
    // The number is in no column of the table, in any form a scan would find.
    let rows = store.vault_cards_not_under("none", T0, 100).await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let dump = format!("{r:?}{}{}", r.fingerprint, r.token);
        assert!(!dump.contains(PAN), "{dump}");
    }
    // Deleted: gone, and a second delete says so.
    f.delete("merchant-a", &a.view.token).await.unwrap();
    assert!(matches!(
        f.delete("merchant-a", &a.view.token).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.vault.show("merchant-a", "not-a-token", T0).await,
        Err(VaultError::NotFound)
    ));
}

async fn a_ciphertext_moved_to_another_record_does_not_open(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    let one = f.tokenize(&keks, "m", &input(PAN, 1), T0).await.unwrap();
    let two = f
        .tokenize(&keks, "m", &input("5555555555554444", 1), T0)
        .await
        .unwrap();
    // Someone with write access to the database copies record one's sealed data and data key
    // into record two: the binding to the token refuses it.
    let sql = format!(
        "UPDATE vault_cards SET sealed = (SELECT sealed FROM vault_cards WHERE token = '{a}'), \
         wrapped_key = (SELECT wrapped_key FROM vault_cards WHERE token = '{a}') WHERE token = '{b}'",
        a = one.view.token,
        b = two.view.token
    );
    assert_eq!(raw_execute(store, &sql).await.unwrap(), 1);
    assert!(matches!(
        f.detokenize(&keks, "m", &two.view.token, T0).await,
        Err(VaultError::Integrity(_))
    ));
    // Record one itself is untouched.
    let card = f
        .detokenize(&keks, "m", &one.view.token, T0)
        .await
        .unwrap()
        .card;
    assert_eq!(card.pan.expose(), PAN);
}

async fn rotation_rewraps_every_record_and_old_versions_still_open_until_then(store: &Store) {
    let f = fixture(store);
    let old = [kek(&f, 1)];
    let mut tokens = Vec::new();
    for pan in [PAN, "5555555555554444", "378282246310005"] {
        let t = f.tokenize(&old, "m", &input(pan, 1), T0).await.unwrap();
        tokens.push(t.view.token);
    }
    let both = [kek(&f, 1), kek(&f, 2)];
    // New records go under the new KEK; old ones still open.
    let new = f
        .tokenize(&both, "m", &input("6011111111111117", 1), T0)
        .await
        .unwrap();
    for t in tokens.iter().chain([&new.view.token]) {
        f.detokenize(&both, "m", t, T0).await.unwrap();
    }
    assert_eq!(
        store
            .vault_cards_not_under("local:2", T0, 100)
            .await
            .unwrap()
            .len(),
        3
    );
    // Two at a time until none is left.
    assert_eq!(f.vault.rewrap(&both, T0, 2).await.unwrap(), 2);
    assert_eq!(f.vault.rewrap(&both, T0, 2).await.unwrap(), 1);
    assert_eq!(f.vault.rewrap(&both, T0, 2).await.unwrap(), 0);
    // The old KEK can be retired: everything opens under the new one alone.
    let only_new = [kek(&f, 2)];
    for t in tokens.iter().chain([&new.view.token]) {
        f.detokenize(&only_new, "m", t, T0).await.unwrap();
    }
    assert!(matches!(
        f.detokenize(&old, "m", &tokens[0], T0).await,
        Err(VaultError::MissingKek(_))
    ));
}

async fn expired_cards_are_not_returned_and_are_swept(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    let t = f.tokenize(&keks, "m", &input(PAN, 1), T0).await.unwrap();
    let end = T0 + Duration::days(30);
    assert!(
        f.vault
            .show("m", &t.view.token, end - Duration::seconds(1))
            .await
            .is_ok()
    );
    assert!(matches!(
        f.vault.show("m", &t.view.token, end).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.detokenize(&keks, "m", &t.view.token, end).await,
        Err(VaultError::NotFound)
    ));
    // Tokenizing the number after its record expired makes a new record and a new token.
    let again = f.tokenize(&keks, "m", &input(PAN, 1), end).await.unwrap();
    assert!(again.created);
    assert_ne!(again.view.token, t.view.token);
    assert_eq!(
        f.vault.sweep(end).await.unwrap().cards,
        0,
        "the expired one was replaced"
    );
    assert_eq!(
        f.vault.sweep(end + Duration::days(30)).await.unwrap().cards,
        1
    );
    assert!(matches!(
        f.vault.show("m", &again.view.token, end).await,
        Err(VaultError::NotFound)
    ));
}

async fn a_nonce_is_exchanged_once_by_its_client_and_its_cvv_is_revealed_once(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    f.client_token("m", T0).await;
    let issued = f
        .issue_nonce(&keks, "m", &with_cvv(PAN, "737"), T0)
        .await
        .unwrap();
    assert_eq!(
        (issued.brand.as_str(), issued.last4.as_str()),
        ("visa", "1881")
    );
    assert_eq!(issued.expires_at, T0 + Duration::minutes(10));
    let nonce = issued.nonce.as_str().to_owned();
    // Nothing is in the tenant's cards before the exchange; the nonce's table holds neither the
    // number, the code nor the nonce itself.
    assert!(
        store
            .vault_cards_not_under("none", T0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let dump = raw_dump(store, "vault_nonces").await;
    // (A three-digit code can occur by chance in base64 text; its JSON form cannot.)
    for secret in [PAN, "\"737\"", nonce.as_str()] {
        assert!(!dump.contains(secret), "{secret} in {dump}");
    }
    // Another client cannot exchange it, and its attempt does not use it up.
    assert!(matches!(
        f.exchange_nonce(&keks, "other", &nonce, T0).await,
        Err(VaultError::InvalidNonce)
    ));
    let at = T0 + Duration::minutes(1);
    let done = f.exchange_nonce(&keks, "m", &nonce, at).await.unwrap();
    assert!(done.created);
    assert_eq!(done.cvv_held_until, Some(at + Duration::minutes(15)));
    assert!(matches!(
        f.exchange_nonce(&keks, "m", &nonce, at).await,
        Err(VaultError::InvalidNonce)
    ));
    assert!(matches!(
        f.exchange_nonce(&keks, "m", "nonce_x", at).await,
        Err(VaultError::InvalidNonce)
    ));
    let dump = raw_dump(store, "vault_cvvs").await;
    assert!(
        !dump.contains("\"737\"") && dump.contains(&done.view.token),
        "{dump}"
    );
    // The first detokenize (the authorisation) gets the code; no later one does.
    let first = f
        .detokenize(&keks, "m", &done.view.token, at)
        .await
        .unwrap();
    assert_eq!(first.card.pan.expose(), PAN);
    assert_eq!(first.cvv.as_ref().map(|c| c.expose()), Some("737"));
    let second = f
        .detokenize(&keks, "m", &done.view.token, at)
        .await
        .unwrap();
    assert!(second.cvv.is_none());
    assert_eq!(raw_count(store, "vault_cvvs").await, 0);
    // A CVV posted with the card directly is held the same way, and goes with the card.
    let direct = f
        .tokenize(&keks, "m", &with_cvv("378282246310005", "1234"), at)
        .await
        .unwrap();
    assert!(direct.cvv_held_until.is_some());
    assert_eq!(raw_count(store, "vault_cvvs").await, 1);
    f.delete("m", &direct.view.token).await.unwrap();
    assert_eq!(raw_count(store, "vault_cvvs").await, 0);
}

async fn concurrent_exchanges_of_one_nonce_have_one_winner(store: &Store) {
    let f = Arc::new(fixture(store));
    let keks: Arc<[Arc<dyn KeyEncryptionKey>]> = Arc::new([kek(&f, 1)]);
    f.client_token("m", T0).await;
    for round in 0..3 {
        let issued = f
            .issue_nonce(&keks, "m", &input(PAN, 1 + round), T0)
            .await
            .unwrap();
        let nonce = issued.nonce.as_str().to_owned();
        let tries = (0..8).map(|_| {
            let (f, keks, nonce) = (f.clone(), keks.clone(), nonce.clone());
            tokio::spawn(async move { f.exchange_nonce(&keks, "m", &nonce, T0).await })
        });
        let mut won = 0;
        for t in tries {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(VaultError::InvalidNonce) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

async fn nonces_and_held_cvvs_expire_and_are_swept(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    f.client_token("m", T0).await;
    let old = f.issue_nonce(&keks, "m", &input(PAN, 1), T0).await.unwrap();
    let end = T0 + Duration::minutes(10);
    assert!(matches!(
        f.exchange_nonce(&keks, "m", old.nonce.as_str(), end).await,
        Err(VaultError::InvalidNonce)
    ));
    let live = f
        .issue_nonce(&keks, "m", &with_cvv("5555555555554444", "123"), T0)
        .await
        .unwrap();
    let done = f
        .exchange_nonce(&keks, "m", live.nonce.as_str(), T0)
        .await
        .unwrap();
    // The held code is gone at its expiry, before and after the sweep.
    let cvv_end = T0 + Duration::minutes(15);
    let late = f
        .detokenize(&keks, "m", &done.view.token, cvv_end)
        .await
        .unwrap();
    assert!(late.cvv.is_none());
    let again = f
        .tokenize(&keks, "m", &with_cvv("5555555555554444", "123"), T0)
        .await
        .unwrap();
    assert_eq!(again.view.token, done.view.token);
    let swept = f.vault.sweep(cvv_end).await.unwrap();
    assert_eq!((swept.nonces, swept.cvvs, swept.cards), (1, 1, 0));
    assert!(
        f.detokenize(&keks, "m", &done.view.token, cvv_end)
            .await
            .unwrap()
            .cvv
            .is_none()
    );
}

async fn a_client_token_issues_at_most_its_budget_of_nonces_even_in_parallel(store: &Store) {
    let f = Arc::new(fixture(store));
    let keks: Arc<[Arc<dyn KeyEncryptionKey>]> = Arc::new([kek(&f, 1)]);
    // Unknown to the store (never issued, or swept): no nonce.
    assert!(matches!(
        f.issue_nonce(&keks, "m", &input(PAN, 1), T0).await,
        Err(VaultError::ClientToken(_))
    ));
    f.client_token("m", T0).await;
    // Another tenant cannot spend this tenant's token.
    assert!(matches!(
        f.issue_nonce(&keks, "other", &input(PAN, 1), T0).await,
        Err(VaultError::ClientToken(_))
    ));
    // A refused card spends nothing.
    assert!(matches!(
        f.issue_nonce(&keks, "m", &input("4012888888881882", 1), T0)
            .await,
        Err(VaultError::InvalidCard { .. })
    ));
    let tries = (0..BUDGET + 5).map(|_| {
        let (f, keks) = (f.clone(), keks.clone());
        tokio::spawn(async move { f.issue_nonce(&keks, "m", &input(PAN, 1), T0).await })
    });
    let mut issued = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => issued += 1,
            Err(VaultError::ClientToken(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(issued, BUDGET);
    assert_eq!(raw_count(store, "vault_nonces").await, i64::from(BUDGET));
    // A fresh token of the same tenant has its own budget; an expired one has none.
    let budgets = raw_dump(store, "vault_client_tokens").await;
    assert!(budgets.contains(CLIENT_TOKEN), "{budgets}");
    let swept = f.vault.sweep(T0 + Duration::hours(1)).await.unwrap();
    assert_eq!((swept.client_tokens, swept.nonces), (1, BUDGET.into()));
    assert!(matches!(
        f.issue_nonce(&keks, "m", &input(PAN, 1), T0 + Duration::hours(1))
            .await,
        Err(VaultError::ClientToken(_))
    ));
}

async fn an_exchange_that_does_not_commit_leaves_its_nonce(store: &Store) {
    let f = fixture(store);
    let old = [kek(&f, 1)];
    let both = [kek(&f, 1), kek(&f, 2)];
    f.client_token("m", T0).await;
    // The tenant already holds the card, so the exchange stages a compare-and-set on it.
    f.tokenize(&old, "m", &input(PAN, 1), T0).await.unwrap();
    let issued = f.issue_nonce(&old, "m", &input(PAN, 2), T0).await.unwrap();
    let staged = f
        .vault
        .exchange_nonce(&old, "m", issued.nonce.as_str(), T0)
        .await
        .unwrap();
    // A re-wrap moves the card between the exchange's read and its commit.
    assert_eq!(f.vault.rewrap(&both, T0, 10).await.unwrap(), 1);
    let outcome = store.write_vault_unit(staged.unit).await.unwrap();
    assert!(matches!(outcome, Outcome::Conflict { .. }), "{outcome:?}");
    // Nothing of the unit is written: the nonce is still there, the card unchanged.
    let digest = issued.nonce.digest();
    assert!(store.vault_nonce("m", &digest, T0).await.unwrap().is_some());
    let card = f.detokenize(&both, "m", &staged.value.view.token, T0).await;
    assert_eq!(card.unwrap().card.exp_month, 1);
    // Staged again, it commits: the card is updated and the nonce gone.
    let done = f
        .exchange_nonce(&both, "m", issued.nonce.as_str(), T0)
        .await
        .unwrap();
    assert!(!done.created);
    assert_eq!(done.view.exp_month, 2);
    assert!(store.vault_nonce("m", &digest, T0).await.unwrap().is_none());
}

/// Every row of `table` as text, for scanning.
async fn raw_dump(store: &Store, table: &str) -> String {
    shonin_store::testing::raw_rows_text(store, table)
        .await
        .unwrap()
}

async fn raw_count(store: &Store, table: &str) -> i64 {
    shonin_store::testing::raw_count(store, table)
        .await
        .unwrap()
}
