//! Test doubles: an in-memory [`AuditStore`] that implements the port faithfully (and can be
//! paused, made to fail and tampered with), a one-key [`KeySource`], and record builders.

use async_trait::async_trait;
use shonin_audit::chain::seal;
use shonin_audit::{
    Actor, ActorKind, AuditConfig, AuditLog, AuditRecord, AuditStore, Checkpoint, GENESIS_HASH,
    Hash, Outcome, SealedEntry,
};
use shonin_jose::Alg;
use shonin_keys::{KeySource, LocalSigner, Signer};
use shonin_types::{FixedClock, StorageError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::watch;

pub const T0: OffsetDateTime = datetime!(2026-11-22 09:00:00.123456 UTC);

/// What the store holds: the rows of the entry table, the head row and the checkpoint table.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub entries: Vec<SealedEntry>,
    pub head: Option<(u64, Hash)>,
    pub checkpoints: Vec<Checkpoint>,
}

impl State {
    /// The row with this seq.
    pub fn entry(&mut self, seq: u64) -> &mut SealedEntry {
        self.entries.iter_mut().find(|e| e.seq == seq).unwrap()
    }

    pub fn remove(&mut self, seq: u64) {
        self.entries.retain(|e| e.seq != seq);
    }
}

#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    calls: AtomicUsize,
    batch_sizes: Mutex<Vec<usize>>,
    fail: AtomicBool,
    paused: watch::Sender<bool>,
}

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            calls: AtomicUsize::new(0),
            batch_sizes: Mutex::default(),
            fail: AtomicBool::new(false),
            paused: watch::channel(false).0,
        })
    }

    /// Appends started (including ones that then failed or are still paused).
    pub fn append_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Sizes of the batches committed, in order.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.batch_sizes.lock().unwrap().clone()
    }

    /// Appends wait (after being counted) until [`MemoryStore::resume`].
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Appends fail with `Unavailable` (checked after the pause).
    pub fn fail_appends(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    pub fn snapshot(&self) -> State {
        self.state.lock().unwrap().clone()
    }

    /// Changes the stored rows directly, as someone with database access could.
    pub fn tamper(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Waits (bounded) until `n` appends have started.
    pub async fn wait_for_calls(&self, n: usize) {
        wait_until(|| self.append_calls() >= n).await;
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, records: Vec<AuditRecord>) -> Result<Vec<SealedEntry>, StorageError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut paused = self.paused.subscribe();
        let _ = paused.wait_for(|p| !*p).await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable("injected failure".into()));
        }
        // One transaction: read the head, seal, insert, move the head.
        let mut st = self.state.lock().unwrap();
        let (mut seq, mut prev) = st.head.unwrap_or((0, GENESIS_HASH));
        let mut sealed = Vec::with_capacity(records.len());
        for record in records {
            seq += 1;
            let entry = seal(seq, prev, record);
            prev = entry.hash;
            sealed.push(entry);
        }
        st.entries.extend(sealed.iter().cloned());
        if !sealed.is_empty() {
            st.head = Some((seq, prev));
        }
        self.batch_sizes.lock().unwrap().push(sealed.len());
        Ok(sealed)
    }

    async fn entries(&self, from_seq: u64, limit: u32) -> Result<Vec<SealedEntry>, StorageError> {
        let st = self.state.lock().unwrap();
        let mut rows: Vec<_> = st
            .entries
            .iter()
            .filter(|e| e.seq >= from_seq)
            .cloned()
            .collect();
        rows.sort_by_key(|e| e.seq);
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn head(&self) -> Result<Option<(u64, Hash)>, StorageError> {
        Ok(self.state.lock().unwrap().head)
    }

    async fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StorageError> {
        let mut st = self.state.lock().unwrap();
        let latest = st.checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
        if checkpoint.prev_seq != Some(latest) || checkpoint.seq <= latest {
            return Err(StorageError::Conflict(
                "not after the latest checkpoint".into(),
            ));
        }
        st.checkpoints.push(checkpoint.clone());
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StorageError> {
        let mut cps = self.state.lock().unwrap().checkpoints.clone();
        cps.sort_by_key(|c| c.seq);
        Ok(cps)
    }
}

/// A keyring with one ES256 key.
#[derive(Debug)]
pub struct TestKeys {
    pub signer: Arc<dyn Signer>,
}

impl TestKeys {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            signer: Arc::new(LocalSigner::generate(Alg::ES256).unwrap()),
        })
    }
}

impl KeySource for TestKeys {
    fn current_signer(&self) -> Arc<dyn Signer> {
        self.signer.clone()
    }

    fn published_jwks(&self) -> serde_json::Value {
        self.verification_jwks()
    }

    fn verification_jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.signer.public_jwk()] })
    }
}

/// A distinct, fully populated record.
pub fn record(i: usize) -> AuditRecord {
    AuditRecord {
        time: T0 + time::Duration::milliseconds(i as i64),
        actor: Actor {
            kind: ActorKind::Client,
            id: format!("client-{}", i % 7),
        },
        action: "token.issue".into(),
        target: format!("client-{}", i % 7),
        outcome: if i.is_multiple_of(5) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        reason: i.is_multiple_of(5).then(|| "invalid_grant".to_owned()),
        source_ip: Some(format!("192.0.2.{}", i % 250).parse().unwrap()),
        request_id: Some(format!("req-{i}")),
    }
}

/// A writer over `store` with a fixed clock at [`T0`].
pub fn start(
    store: &Arc<MemoryStore>,
    keys: &Arc<TestKeys>,
    config: AuditConfig,
) -> (AuditLog, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(T0));
    let log = AuditLog::start(store.clone(), keys.clone(), config, clock.clone());
    (log, clock)
}

/// Appends `n` records directly to the store (no writer), one batch.
pub async fn fill(store: &MemoryStore, n: usize) -> Vec<SealedEntry> {
    store.append((1..=n).map(record).collect()).await.unwrap()
}

/// Polls `cond` for up to 10 s of real time.
pub async fn wait_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached within 10 s");
}

/// A checkpoint for `(seq, hash)` signed like the writer signs one.
/// A checkpoint as written before checkpoints were chained (no `prev_seq`).
pub async fn signed_checkpoint(keys: &TestKeys, seq: u64, hash: Hash) -> Checkpoint {
    checkpoint(keys, seq, hash, None).await
}

/// A chained checkpoint following the checkpoint `prev` (`(0, genesis)` for the first).
pub async fn chained_checkpoint(
    keys: &TestKeys,
    seq: u64,
    hash: Hash,
    prev: (u64, Hash),
) -> Checkpoint {
    checkpoint(keys, seq, hash, Some(prev)).await
}

async fn checkpoint(
    keys: &TestKeys,
    seq: u64,
    hash: Hash,
    prev: Option<(u64, Hash)>,
) -> Checkpoint {
    let mut claims = serde_json::json!({
        "seq": seq,
        "hash": shonin_audit::chain::to_hex(&hash),
        "iat": T0.unix_timestamp(),
    });
    if let Some((prev_seq, prev_hash)) = prev {
        claims["prev_seq"] = prev_seq.into();
        claims["prev_hash"] = shonin_audit::chain::to_hex(&prev_hash).into();
    }
    let jws = shonin_keys::sign_jwt(keys.signer.as_ref(), shonin_audit::CHECKPOINT_TYP, &claims)
        .await
        .unwrap();
    Checkpoint {
        seq,
        hash,
        created_at: T0,
        prev_seq: prev.map(|(s, _)| s),
        jws,
    }
}

/// The default writer configuration.
pub fn config() -> shonin_audit::AuditConfig {
    shonin_audit::AuditConfig::default()
}

/// The keys that verify checkpoints.
pub fn keys_jwks(keys: &TestKeys) -> serde_json::Value {
    keys.verification_jwks()
}
