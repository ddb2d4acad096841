//! The flow port: create, get, compare-and-set transitions, expiry, sweeping.

use crate::suite::{T0, clocked, flow};
use shonin_store::Store;
use shonin_types::ports::{FlowRecord, FlowStore};
use shonin_types::{FixedClock, StorageError};
use time::Duration;

contract_tests! {
    create_then_get_at_version_1,
    duplicate_create_is_a_conflict,
    expired_id_can_be_created_again,
    transition_is_a_compare_and_set,
    transition_of_a_missing_record_is_none,
    expired_record_is_neither_returned_nor_transitionable,
    sweep_deletes_only_expired_records,
}

async fn create_then_get_at_version_1(store: &Store) {
    let (store, _clock) = clocked(store);
    let rec = flow("r1", "pushed", Duration::minutes(1));
    store.create_flow(&rec).await.unwrap();
    let got = store.get_flow("par", "r1", T0).await.unwrap().unwrap();
    assert_eq!(got, FlowRecord { version: 1, ..rec });
    assert_eq!(store.get_flow("par", "r2", T0).await.unwrap(), None);
    assert_eq!(store.get_flow("code", "r1", T0).await.unwrap(), None);
}

async fn duplicate_create_is_a_conflict(store: &Store) {
    let (store, _clock) = clocked(store);
    store
        .create_flow(&flow("r1", "pushed", Duration::minutes(1)))
        .await
        .unwrap();
    let err = store
        .create_flow(&flow("r1", "other", Duration::minutes(9)))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let got = store.get_flow("par", "r1", T0).await.unwrap().unwrap();
    assert_eq!(got.state, "pushed");
}

async fn expired_id_can_be_created_again(store: &Store) {
    let (store, clock) = clocked(store);
    store
        .create_flow(&flow("r1", "pushed", Duration::seconds(30)))
        .await
        .unwrap();
    store
        .transition_flow("par", "r1", "pushed", "authn", b"x", T0)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::seconds(30));
    let again = flow("r1", "fresh", Duration::minutes(5));
    store.create_flow(&again).await.unwrap();
    let got = store
        .get_flow("par", "r1", clock_now(&clock))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        FlowRecord {
            version: 1,
            ..again
        }
    );
}

fn clock_now(clock: &FixedClock) -> time::OffsetDateTime {
    shonin_types::Clock::now(clock)
}

async fn transition_is_a_compare_and_set(store: &Store) {
    let (store, _clock) = clocked(store);
    store
        .create_flow(&flow("r1", "pushed", Duration::minutes(1)))
        .await
        .unwrap();
    let moved = store
        .transition_flow(
            "par",
            "r1",
            "pushed",
            "authenticated",
            b"{\"user\":\"u1\"}",
            T0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((moved.state.as_str(), moved.version), ("authenticated", 2));
    assert_eq!(moved.data, b"{\"user\":\"u1\"}");
    assert_eq!(moved.expires_at, T0 + Duration::minutes(1));
    // A second advance from the old state loses: the record is no longer there.
    let again = store
        .transition_flow("par", "r1", "pushed", "authenticated", b"{}", T0)
        .await;
    assert_eq!(again.unwrap(), None);
    assert_eq!(
        store.get_flow("par", "r1", T0).await.unwrap().unwrap(),
        moved
    );
    let next = store
        .transition_flow("par", "r1", "authenticated", "consented", b"", T0)
        .await;
    let next = next.unwrap().unwrap();
    assert_eq!(
        (next.state.as_str(), next.version, next.data.len()),
        ("consented", 3, 0)
    );
}

async fn transition_of_a_missing_record_is_none(store: &Store) {
    let got = store
        .transition_flow("par", "nope", "pushed", "x", b"", T0)
        .await
        .unwrap();
    assert_eq!(got, None);
}

async fn expired_record_is_neither_returned_nor_transitionable(store: &Store) {
    let (store, _clock) = clocked(store);
    store
        .create_flow(&flow("r1", "pushed", Duration::seconds(60)))
        .await
        .unwrap();
    let just_before = T0 + Duration::seconds(60) - Duration::microseconds(1);
    let at_expiry = T0 + Duration::seconds(60);
    assert!(
        store
            .get_flow("par", "r1", just_before)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.get_flow("par", "r1", at_expiry).await.unwrap(), None);
    let late = store
        .transition_flow("par", "r1", "pushed", "authenticated", b"", at_expiry)
        .await;
    assert_eq!(late.unwrap(), None);
    // Still unchanged for a caller whose clock is earlier.
    let rec = store.get_flow("par", "r1", T0).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.version), ("pushed", 1));
}

async fn sweep_deletes_only_expired_records(store: &Store) {
    let (store, _clock) = clocked(store);
    store
        .create_flow(&flow("a", "s", Duration::seconds(10)))
        .await
        .unwrap();
    store
        .create_flow(&flow("b", "s", Duration::seconds(20)))
        .await
        .unwrap();
    assert_eq!(
        store.sweep_flows(T0 + Duration::seconds(9)).await.unwrap(),
        0
    );
    assert_eq!(
        store.sweep_flows(T0 + Duration::seconds(10)).await.unwrap(),
        1
    );
    assert_eq!(store.get_flow("par", "a", T0).await.unwrap(), None);
    assert!(store.get_flow("par", "b", T0).await.unwrap().is_some());
}
