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
}

const PAN: &str = "4012888888881881";

fn input(pan: &str, month: u8) -> CardInput {
    CardInput {
        pan: pan.into(),
        exp_month: month,
        exp_year: 2029,
        name: Some("Jane Doe".into()),
    }
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
    let (_, card) = f
        .vault
        .detokenize(&keks, "merchant-a", &a.view.token, later)
        .await
        .unwrap();
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
    let (_, card) = f
        .vault
        .detokenize(&keks, "m", &one.view.token, T0)
        .await
        .unwrap();
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
        f.vault.sweep(end).await.unwrap(),
        0,
        "the expired one was replaced"
    );
    assert_eq!(f.vault.sweep(end + Duration::days(30)).await.unwrap(), 1);
    assert!(matches!(
        f.vault.show("m", &again.view.token, end).await,
        Err(VaultError::NotFound)
    ));
}
