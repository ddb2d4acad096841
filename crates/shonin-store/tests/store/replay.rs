//! The replay port: first use, expiry, namespaces, sweeping.

use crate::suite::{T0, clocked};
use shonin_store::Store;
use shonin_types::ports::ReplayStore;
use time::Duration;

contract_tests! {
    first_use_is_true_once,
    expired_key_is_reusable,
    namespaces_are_separate,
    sweep_deletes_only_expired_records,
}

async fn first_use_is_true_once(store: &Store) {
    let (store, _clock) = clocked(store);
    let exp = T0 + Duration::minutes(5);
    assert!(store.first_use("dpop", "jti-1", exp).await.unwrap());
    assert!(!store.first_use("dpop", "jti-1", exp).await.unwrap());
    assert!(
        !store
            .first_use("dpop", "jti-1", exp + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(store.first_use("dpop", "jti-2", exp).await.unwrap());
}

async fn expired_key_is_reusable(store: &Store) {
    let (store, clock) = clocked(store);
    assert!(
        store
            .first_use("jwt", "k", T0 + Duration::seconds(60))
            .await
            .unwrap()
    );
    clock.advance(Duration::seconds(60) - Duration::microseconds(1));
    assert!(
        !store
            .first_use("jwt", "k", T0 + Duration::hours(1))
            .await
            .unwrap()
    );
    clock.advance(Duration::microseconds(1)); // now == expires_at: expired
    assert!(
        store
            .first_use("jwt", "k", T0 + Duration::seconds(120))
            .await
            .unwrap()
    );
    // The replacement carries the new expiry.
    assert!(
        !store
            .first_use("jwt", "k", T0 + Duration::hours(1))
            .await
            .unwrap()
    );
    clock.advance(Duration::seconds(60));
    assert!(
        store
            .first_use("jwt", "k", T0 + Duration::hours(1))
            .await
            .unwrap()
    );
}

async fn namespaces_are_separate(store: &Store) {
    let (store, _clock) = clocked(store);
    let exp = T0 + Duration::minutes(1);
    assert!(
        store
            .first_use("client_assertion", "same", exp)
            .await
            .unwrap()
    );
    assert!(store.first_use("dpop", "same", exp).await.unwrap());
    assert!(!store.first_use("dpop", "same", exp).await.unwrap());
}

async fn sweep_deletes_only_expired_records(store: &Store) {
    let (store, _clock) = clocked(store);
    assert!(
        store
            .first_use("ns", "a", T0 + Duration::seconds(10))
            .await
            .unwrap()
    );
    assert!(
        store
            .first_use("ns", "b", T0 + Duration::seconds(20))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .sweep_replays(T0 + Duration::seconds(5))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .sweep_replays(T0 + Duration::seconds(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .sweep_replays(T0 + Duration::seconds(10))
            .await
            .unwrap(),
        0
    );
    // b is still there and still blocks a replay; a is gone.
    assert!(
        !store
            .first_use("ns", "b", T0 + Duration::seconds(20))
            .await
            .unwrap()
    );
    assert!(
        store
            .first_use("ns", "a", T0 + Duration::seconds(10))
            .await
            .unwrap()
    );
}
