//! Two processes appending to one database must still produce one chain: the chain lock is in the
//! database, not in a process. The parent tests re-run this test binary twice as children
//! (`audit_append_child`), each appending on its own connection pool.

use crate::suite::{assert_unbroken_chain, record};
use shonin_audit::AuditStore;
use shonin_store::testing::{TestEngine, with_fresh_db};
use shonin_store::{Store, StoreOptions};
use std::time::Instant;

/// Set only for the child processes: the database they append to.
const CHILD_URL_ENV: &str = "SHONIN_AUDIT_CHILD_URL";
const CHILD_TEST: &str = "two_process::audit_append_child";
const PER_CHILD: u64 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_append_to_one_chain() {
    two_processes_append_to_one_chain(TestEngine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_append_to_one_chain() {
    two_processes_append_to_one_chain(TestEngine::Postgres).await;
}

async fn two_processes_append_to_one_chain(engine: TestEngine) {
    with_fresh_db(engine, |store, url| async move {
        let started = Instant::now();
        let pids: Vec<u32> = crate::children::run_two(CHILD_TEST, &[(CHILD_URL_ENV, &url)])
            .await
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        let appended = started.elapsed();
        let entries = assert_unbroken_chain(&store, 2 * PER_CHILD).await;
        for pid in pids {
            let mine = entries
                .iter()
                .filter(|e| e.record.actor.id == format!("pid-{pid}"))
                .count();
            assert_eq!(mine as u64, PER_CHILD, "entries of child {pid}");
        }
        // Interleaving shows both held the lock in turns rather than one after the other.
        let switches = entries
            .windows(2)
            .filter(|w| w[0].record.actor.id != w[1].record.actor.id);
        eprintln!(
            "[{}] 2 processes x {PER_CHILD} appends: {appended:.2?} (incl. process start), \
             {} switches between writers",
            store.engine(),
            switches.count()
        );
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The child: does nothing unless started by a parent above with `SHONIN_AUDIT_CHILD_URL`.
#[tokio::test]
#[ignore = "child process of the two_processes_append_to_one_chain tests"]
async fn audit_append_child() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let me = format!("pid-{}", std::process::id());
    for i in 0..PER_CHILD {
        let mut r = record(i);
        r.actor.id = me.clone();
        store.append(vec![r]).await.unwrap();
    }
    store.close().await;
}
