//! SQLite's replay claims: decided by one process's memo, kept in an append-only log
//! (`claims_memo.rs`). The log outlives the process, and a second process on the same file cannot
//! decide claims beside the first.

use shonin_store::testing::{TestEngine, raw_execute, with_fresh_db};
use shonin_store::{Store, StoreOptions};
use shonin_types::StorageError;
use shonin_types::ports::ReplayStore;
use time::{Duration, OffsetDateTime};

fn soon() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::minutes(5)
}

async fn reopen(url: &str) -> Store {
    let store = Store::connect(url, &StoreOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn sqlite_claims_survive_a_restart() {
    with_fresh_db(TestEngine::Sqlite, |store, url| async move {
        assert!(store.first_use("dpop", "p1", soon()).await.unwrap());
        let spent = crate::suite::issue_tokens(
            &store,
            &[("client_assertion", "a1", soon())],
            Vec::new(),
            crate::suite::record(1),
        )
        .await
        .unwrap();
        assert!(matches!(
            spent,
            shonin_types::unit::Outcome::Committed { .. }
        ));
        store.close().await;

        let again = reopen(&url).await;
        again.hold_replay_claims().await.unwrap();
        assert!(!again.first_use("dpop", "p1", soon()).await.unwrap());
        assert!(
            !again
                .first_use("client_assertion", "a1", soon())
                .await
                .unwrap()
        );
        assert!(again.first_use("dpop", "p2", soon()).await.unwrap());
        again.close().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sqlite_a_second_process_cannot_decide_claims_on_the_same_file() {
    with_fresh_db(TestEngine::Sqlite, |store, url| async move {
        store.hold_replay_claims().await.unwrap();
        assert!(store.first_use("dpop", "p1", soon()).await.unwrap());

        // Another handle is what another process gets: its own memo, refused by the lock.
        let other = reopen(&url).await;
        let refused = other.hold_replay_claims().await;
        assert!(
            matches!(&refused, Err(StorageError::Unavailable(m)) if m.contains("another process")),
            "{refused:?}"
        );
        let refused = other.first_use("dpop", "p1", soon()).await;
        assert!(
            matches!(refused, Err(StorageError::Unavailable(_))),
            "{refused:?}"
        );
        // Nothing else is refused: reading and sweeping need no lock.
        other.ping().await.unwrap();

        // Once the first lets go, the second decides, and knows the first one's claims.
        store.close().await;
        other.hold_replay_claims().await.unwrap();
        assert!(!other.first_use("dpop", "p1", soon()).await.unwrap());
        assert!(other.first_use("dpop", "p2", soon()).await.unwrap());
        other.close().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sqlite_sweep_reads_the_log_by_ranges_of_seq_and_deletes_only_expired_rows() {
    with_fresh_db(TestEngine::Sqlite, |store, _url| async move {
        let now = OffsetDateTime::now_utc();
        let micros = |t: OffsetDateTime| t.unix_timestamp_nanos() / 1000;
        let (past, future) = (micros(now - Duration::seconds(1)), micros(soon()));
        // Far-apart sequence numbers: gaps, several sweep ranges, and a live claim between
        // expired ones (a longer-lived claim appended before shorter-lived ones).
        let inserted = raw_execute(
            &store,
            &format!(
                "INSERT INTO replay_log (seq, namespace, key, expires_at) VALUES \
                 (1, 'ns', 'a', {past}), (5000, 'ns', 'live', {future}), \
                 (9000, 'ns', 'c', {past}), (20000, 'ns', 'd', {past})"
            ),
        )
        .await
        .unwrap();
        assert_eq!(inserted, 4);
        assert_eq!(
            store
                .sweep(now, time::Duration::ZERO)
                .await
                .unwrap()
                .replays,
            3
        );
        // What is left is the live claim only (an UPDATE that changes nothing counts rows).
        let left = raw_execute(&store, "UPDATE replay_log SET expires_at = expires_at").await;
        assert_eq!(left.unwrap(), 1);
        assert_eq!(
            store
                .sweep(now, time::Duration::ZERO)
                .await
                .unwrap()
                .replays,
            0
        );
        // And it still refuses a replay, also when the memo is read back from the log.
        assert!(!store.first_use("ns", "live", soon()).await.unwrap());
        assert!(store.first_use("ns", "c", soon()).await.unwrap());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn postgres_nodes_decide_claims_together() {
    with_fresh_db(TestEngine::Postgres, |store, url| async move {
        let other = reopen(&url).await;
        store.hold_replay_claims().await.unwrap();
        other.hold_replay_claims().await.unwrap();
        assert!(store.first_use("dpop", "p1", soon()).await.unwrap());
        assert!(!other.first_use("dpop", "p1", soon()).await.unwrap());
        other.close().await;
    })
    .await
    .unwrap();
}
