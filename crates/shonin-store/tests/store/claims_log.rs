//! SQLite's replay claims: decided by one process's memo, kept in an append-only log
//! (`claims_memo.rs`). The log outlives the process, and a second process on the same file cannot
//! decide claims beside the first.

use shonin_store::testing::{TestEngine, with_fresh_db};
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
        let spent = store
            .issue_tokens(
                &[("client_assertion", "a1", soon())],
                Vec::new(),
                crate::suite::record(1),
            )
            .await
            .unwrap();
        assert!(matches!(spent, shonin_store::Issued::Committed { .. }));
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
