//! The writer: batching, acknowledgement, failure and shutdown.

use crate::support::{MemoryStore, TestKeys, config, keys_jwks, record, start, wait_until};
use shonin_audit::{AuditConfig, AuditError, verify};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_of_a_thousand_appends_form_one_unbroken_chain() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let (log, _clock) = start(&store, &keys, config());
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::with_capacity(1000);
                for i in 0..1000 {
                    seqs.push(log.append(record(t * 1000 + i)).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a task's own appends stay in order"
        );
        all.extend(seqs);
    }
    log.shutdown().await;
    assert_eq!(all.len(), 8000);
    assert_eq!(
        all.iter().copied().collect::<Vec<_>>(),
        (1..=8000).collect::<Vec<_>>()
    );
    assert_eq!(store.batch_sizes().iter().sum::<usize>(), 8000);

    let report = verify(store.as_ref(), &keys_jwks(&keys)).await.unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.entries, 8000);
    let cps = store.snapshot().checkpoints;
    assert!(!cps.is_empty());
    assert_eq!(
        cps.last().unwrap().seq,
        8000,
        "shutdown checkpoints the final head"
    );
    assert_eq!(report.checkpoints, cps.len() as u64);
}

#[tokio::test]
async fn queued_records_are_written_with_one_store_call() {
    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    store.pause();
    let first = tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    });
    store.wait_for_calls(1).await;
    let waiters: Vec<_> = (1..=100)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(i)).await })
        })
        .collect();
    wait_until(|| log.queued() == 100).await;
    store.resume();
    assert_eq!(first.await.unwrap().unwrap(), 1);
    let mut seqs = Vec::new();
    for w in waiters {
        seqs.push(w.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=101).collect::<Vec<_>>());
    assert_eq!(store.append_calls(), 2);
    assert_eq!(store.batch_sizes(), vec![1, 100]);
    log.shutdown().await;
}

#[tokio::test]
async fn a_batch_never_exceeds_max_batch() {
    let store = MemoryStore::new();
    let cfg = AuditConfig {
        max_batch: 10,
        ..config()
    };
    let (log, _clock) = start(&store, &TestKeys::new(), cfg);
    store.pause();
    let mut tasks = vec![tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    })];
    store.wait_for_calls(1).await;
    for i in 1..=25 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(record(i)).await }));
    }
    wait_until(|| log.queued() == 25).await;
    store.resume();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.batch_sizes(), vec![1, 10, 10, 5]);
    log.shutdown().await;
}

#[tokio::test]
async fn store_error_fails_every_waiter_of_the_batch_and_stores_nothing() {
    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    store.pause();
    let mut tasks = vec![tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    })];
    store.wait_for_calls(1).await;
    for i in 1..=50 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(record(i)).await }));
    }
    wait_until(|| log.queued() == 50).await;
    store.fail_appends(true);
    store.resume();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, AuditError::Storage(_)), "{err:?}");
    }
    assert_eq!(store.append_calls(), 2);
    let st = store.snapshot();
    assert!(st.entries.is_empty());
    assert_eq!(st.head, None);

    // The writer survives the failure and the chain starts cleanly once the store is back.
    store.fail_appends(false);
    assert_eq!(log.append(record(99)).await.unwrap(), 1);
    log.shutdown().await;
    assert!(store.snapshot().checkpoints.iter().all(|c| c.seq == 1));
}

#[tokio::test]
async fn shutdown_commits_every_queued_record_and_refuses_later_appends() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let (log, _clock) = start(&store, &keys, config());
    store.pause();
    let mut tasks = vec![tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    })];
    store.wait_for_calls(1).await;
    for i in 1..=2000 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(record(i)).await }));
    }
    wait_until(|| log.queued() == 2000).await;
    let closing = tokio::spawn({
        let log = log.clone();
        async move { log.close().await }
    });
    wait_until(|| log.is_closed()).await;
    assert!(matches!(
        log.append(record(5000)).await,
        Err(AuditError::Closed)
    ));
    assert!(!closing.is_finished(), "close waits for the queued records");
    store.resume();
    closing.await.unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let st = store.snapshot();
    assert_eq!(st.entries.len(), 2001);
    assert_eq!(st.checkpoints.last().map(|c| c.seq), Some(2001));
    assert!(matches!(
        log.append(record(5001)).await,
        Err(AuditError::Closed)
    ));
    let report = verify(store.as_ref(), &keys_jwks(&keys)).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 2001);
}

#[tokio::test]
async fn close_from_several_clones_returns_after_the_writer_finished() {
    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    log.append(record(1)).await.unwrap();
    let other = log.clone();
    tokio::join!(log.close(), other.close());
    log.close().await;
    assert_eq!(
        store.snapshot().checkpoints.len(),
        1,
        "one final checkpoint"
    );
    assert!(matches!(
        other.append(record(2)).await,
        Err(AuditError::Closed)
    ));
}

#[tokio::test]
async fn dropping_every_handle_still_commits_queued_records() {
    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    store.pause();
    let task = tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    });
    store.wait_for_calls(1).await;
    drop(log);
    store.resume();
    assert_eq!(task.await.unwrap().unwrap(), 1);
    wait_until(|| !store.snapshot().checkpoints.is_empty()).await;
}

#[tokio::test]
async fn a_caller_that_stops_waiting_still_gets_its_entry_written() {
    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    store.pause();
    let task = tokio::spawn({
        let log = log.clone();
        async move { log.append(record(1)).await }
    });
    store.wait_for_calls(1).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    store.resume();
    log.shutdown().await;
    assert_eq!(store.snapshot().entries.len(), 1);
}

/// A `tracing` writer that keeps what the subscriber formats, for the refusal log test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refusal_is_also_logged_at_debug_with_its_request_id_and_reason() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let store = MemoryStore::new();
    let (log, _clock) = start(&store, &TestKeys::new(), config());
    let mut refused = record(1);
    refused.outcome = shonin_audit::Outcome::Failure;
    refused.action = "client.authenticate".into();
    refused.reason = Some("client assertion aud must be the issuer".into());
    refused.request_id = Some("req-4711".into());
    log.append(refused).await.unwrap();
    let mut allowed = record(2);
    allowed.request_id = Some("req-4712".into());
    log.append(allowed).await.unwrap();
    log.shutdown().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request refused"))
        .collect();
    assert_eq!(lines.len(), 1, "one refusal, one line: {text}");
    assert!(lines[0].contains("DEBUG"), "{}", lines[0]);
    assert!(lines[0].contains("request_id=\"req-4711\""), "{}", lines[0]);
    assert!(lines[0].contains("client.authenticate"), "{}", lines[0]);
    assert!(
        lines[0].contains("client assertion aud must be the issuer"),
        "{}",
        lines[0]
    );
    assert!(
        !text.contains("req-4712"),
        "successes are not logged: {text}"
    );
}
