//! Checkpoints: cadence by count and by time, their form, and failures that must not lose
//! entries.

use crate::support::{MemoryStore, T0, TestKeys, config, keys_jwks, record, start};
use shonin_audit::chain::to_hex;
use shonin_audit::{AuditConfig, AuditLog, CHECKPOINT_TYP, verify};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn checkpoints_follow_every_n_entries_and_shutdown() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let cfg = AuditConfig {
        checkpoint_every: 10,
        ..config()
    };
    let (log, _clock) = start(&store, &keys, cfg);
    for i in 1..=25 {
        log.append(record(i)).await.unwrap();
    }
    log.shutdown().await;
    let seqs: Vec<_> = store.snapshot().checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![10, 20, 25]);
    let report = verify(store.as_ref(), &keys_jwks(&keys)).await.unwrap();
    assert_eq!(
        (report.entries, report.checkpoints, report.first_bad),
        (25, 3, None)
    );
}

#[tokio::test(start_paused = true)]
async fn checkpoints_follow_the_interval_only_when_there_are_new_entries() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let cfg = AuditConfig {
        checkpoint_every: 1_000_000,
        checkpoint_interval: Duration::from_secs(60),
        ..config()
    };
    let (log, clock) = start(&store, &keys, cfg);
    for i in 1..=3 {
        log.append(record(i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(store.snapshot().checkpoints.is_empty());
    clock.advance(time::Duration::seconds(60));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cps = store.snapshot().checkpoints;
    assert_eq!(cps.len(), 1);
    let cp = &cps[0];
    assert_eq!(cp.seq, 3);
    assert_eq!(cp.created_at, T0 + time::Duration::seconds(60));

    // A quiet interval writes nothing new.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(store.snapshot().checkpoints.len(), 1);

    log.append(record(4)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let seqs: Vec<_> = store.snapshot().checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![3, 4]);
    log.shutdown().await;
    assert_eq!(
        store.snapshot().checkpoints.len(),
        2,
        "nothing new since the last checkpoint"
    );
}

#[tokio::test]
async fn checkpoint_is_a_typed_jws_over_the_store_head() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let (log, _clock) = start(&store, &keys, config());
    for i in 1..=5 {
        log.append(record(i)).await.unwrap();
    }
    log.shutdown().await;
    let st = store.snapshot();
    let cp = st.checkpoints.last().unwrap().clone();
    let (head_seq, head_hash) = st.head.unwrap();
    assert_eq!((cp.seq, cp.hash), (head_seq, head_hash));
    let header = shonin_jose::decode_header(&cp.jws).unwrap();
    assert_eq!(header.typ.as_deref(), Some(CHECKPOINT_TYP));
    let opts = shonin_jose::VerifyOptions::new(T0)
        .with_typ(CHECKPOINT_TYP)
        .exp_optional();
    let claims = shonin_jose::verify_jwt(&cp.jws, &keys_jwks(&keys), &opts).unwrap();
    assert_eq!(claims["seq"], serde_json::json!(5));
    assert_eq!(claims["hash"], serde_json::json!(to_hex(&head_hash)));
    assert_eq!(claims["iat"], serde_json::json!(T0.unix_timestamp()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_sharing_a_store_keep_one_chain_and_checkpoint_its_real_head() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let cfg = AuditConfig {
        checkpoint_every: 50,
        ..config()
    };
    let (a, _) = start(&store, &keys, cfg.clone());
    let (b, _) = start(&store, &keys, cfg);
    let run = |log: AuditLog, base: usize| {
        tokio::spawn(async move {
            for i in 0..300 {
                log.append(record(base + i)).await.unwrap();
            }
            log.shutdown().await;
        })
    };
    let (ra, rb) = tokio::join!(run(a, 0), run(b, 10_000));
    ra.unwrap();
    rb.unwrap();
    let st = store.snapshot();
    assert_eq!(st.entries.len(), 600);
    assert_eq!(st.checkpoints.last().map(|c| c.seq), Some(600));
    let report = verify(store.as_ref(), &keys_jwks(&keys)).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checkpoints, st.checkpoints.len() as u64);
}

#[tokio::test]
async fn a_signer_failure_does_not_lose_entries() {
    let store = MemoryStore::new();
    let keys = Arc::new(FailingKeys(TestKeys::new()));
    let cfg = AuditConfig {
        checkpoint_every: 1,
        ..config()
    };
    let log = AuditLog::start(
        store.clone(),
        keys,
        cfg,
        Arc::new(shonin_types::FixedClock::new(T0)),
    );
    for i in 1..=3 {
        assert_eq!(log.append(record(i)).await.unwrap(), i as u64);
    }
    log.shutdown().await;
    let st = store.snapshot();
    assert_eq!(st.entries.len(), 3);
    assert!(st.checkpoints.is_empty());
}

/// A keyring whose signer always fails (an HSM that is down).
#[derive(Debug)]
struct FailingKeys(Arc<TestKeys>);

#[derive(Debug)]
struct FailingSigner(Arc<dyn shonin_keys::Signer>);

#[async_trait::async_trait]
impl shonin_keys::Signer for FailingSigner {
    fn kid(&self) -> &str {
        self.0.kid()
    }
    fn alg(&self) -> shonin_jose::Alg {
        self.0.alg()
    }
    fn public_jwk(&self) -> &serde_json::Value {
        self.0.public_jwk()
    }
    async fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, shonin_keys::KeyError> {
        Err(shonin_keys::KeyError::Sign("HSM unavailable".into()))
    }
}

impl shonin_keys::KeySource for FailingKeys {
    fn current_signer(&self) -> Arc<dyn shonin_keys::Signer> {
        Arc::new(FailingSigner(self.0.signer.clone()))
    }
    fn published_jwks(&self) -> serde_json::Value {
        self.0.published_jwks()
    }
    fn verification_jwks(&self) -> serde_json::Value {
        self.0.verification_jwks()
    }
}

#[tokio::test]
async fn entries_appended_elsewhere_count_towards_checkpoints() {
    use shonin_audit::AuditStore;
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let cfg = AuditConfig {
        checkpoint_every: 10,
        ..config()
    };
    let (log, _clock) = start(&store, &keys, cfg);
    // Nine written by another transaction, then one more through the log: a checkpoint at 10.
    let records: Vec<_> = (1..=9)
        .map(|i| log.prepare_elsewhere(record(i)).unwrap())
        .collect();
    store.append(records).await.unwrap();
    log.appended_elsewhere(9);
    log.append(record(10)).await.unwrap();
    crate::support::wait_until(|| !store.snapshot().checkpoints.is_empty()).await;
    assert_eq!(store.snapshot().checkpoints[0].seq, 10);
    // Ten more only elsewhere: the count alone wakes the writer.
    let records: Vec<_> = (11..=20)
        .map(|i| log.prepare_elsewhere(record(i)).unwrap())
        .collect();
    store.append(records).await.unwrap();
    log.appended_elsewhere(10);
    crate::support::wait_until(|| store.snapshot().checkpoints.len() == 2).await;
    assert_eq!(store.snapshot().checkpoints[1].seq, 20);
    log.shutdown().await;
    let report = verify(store.as_ref(), &keys_jwks(&keys)).await.unwrap();
    assert_eq!((report.entries, report.first_bad), (20, None));
}

#[tokio::test]
async fn a_closing_log_refuses_records_for_elsewhere() {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let (log, _clock) = start(&store, &keys, config());
    let long = shonin_audit::AuditRecord {
        target: "t".repeat(10_000),
        ..record(1)
    };
    let prepared = log.prepare_elsewhere(long.clone()).unwrap();
    assert_eq!(prepared, long.clamped(), "clamped as append would");
    log.close().await;
    assert!(matches!(
        log.prepare_elsewhere(record(2)),
        Err(shonin_audit::AuditError::Closed)
    ));
}
