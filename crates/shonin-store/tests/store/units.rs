//! Units of work (`shonin_types::unit`) through the group-commit writer: compare-and-set
//! updates that win or lose, and a lost one undoing only its own unit — alone, in a batch
//! with others (the step-by-step transaction), and in a warm SQLite batch (whose one-statement
//! script must fall back rather than commit a unit that lost).

use crate::batch::{access, at_t0};
use crate::clients::sample_client;
use crate::suite::{T0, assert_unbroken_chain, record};
use shonin_oauth::client::ClientStore;
use shonin_oauth::par::ParState;
use shonin_oauth::token_record::{
    TokenStore, revoke_grant_update, shorten_token_update, token_hash,
};
use shonin_store::Store;
use shonin_store::testing::{TestBatch, write_batches};
use shonin_types::flow::{self, Flow};
use shonin_types::ports::FlowStore;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use time::Duration;

contract_tests! {
    a_lost_compare_and_set_undoes_its_unit_and_nothing_else,
    units_in_one_batch_win_and_lose_on_their_own,
    a_warm_batch_with_a_lost_compare_and_set_falls_back_and_stays_exact,
    at_most_and_any_updates_change_what_matches,
}

async fn pushed(store: &Store, id: &str) -> Flow<ParState> {
    let f = Flow::new(
        id.into(),
        ParState::Pushed,
        b"{}".to_vec(),
        T0 + Duration::minutes(1),
    );
    store.create_flow(&f.record()).await.unwrap();
    flow::get::<ParState>(store, id, T0).await.unwrap().unwrap()
}

/// A unit that moves `read` to `done` and inserts token `token`, with audit entry `i`.
fn redeem(
    read: &Flow<ParState>,
    token: &str,
    i: u64,
) -> (UnitOfWork, Option<shonin_audit::AuditRecord>) {
    let mut unit = UnitOfWork::new();
    unit.update(read.advance(ParState::Done, None, T0).unwrap());
    unit.insert(&access(token, "c1"));
    (unit, Some(record(i)))
}

async fn a_lost_compare_and_set_undoes_its_unit_and_nothing_else(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let read = pushed(&store, "p1").await;
    let (unit, entry) = redeem(&read, "t1", 1);
    assert_eq!(
        store.commit(unit, entry).await.unwrap(),
        Outcome::Committed { seq: Some(1) }
    );
    // The same stale read again: the record moved on, so the unit loses and writes nothing.
    let (unit, entry) = redeem(&read, "t2", 2);
    assert_eq!(
        store.commit(unit, entry).await.unwrap(),
        Outcome::Conflict { update: 0 }
    );
    let now = flow::get::<ParState>(&store, "p1", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.state, now.version), (ParState::Done, 2));
    assert!(store.get_token(&token_hash("t1")).await.unwrap().is_some());
    assert!(store.get_token(&token_hash("t2")).await.unwrap().is_none());
    assert_unbroken_chain(&store, 1).await;
}

async fn units_in_one_batch_win_and_lose_on_their_own(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let read = pushed(&store, "p1").await;
    // Two units race for p1 in one batch (the first queued wins), a third moves p2.
    let other = pushed(&store, "p2").await;
    let batch = TestBatch {
        units: vec![
            redeem(&read, "a", 1),
            redeem(&read, "b", 2),
            redeem(&other, "c", 3),
        ],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[batch]).await.pop().unwrap();
    let outcomes: Vec<Outcome> = out.units.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Committed { seq: Some(1) },
            Outcome::Conflict { update: 0 },
            Outcome::Committed { seq: Some(2) },
        ]
    );
    assert!(
        out.committed,
        "a lost compare-and-set is an outcome, not a failed batch"
    );
    for (token, present) in [("a", true), ("b", false), ("c", true)] {
        let found = store.get_token(&token_hash(token)).await.unwrap();
        assert_eq!(found.is_some(), present, "{token}");
    }
    assert_unbroken_chain(&store, 2).await;
}

async fn a_warm_batch_with_a_lost_compare_and_set_falls_back_and_stays_exact(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let read = pushed(&store, "p1").await;
    let fresh = pushed(&store, "p2").await;
    // The first batch warms the writer (the head becomes known); the second holds a unit whose
    // compare-and-set misses (p1 moved in the first) beside one that wins.
    let first = TestBatch {
        units: vec![redeem(&read, "a", 1)],
        ..TestBatch::default()
    };
    let second = TestBatch {
        units: vec![redeem(&read, "b", 2), redeem(&fresh, "c", 3)],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[first, second]).await;
    let outcomes: Vec<Outcome> = out[1].units.iter().map(|r| *r.as_ref().unwrap()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Conflict { update: 0 },
            Outcome::Committed { seq: Some(2) }
        ]
    );
    assert!(
        !out[1].scripted,
        "a script must not commit a unit that lost its compare-and-set"
    );
    assert!(store.get_token(&token_hash("b")).await.unwrap().is_none());
    assert!(store.get_token(&token_hash("c")).await.unwrap().is_some());
    assert_unbroken_chain(&store, 2).await;
}

async fn at_most_and_any_updates_change_what_matches(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    store.insert_token(&access("t", "c1")).await.unwrap();
    let hash = token_hash("t");
    let expiry = |store: Store| async move {
        store
            .get_token(&token_hash("t"))
            .await
            .unwrap()
            .unwrap()
            .expires_at
    };
    // Brought forward, never back.
    let mut unit = UnitOfWork::new();
    unit.update(shorten_token_update(&hash, T0 + Duration::minutes(1)));
    assert!(matches!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Committed { .. }
    ));
    assert_eq!(expiry(store.clone()).await, T0 + Duration::minutes(1));
    let mut unit = UnitOfWork::new();
    unit.update(shorten_token_update(&hash, T0 + Duration::minutes(4)));
    assert!(matches!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Committed { .. }
    ));
    assert_eq!(expiry(store.clone()).await, T0 + Duration::minutes(1));
    // Revoking the grant twice: the second matches nothing, which an `Any` update allows.
    for _ in 0..2 {
        let mut unit = UnitOfWork::new();
        unit.update(revoke_grant_update("grant-t", T0));
        assert!(matches!(
            store.commit(unit, None).await.unwrap(),
            Outcome::Committed { .. }
        ));
    }
    let revoked = store.get_token(&hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0));
    // Shortening is a compare-and-set on the token being unrevoked: now it loses.
    let mut unit = UnitOfWork::new();
    unit.update(shorten_token_update(&hash, T0));
    assert_eq!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Conflict { update: 0 }
    );
}
