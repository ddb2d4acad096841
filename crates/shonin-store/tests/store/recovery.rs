//! The recovery-code port: replacing a set, single use (also under concurrency), counts.

use crate::suite::T0;
use shonin_identity::user::password::DUMMY_HASH;
use shonin_identity::user::{PasswordHash, User, UserStore, Username};
use shonin_passkeys::{RecoveryCodeStore, generate_recovery_codes, hash_code};
use shonin_store::Store;
use std::sync::Arc;
use time::Duration;

contract_tests! {
    generate_use_once_and_replace,
    one_code_two_concurrent_uses_one_wins,
}

async fn user(store: &Store, name: &str) -> User {
    let u = User::new(
        Username::new(name).unwrap(),
        None,
        Some(PasswordHash::parse(DUMMY_HASH).unwrap()),
        T0,
    )
    .unwrap();
    store.create_user(&u).await.unwrap();
    u
}

async fn generate_use_once_and_replace(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (codes, hashes) = generate_recovery_codes().unwrap();
    store
        .replace_recovery_codes(&alice.id, &hashes, T0)
        .await
        .unwrap();
    assert_eq!(store.unused_recovery_codes(&alice.id).await.unwrap(), 10);
    let h = hash_code(&codes[3]).unwrap();
    assert!(
        !store.use_recovery_code(&bob.id, &h, T0).await.unwrap(),
        "not Bob's code"
    );
    assert!(store.use_recovery_code(&alice.id, &h, T0).await.unwrap());
    assert!(
        !store.use_recovery_code(&alice.id, &h, T0).await.unwrap(),
        "used once only"
    );
    assert_eq!(store.unused_recovery_codes(&alice.id).await.unwrap(), 9);
    // A new set replaces the old one entirely.
    let (_, fresh) = generate_recovery_codes().unwrap();
    store
        .replace_recovery_codes(&alice.id, &fresh, T0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(store.unused_recovery_codes(&alice.id).await.unwrap(), 10);
    let old = hash_code(&codes[4]).unwrap();
    assert!(!store.use_recovery_code(&alice.id, &old, T0).await.unwrap());
}

async fn one_code_two_concurrent_uses_one_wins(store: &Store) {
    let alice = user(store, "alice").await;
    let (codes, hashes) = generate_recovery_codes().unwrap();
    store
        .replace_recovery_codes(&alice.id, &hashes, T0)
        .await
        .unwrap();
    let h = hash_code(&codes[0]).unwrap();
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, id) = (Arc::clone(&store), alice.id.clone());
            tokio::spawn(async move { s.use_recovery_code(&id, &h, T0).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}
