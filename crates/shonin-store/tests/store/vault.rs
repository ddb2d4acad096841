//! The card vault on both engines: tokens per tenant, one record per number, envelope
//! encryption bound to tenant and token, re-wrapping under a new KEK, retention and the sweep.
//! The database is also scanned for the card number.

use crate::suite::T0;
use shonin_keys::{KeyEncryptionKey, KeyPurpose, LocalKek, LocalMacKey, MasterKey};
use shonin_store::Store;
use shonin_store::testing::raw_execute;
use shonin_vault::{CardInput, Vault, VaultError, VaultSettings, VaultStore};
use std::sync::Arc;
use time::Duration;

contract_tests! {
    a_card_is_tokenized_once_per_tenant_and_shown_masked,
    a_ciphertext_moved_to_another_record_does_not_open,
    rotation_rewraps_every_record_and_old_versions_still_open_until_then,
    expired_cards_are_not_returned_and_are_swept,
    a_nonce_is_exchanged_once_by_its_client_and_its_cvv_is_revealed_once,
    concurrent_exchanges_of_one_nonce_have_one_winner,
    nonces_and_held_cvvs_expire_and_are_swept,
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
    master: MasterKey,
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
        },
    );
    Fixture { vault, master }
}

fn kek(f: &Fixture, generation: u32) -> Arc<dyn KeyEncryptionKey> {
    Arc::new(LocalKek::derived(&f.master, generation))
}

async fn a_card_is_tokenized_once_per_tenant_and_shown_masked(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    let a = f
        .vault
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
        .vault
        .tokenize(&keks, "merchant-a", &input(PAN, 7), later)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.view.token, a.view.token);
    assert_eq!(again.view.exp_month, 7);
    assert_eq!(again.view.expires_at, later + Duration::days(30));
    // Another tenant gets its own token and cannot see the first one's.
    let b = f
        .vault
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
        f.vault
            .detokenize(&keks, "merchant-b", &a.view.token, T0)
            .await,
        Err(VaultError::NotFound)
    ));
    let shown = f
        .vault
        .show("merchant-a", &a.view.token, later)
        .await
        .unwrap();
    assert_eq!(shown, again.view);
    let card = f
        .vault
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
    f.vault.delete("merchant-a", &a.view.token).await.unwrap();
    assert!(matches!(
        f.vault.delete("merchant-a", &a.view.token).await,
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
    let one = f
        .vault
        .tokenize(&keks, "m", &input(PAN, 1), T0)
        .await
        .unwrap();
    let two = f
        .vault
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
        f.vault.detokenize(&keks, "m", &two.view.token, T0).await,
        Err(VaultError::Integrity(_))
    ));
    // Record one itself is untouched.
    let card = f
        .vault
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
        let t = f
            .vault
            .tokenize(&old, "m", &input(pan, 1), T0)
            .await
            .unwrap();
        tokens.push(t.view.token);
    }
    let both = [kek(&f, 1), kek(&f, 2)];
    // New records go under the new KEK; old ones still open.
    let new = f
        .vault
        .tokenize(&both, "m", &input("6011111111111117", 1), T0)
        .await
        .unwrap();
    for t in tokens.iter().chain([&new.view.token]) {
        f.vault.detokenize(&both, "m", t, T0).await.unwrap();
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
        f.vault.detokenize(&only_new, "m", t, T0).await.unwrap();
    }
    assert!(matches!(
        f.vault.detokenize(&old, "m", &tokens[0], T0).await,
        Err(VaultError::MissingKek(_))
    ));
}

async fn expired_cards_are_not_returned_and_are_swept(store: &Store) {
    let f = fixture(store);
    let keks = [kek(&f, 1)];
    let t = f
        .vault
        .tokenize(&keks, "m", &input(PAN, 1), T0)
        .await
        .unwrap();
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
        f.vault.detokenize(&keks, "m", &t.view.token, end).await,
        Err(VaultError::NotFound)
    ));
    // Tokenizing the number after its record expired makes a new record and a new token.
    let again = f
        .vault
        .tokenize(&keks, "m", &input(PAN, 1), end)
        .await
        .unwrap();
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
    let issued = f
        .vault
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
        f.vault.exchange_nonce(&keks, "other", &nonce, T0).await,
        Err(VaultError::InvalidNonce)
    ));
    let at = T0 + Duration::minutes(1);
    let done = f
        .vault
        .exchange_nonce(&keks, "m", &nonce, at)
        .await
        .unwrap();
    assert!(done.created);
    assert_eq!(done.cvv_held_until, Some(at + Duration::minutes(15)));
    assert!(matches!(
        f.vault.exchange_nonce(&keks, "m", &nonce, at).await,
        Err(VaultError::InvalidNonce)
    ));
    assert!(matches!(
        f.vault.exchange_nonce(&keks, "m", "nonce_x", at).await,
        Err(VaultError::InvalidNonce)
    ));
    let dump = raw_dump(store, "vault_cvvs").await;
    assert!(
        !dump.contains("\"737\"") && dump.contains(&done.view.token),
        "{dump}"
    );
    // The first detokenize (the authorisation) gets the code; no later one does.
    let first = f
        .vault
        .detokenize(&keks, "m", &done.view.token, at)
        .await
        .unwrap();
    assert_eq!(first.card.pan.expose(), PAN);
    assert_eq!(first.cvv.as_ref().map(|c| c.expose()), Some("737"));
    let second = f
        .vault
        .detokenize(&keks, "m", &done.view.token, at)
        .await
        .unwrap();
    assert!(second.cvv.is_none());
    assert_eq!(raw_count(store, "vault_cvvs").await, 0);
    // A CVV posted with the card directly is held the same way, and goes with the card.
    let direct = f
        .vault
        .tokenize(&keks, "m", &with_cvv("378282246310005", "1234"), at)
        .await
        .unwrap();
    assert!(direct.cvv_held_until.is_some());
    assert_eq!(raw_count(store, "vault_cvvs").await, 1);
    f.vault.delete("m", &direct.view.token).await.unwrap();
    assert_eq!(raw_count(store, "vault_cvvs").await, 0);
}

async fn concurrent_exchanges_of_one_nonce_have_one_winner(store: &Store) {
    let f = Arc::new(fixture(store));
    let keks: Arc<[Arc<dyn KeyEncryptionKey>]> = Arc::new([kek(&f, 1)]);
    for round in 0..3 {
        let issued = f
            .vault
            .issue_nonce(&keks, "m", &input(PAN, 1 + round), T0)
            .await
            .unwrap();
        let nonce = issued.nonce.as_str().to_owned();
        let tries = (0..8).map(|_| {
            let (f, keks, nonce) = (f.clone(), keks.clone(), nonce.clone());
            tokio::spawn(async move { f.vault.exchange_nonce(&keks, "m", &nonce, T0).await })
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
    let old = f
        .vault
        .issue_nonce(&keks, "m", &input(PAN, 1), T0)
        .await
        .unwrap();
    let end = T0 + Duration::minutes(10);
    assert!(matches!(
        f.vault
            .exchange_nonce(&keks, "m", old.nonce.as_str(), end)
            .await,
        Err(VaultError::InvalidNonce)
    ));
    let live = f
        .vault
        .issue_nonce(&keks, "m", &with_cvv("5555555555554444", "123"), T0)
        .await
        .unwrap();
    let done = f
        .vault
        .exchange_nonce(&keks, "m", live.nonce.as_str(), T0)
        .await
        .unwrap();
    // The held code is gone at its expiry, before and after the sweep.
    let cvv_end = T0 + Duration::minutes(15);
    let late = f
        .vault
        .detokenize(&keks, "m", &done.view.token, cvv_end)
        .await
        .unwrap();
    assert!(late.cvv.is_none());
    let again = f
        .vault
        .tokenize(&keks, "m", &with_cvv("5555555555554444", "123"), T0)
        .await
        .unwrap();
    assert_eq!(again.view.token, done.view.token);
    let swept = f.vault.sweep(cvv_end).await.unwrap();
    assert_eq!((swept.nonces, swept.cvvs, swept.cards), (1, 1, 0));
    assert!(
        f.vault
            .detokenize(&keks, "m", &done.view.token, cvv_end)
            .await
            .unwrap()
            .cvv
            .is_none()
    );
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
