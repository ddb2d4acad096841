//! The audit port: sequence, linking, atomic batches, paging, checkpoints, corrupt rows.

use crate::suite::{T0, all_entries, allow_tampering, assert_unbroken_chain, record};
use shonin_audit::{AuditStore, Checkpoint, GENESIS_HASH};
use shonin_store::Store;
use shonin_store::testing::raw_execute;
use shonin_types::StorageError;
use time::Duration;

contract_tests! {
    head_is_none_for_an_empty_log,
    empty_append_changes_nothing,
    append_assigns_consecutive_seqs_and_links_hashes,
    batch_append_is_all_or_nothing,
    entries_page_in_seq_order,
    entries_are_returned_as_stored_not_resealed,
    entries_refuse_update_and_delete,
    undecodable_row_is_corrupt_naming_its_seq,
    checkpoints_only_follow_the_latest_one,
    checkpoints_are_append_only,
    pruning_moves_the_base_to_a_checkpoint_and_deletes_only_before_it,
}

async fn head_is_none_for_an_empty_log(store: &Store) {
    assert_eq!(store.head().await.unwrap(), None);
    assert!(store.entries(1, 100).await.unwrap().is_empty());
    assert!(store.checkpoints().await.unwrap().is_empty());
}

async fn empty_append_changes_nothing(store: &Store) {
    assert!(store.append(Vec::new()).await.unwrap().is_empty());
    assert_eq!(store.head().await.unwrap(), None);
}

async fn append_assigns_consecutive_seqs_and_links_hashes(store: &Store) {
    let first = store
        .append(vec![record(1), record(2), record(3)])
        .await
        .unwrap();
    let second = store.append(vec![record(4), record(5)]).await.unwrap();
    let returned: Vec<_> = first.into_iter().chain(second).collect();
    assert_eq!(
        returned.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(returned[0].prev_hash, GENESIS_HASH);
    assert_eq!(returned[3].prev_hash, returned[2].hash);
    // What append returned is exactly what is stored (times truncated to microseconds).
    let stored = assert_unbroken_chain(store, 5).await;
    assert_eq!(stored, returned);
    assert_eq!(stored[0].record.time.nanosecond() % 1_000, 0);
    assert_eq!(store.head().await.unwrap(), Some((5, returned[4].hash)));
}

async fn batch_append_is_all_or_nothing(store: &Store) {
    store.append(vec![record(1), record(2)]).await.unwrap();
    let mut too_long = record(4);
    too_long.action = "a".repeat(129); // the schema bounds `action` to 128 characters
    let err = store
        .append(vec![record(3), too_long, record(5)])
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    // Nothing of the failed batch is stored and the head did not move…
    assert_unbroken_chain(store, 2).await;
    // …so the next append continues at 3.
    let next = store.append(vec![record(6)]).await.unwrap();
    assert_eq!(next[0].seq, 3);
    assert_unbroken_chain(store, 3).await;
}

async fn entries_page_in_seq_order(store: &Store) {
    let batch: Vec<_> = (1..=25).map(record).collect();
    store.append(batch).await.unwrap();
    let seqs = |v: Vec<shonin_audit::SealedEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.entries(1, 10).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(store.entries(11, 10).await.unwrap()),
        (11..=20).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(store.entries(21, 10).await.unwrap()),
        (21..=25).collect::<Vec<_>>()
    );
    assert!(store.entries(26, 10).await.unwrap().is_empty());
    assert_eq!(seqs(store.entries(0, 3).await.unwrap()), vec![1, 2, 3]);
    assert!(store.entries(1, 0).await.unwrap().is_empty());
    assert!(store.entries(u64::MAX, 10).await.unwrap().is_empty());
}

async fn entries_are_returned_as_stored_not_resealed(store: &Store) {
    store.append((1..=3).map(record).collect()).await.unwrap();
    allow_tampering(store).await;
    raw_execute(
        store,
        "UPDATE audit_entries SET target = 'forged' WHERE seq = 2",
    )
    .await
    .unwrap();
    let entries = all_entries(store).await;
    assert_eq!(entries[1].record.target, "forged");
    // The stored hash no longer matches the fields: the verifier must be able to see that.
    assert_ne!(
        entries[1].hash,
        shonin_audit::chain::entry_hash(2, &entries[1].prev_hash, &entries[1].record)
    );
}

async fn entries_refuse_update_and_delete(store: &Store) {
    store.append(vec![record(1)]).await.unwrap();
    assert!(
        raw_execute(store, "UPDATE audit_entries SET target = 'x'")
            .await
            .is_err()
    );
    assert!(
        raw_execute(store, "DELETE FROM audit_entries")
            .await
            .is_err()
    );
    if store.engine() == "postgres" {
        assert!(raw_execute(store, "TRUNCATE audit_entries").await.is_err());
    }
    assert_unbroken_chain(store, 1).await;
}

async fn undecodable_row_is_corrupt_naming_its_seq(store: &Store) {
    store.append((1..=4).map(record).collect()).await.unwrap();
    allow_tampering(store).await;
    raw_execute(
        store,
        "UPDATE audit_entries SET actor_kind = 'robot' WHERE seq = 2",
    )
    .await
    .unwrap();
    raw_execute(
        store,
        "UPDATE audit_entries SET time = 'yesterday' WHERE seq = 3",
    )
    .await
    .unwrap();
    raw_execute(
        store,
        "UPDATE audit_entries SET source_ip = 'nowhere' WHERE seq = 4",
    )
    .await
    .unwrap();
    for (seq, what) in [(2, "actor kind"), (3, "time"), (4, "source_ip")] {
        match store.entries(seq, 10).await {
            Err(StorageError::Corrupt(msg)) => {
                assert!(
                    msg.contains(&format!("audit entry {seq}:")) && msg.contains(what),
                    "{msg}"
                )
            }
            other => panic!("entry {seq}: expected Corrupt, got {other:?}"),
        }
    }
    // Rows before the damage still read.
    assert_eq!(store.entries(1, 1).await.unwrap().len(), 1);
}

fn checkpoint(seq: u64, prev: Option<u64>, byte: u8, jws: &str) -> Checkpoint {
    Checkpoint {
        seq,
        hash: [byte; 32],
        created_at: T0 + Duration::nanoseconds(1_500),
        prev_seq: prev,
        jws: jws.into(),
    }
}

async fn checkpoints_only_follow_the_latest_one(store: &Store) {
    let conflict = |r: Result<(), StorageError>| matches!(r, Err(StorageError::Conflict(_)));
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    // The first follows "0"; one naming any other predecessor is refused.
    assert!(conflict(
        store.put_checkpoint(&checkpoint(3, Some(1), 3, "x")).await
    ));
    store
        .put_checkpoint(&checkpoint(3, Some(0), 3, "first"))
        .await
        .unwrap();
    // A second node that read the same latest checkpoint loses; so does the same seq again,
    // an earlier seq, and an unchained checkpoint.
    store
        .put_checkpoint(&checkpoint(5, Some(3), 1, "second"))
        .await
        .unwrap();
    for (cp, what) in [
        (checkpoint(6, Some(3), 2, "fork"), "a fork after 3"),
        (checkpoint(5, Some(5), 2, "same seq"), "seq 5 again"),
        (checkpoint(4, Some(5), 2, "earlier"), "an earlier seq"),
        (checkpoint(9, None, 2, "unchained"), "no link"),
    ] {
        assert!(conflict(store.put_checkpoint(&cp).await), "{what}");
    }
    let stored = store.checkpoints().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0].seq, stored[0].prev_seq, stored[0].jws.as_str()),
        (3, Some(0), "first")
    );
    assert_eq!(
        (
            stored[1].seq,
            stored[1].prev_seq,
            stored[1].hash,
            stored[1].jws.as_str()
        ),
        (5, Some(3), [1; 32], "second")
    );
    assert_eq!(
        store.latest_checkpoint().await.unwrap().as_ref(),
        stored.get(1)
    );
    // Stored at microsecond precision.
    assert_eq!(stored[1].created_at, T0 + Duration::microseconds(1));
}

async fn checkpoints_are_append_only(store: &Store) {
    store
        .put_checkpoint(&checkpoint(2, Some(0), 2, "cp"))
        .await
        .unwrap();
    for sql in [
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET jws = 'forged'",
    ] {
        assert!(raw_execute(store, sql).await.is_err(), "{sql}");
    }
    assert_eq!(store.checkpoints().await.unwrap().len(), 1);
}

async fn pruning_moves_the_base_to_a_checkpoint_and_deletes_only_before_it(store: &Store) {
    let entries = store.append((1..=10).map(record).collect()).await.unwrap();
    let hash = |seq: u64| entries[seq as usize - 1].hash;
    let cp = |seq: u64, prev: u64| Checkpoint {
        seq,
        hash: hash(seq),
        created_at: T0,
        prev_seq: Some(prev),
        jws: format!("cp{seq}"),
    };
    store.put_checkpoint(&cp(4, 0)).await.unwrap();
    store.put_checkpoint(&cp(7, 4)).await.unwrap();
    assert_eq!(store.base().await.unwrap(), (0, GENESIS_HASH));
    let conflict = |r: Result<u64, StorageError>| matches!(r, Err(StorageError::Conflict(_)));
    // Only to a stored, checkpointed entry with its hash.
    assert!(
        conflict(store.prune_through(5, hash(5)).await),
        "no checkpoint at 5"
    );
    assert!(
        conflict(store.prune_through(7, hash(6)).await),
        "wrong hash"
    );
    assert_eq!(store.prune_through(4, hash(4)).await.unwrap(), 4);
    assert_eq!(store.base().await.unwrap(), (4, hash(4)));
    // Only forward.
    assert!(
        conflict(store.prune_through(4, hash(4)).await),
        "same base again"
    );
    assert_eq!(store.prune_through(7, hash(7)).await.unwrap(), 3);
    assert_eq!(store.base().await.unwrap(), (7, hash(7)));
    let left: Vec<u64> = all_entries(store).await.iter().map(|e| e.seq).collect();
    assert_eq!(left, vec![8, 9, 10]);
    // The checkpoint at the base stays: it attests where the stored chain begins.
    let cps: Vec<u64> = store
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(cps, vec![7]);
    // After the base, the log is as append-only as before.
    assert!(
        raw_execute(store, "DELETE FROM audit_entries WHERE seq = 9")
            .await
            .is_err()
    );
    assert!(
        raw_execute(store, "DELETE FROM audit_checkpoints")
            .await
            .is_err()
    );
    assert!(
        raw_execute(store, "UPDATE audit_base SET seq = 1")
            .await
            .is_err()
    );
    // Appends continue the chain from the head as before.
    let next = store.append(vec![record(11)]).await.unwrap();
    assert_eq!((next[0].seq, next[0].prev_hash), (11, entries[9].hash));
}
