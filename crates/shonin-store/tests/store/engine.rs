//! The store itself: migrations, health, the combined sweep.

use crate::suite::{T0, assert_unbroken_chain, clocked, flow, record};
use shonin_audit::AuditStore;
use shonin_store::Store;
use shonin_types::ports::{FlowStore, ReplayStore};
use time::Duration;

contract_tests! {
    migrate_is_idempotent,
    ping_answers,
    sweep_runs_both_sweepers,
}

async fn migrate_is_idempotent(store: &Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.append(vec![record(1)]).await.unwrap();
    store.migrate().await.unwrap();
    assert_unbroken_chain(store, 1).await;
}

async fn ping_answers(store: &Store) {
    store.ping().await.unwrap();
}

async fn sweep_runs_both_sweepers(store: &Store) {
    let (store, _clock) = clocked(store);
    assert!(
        store
            .first_use("ns", "k", T0 + Duration::seconds(1))
            .await
            .unwrap()
    );
    store
        .create_flow(&flow("a", "s", Duration::seconds(1)))
        .await
        .unwrap();
    store
        .create_flow(&flow("b", "s", Duration::seconds(1)))
        .await
        .unwrap();
    let swept = store
        .sweep(T0 + Duration::seconds(1), Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(
        swept,
        shonin_store::SweepCounts {
            replays: 1,
            flows: 2,
            tokens: 0,
            acs_transactions: 0,
            server_transactions: 0,
            vault_cards: 0,
            vault_nonces: 0,
            vault_cvvs: 0,
            vault_client_tokens: 0,
        }
    );
}
