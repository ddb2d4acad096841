//! Races on one `Store` (one pool, many tasks), on both engines.

use crate::suite::{T0, assert_unbroken_chain, record};
use shonin_audit::AuditStore;
use shonin_store::Store;
use shonin_types::ports::{FlowRecord, FlowStore, ReplayStore};
use std::sync::Arc;
use std::time::Instant;
use time::Duration;
use tokio::sync::Barrier;

contract_tests! {
    concurrent_appends_form_one_unbroken_chain,
    concurrent_transitions_from_one_state_have_exactly_one_winner,
    concurrent_first_use_of_one_key_has_exactly_one_winner,
}

const TASKS: u64 = 8;
const APPENDS_PER_TASK: u64 = 1000;

async fn concurrent_appends_form_one_unbroken_chain(store: &Store) {
    let started = Instant::now();
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                for i in 0..APPENDS_PER_TASK {
                    let mut r = record(i);
                    r.actor.id = format!("task-{t}");
                    let sealed = store.append(vec![r]).await.unwrap();
                    assert_eq!(sealed.len(), 1);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let appended = started.elapsed();
    let entries = assert_unbroken_chain(store, TASKS * APPENDS_PER_TASK).await;
    for t in 0..TASKS {
        let mine = entries
            .iter()
            .filter(|e| e.record.actor.id == format!("task-{t}"))
            .count();
        assert_eq!(mine as u64, APPENDS_PER_TASK, "entries of task {t}");
    }
    eprintln!(
        "[{}] {TASKS} tasks x {APPENDS_PER_TASK} single-record appends: {:.2?} ({:.0} appends/s), \
         chain walk {:.2?}",
        store.engine(),
        appended,
        (TASKS * APPENDS_PER_TASK) as f64 / appended.as_secs_f64(),
        started.elapsed() - appended,
    );
}

async fn concurrent_transitions_from_one_state_have_exactly_one_winner(store: &Store) {
    let rounds = 20;
    let started = Instant::now();
    for round in 0..rounds {
        let id = format!("flow-{round}");
        store
            .create_flow(&FlowRecord {
                kind: "code".into(),
                id: id.clone(),
                state: "issued".into(),
                data: b"{}".to_vec(),
                expires_at: T0 + Duration::days(36_500), // the store's clock is the real one
                version: 1,
            })
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(TASKS as usize));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let data = format!("{{\"redeemed_by\":{t}}}").into_bytes();
                    store
                        .transition_flow("code", &id, "issued", "redeemed", &data, T0)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(rec) = t.await.unwrap().unwrap() {
                winners.push(rec);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one transition may win"
        );
        let stored = store.get_flow("code", &id, T0).await.unwrap().unwrap();
        assert_eq!(stored, winners[0]);
        assert_eq!((stored.state.as_str(), stored.version), ("redeemed", 2));
    }
    eprintln!(
        "[{}] {rounds} rounds of {TASKS} racing transitions: {:.2?}",
        store.engine(),
        started.elapsed()
    );
}

async fn concurrent_first_use_of_one_key_has_exactly_one_winner(store: &Store) {
    for round in 0..20 {
        let key = format!("jti-{round}");
        let barrier = Arc::new(Barrier::new(TASKS as usize));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, barrier, key) = (store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let expires = time::OffsetDateTime::now_utc() + Duration::minutes(5);
                    store.first_use("dpop", &key, expires).await.unwrap()
                })
            })
            .collect();
        let mut firsts = 0;
        for t in tasks {
            firsts += u32::from(t.await.unwrap());
        }
        assert_eq!(firsts, 1, "round {round}: exactly one first use");
    }
}
