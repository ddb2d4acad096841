//! The 3DS Server's port: transactions written by units of work, a challenge moved once by
//! compare-and-set (one of two racing moves wins: the RReq's and the requestor's cancel), an
//! illegal move refused before anything is staged, and expired transactions neither returned nor
//! kept.

use crate::batch::at_t0;
use crate::suite::T0;
use shonin_3ds::server::flow::{AuthResult, PurchaseSummary, ServerData};
use shonin_3ds::server::{ServerState, ServerStore, ServerTransaction};
use shonin_3ds::{MessageVersion, TransStatus};
use shonin_store::Store;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use time::Duration;

contract_tests! {
    a_challenge_ends_once_by_compare_and_set,
    expired_server_transactions_are_not_returned_and_are_swept,
}

fn txn(n: u8, state: ServerState) -> ServerTransaction {
    ServerTransaction {
        three_ds_server_trans_id: format!("228b77c7-b316-4d2b-ad6e-13d0a6474e{n:02x}"),
        client_id: "psp".into(),
        state,
        data: ServerData {
            message_version: Some(MessageVersion::V2_2_0),
            ds_trans_id: Some("897e20c5-76b7-4ee4-9e43-f2ba9dd90044".into()),
            acs_trans_id: Some("0ed1ec93-9e85-4114-87ba-120c50c6a7e7".into()),
            masked_pan: "401200******6013".into(),
            method: None,
            purchase: Some(PurchaseSummary {
                merchant_name: "Tea Shop".into(),
                amount: "12345".into(),
                currency: "978".into(),
                exponent: 2,
            }),
            result: None,
            challenge: None,
            problem: None,
            final_cres: None,
        },
        created_at: T0,
        expires_at: T0 + Duration::hours(1),
        version: 1,
    }
}

async fn insert(store: &Store, rows: &[&ServerTransaction]) {
    let mut unit = UnitOfWork::new();
    for r in rows {
        unit.insert(*r);
    }
    assert_eq!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Committed { seq: None }
    );
}

async fn a_challenge_ends_once_by_compare_and_set(store: &Store) {
    let store = at_t0(store);
    let challenged = txn(1, ServerState::Challenge);
    insert(&store, &[&challenged]).await;
    let read = store
        .server_transaction(&challenged.three_ds_server_trans_id, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, challenged);

    let result = AuthResult {
        trans_status: TransStatus::Y,
        trans_status_reason: None,
        eci: Some("05".into()),
        authentication_value: Some("AAABBZEEBgAAAAAAAAQGAAAAAAA=".into()),
        challenge_cancel: None,
        interaction_counter: Some("01".into()),
    };
    let completed = ServerData {
        result: Some(result),
        ..read.data.clone()
    };
    let mut rreq = UnitOfWork::new();
    rreq.update(read.advance(ServerState::Completed, completed).unwrap());
    let mut cancel = UnitOfWork::new();
    cancel.update(
        read.advance(ServerState::Cancelled, read.data.clone())
            .unwrap(),
    );
    let (a, b) = tokio::join!(store.commit(rreq, None), store.commit(cancel, None));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Committed { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    let now = store
        .server_transaction(&read.three_ds_server_trans_id, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, 2);
    match now.state {
        ServerState::Completed => {
            assert_eq!(now.data.result.unwrap().trans_status, TransStatus::Y)
        }
        ServerState::Cancelled => assert!(now.data.result.is_none()),
        other => panic!("neither move was written: {other:?}"),
    }
    // A completed transaction does not move again.
    let done = txn(2, ServerState::Completed);
    assert!(
        done.advance(ServerState::Cancelled, done.data.clone())
            .is_err()
    );
}

async fn expired_server_transactions_are_not_returned_and_are_swept(store: &Store) {
    let live = txn(3, ServerState::Completed);
    let mut old = txn(4, ServerState::Failed);
    old.expires_at = T0 + Duration::minutes(1);
    insert(store, &[&live, &old]).await;
    let later = T0 + Duration::minutes(1);
    assert!(
        store
            .server_transaction(&old.three_ds_server_trans_id, later)
            .await
            .unwrap()
            .is_none(),
        "expired: never returned"
    );
    assert_eq!(store.sweep_server_transactions(later).await.unwrap(), 1);
    assert!(
        store
            .server_transaction(&live.three_ds_server_trans_id, later)
            .await
            .unwrap()
            .is_some()
    );
}
