//! The writer service: one task per process that batches appends into single store calls and
//! signs checkpoints.
//!
//! Callers await [`AuditLog::append`] until their entry is committed, so an entry is durable
//! before the caller answers its own client. The writer drains whatever is queued (up to
//! [`AuditConfig::max_batch`]) into one [`AuditStore::append`] call; the port is all-or-nothing,
//! so on failure every caller in the batch gets the error and nothing of the batch is stored.
//!
//! Several processes may share one database: the writer never assumes it knows the head, it
//! reads it from the store when it checkpoints.

use crate::chain::{normalize_time, to_hex};
use crate::error::copy_storage_error;
use crate::{AuditError, AuditRecord, AuditStore, Checkpoint};
use shonin_keys::KeySource;
use shonin_types::{Clock, StorageError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// The JWS `typ` of a checkpoint (RFC 8725 §3.11: explicit typing, so a checkpoint can never be
/// mistaken for another token signed by the same key).
pub const CHECKPOINT_TYP: &str = "shonin-audit-checkpoint+jwt";

/// Tuning of the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Sign a checkpoint once this many entries were written since the last one (0 = after
    /// every batch).
    pub checkpoint_every: u64,
    /// Sign a checkpoint this often if entries were written since the last one (at least 1 ms).
    pub checkpoint_interval: Duration,
    /// The most records written with one store call (at least 1).
    pub max_batch: usize,
    /// How many records may wait for the writer; further appends wait for room (at least 1).
    pub queue: usize,
    /// Called with every checkpoint this writer stored (to publish it as an anchor outside the
    /// database). Its future runs as a task of its own, so appends never wait for it; shutdown
    /// waits up to [`HOOK_SHUTDOWN_WAIT`] for the ones still running.
    pub on_checkpoint: Option<CheckpointHook>,
}

/// How long [`AuditLog::shutdown`] waits for checkpoint hooks still running.
pub const HOOK_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The future a [`CheckpointHook`] returns.
pub type HookFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A callback for each stored checkpoint (see [`AuditConfig::on_checkpoint`]).
#[derive(Clone)]
pub struct CheckpointHook(pub Arc<dyn Fn(Checkpoint) -> HookFuture + Send + Sync>);

impl std::fmt::Debug for CheckpointHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointHook")
    }
}

impl PartialEq for CheckpointHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CheckpointHook {}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 512,
            queue: 8192,
            on_checkpoint: None,
        }
    }
}

/// One queued append and where to send its outcome.
#[derive(Debug)]
struct Job {
    record: AuditRecord,
    ack: oneshot::Sender<Result<u64, AuditError>>,
}

/// Entries appended by another writer's transaction ([`AuditLog::appended_elsewhere`]), so the
/// checkpoint schedule counts them.
#[derive(Debug)]
struct Elsewhere {
    count: AtomicU64,
    /// Wakes the writer once `count` reaches the checkpoint threshold.
    wake: Notify,
    checkpoint_every: u64,
}

#[derive(Debug)]
struct Shared {
    tx: mpsc::Sender<Job>,
    elsewhere: Arc<Elsewhere>,
    /// Set by [`AuditLog::close`]; appends that see it are refused.
    closed: AtomicBool,
    /// Tells the writer to drain and stop.
    shutdown: watch::Sender<bool>,
    /// The writer drops its sender when it has finished; `close` waits for that.
    finished: watch::Receiver<()>,
}

/// Handle to the audit writer. Cheap to clone; every clone feeds the same writer task.
#[derive(Debug, Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

impl AuditLog {
    /// Spawns the writer task on the current Tokio runtime (must be called inside one).
    pub fn start(
        store: Arc<dyn AuditStore>,
        keys: Arc<dyn KeySource>,
        config: AuditConfig,
        clock: Arc<dyn Clock>,
    ) -> AuditLog {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (finished_tx, finished) = watch::channel(());
        let elsewhere = Arc::new(Elsewhere {
            count: AtomicU64::new(0),
            wake: Notify::new(),
            checkpoint_every: config.checkpoint_every,
        });
        let writer = Writer {
            rx,
            elsewhere: elsewhere.clone(),
            store,
            keys,
            clock,
            max_batch: config.max_batch.max(1),
            checkpoint_every: config.checkpoint_every,
            since_checkpoint: 0,
            last_checkpoint_seq: 0,
            checkpoint_failing: false,
            on_checkpoint: config.on_checkpoint,
            hooks: tokio::task::JoinSet::new(),
        };
        let interval = config.checkpoint_interval.max(Duration::from_millis(1));
        tokio::spawn(writer.run(shutdown_rx, interval, finished_tx));
        AuditLog {
            shared: Arc::new(Shared {
                tx,
                elsewhere,
                closed: AtomicBool::new(false),
                shutdown,
                finished,
            }),
        }
    }

    /// Appends `record` and returns its sequence number once it is committed to the store.
    ///
    /// If this future is dropped after the record was queued, the record is still written.
    pub async fn append(&self, record: AuditRecord) -> Result<u64, AuditError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        let (ack, done) = oneshot::channel();
        let record = record.clamped();
        log_refusal(&record);
        self.shared
            .tx
            .send(Job { record, ack })
            .await
            .map_err(|_| AuditError::Closed)?;
        // A dropped ack means the writer task ended without answering (it cannot have committed
        // the batch and then failed to reply, since replies are sent right after the commit).
        done.await.map_err(|_| AuditError::Closed)?
    }

    /// `record` ready to be appended by a transaction of the caller's own (one that writes the
    /// entry together with the change it records, such as a unit of work committed through
    /// `shonin_types::unit::UnitStore::commit`): clamped as [`AuditLog::append`] would, or
    /// [`AuditError::Closed`] once the log is closing.
    /// Report the committed entry with [`AuditLog::appended_elsewhere`].
    pub fn prepare_elsewhere(&self, record: AuditRecord) -> Result<AuditRecord, AuditError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        Ok(record.clamped())
    }

    /// Counts `n` entries committed by another transaction into the checkpoint schedule (a
    /// checkpoint is signed after [`AuditConfig::checkpoint_every`] entries, whoever wrote them).
    pub fn appended_elsewhere(&self, n: u64) {
        metrics::counter!("shonin_audit_entries_written_total").increment(n);
        let e = &self.shared.elsewhere;
        let before = e.count.fetch_add(n, Ordering::AcqRel);
        if before < e.checkpoint_every.max(1) && before.saturating_add(n) >= e.checkpoint_every {
            e.wake.notify_one();
        }
    }

    /// Records waiting for the writer (for a gauge or a readiness check).
    pub fn queued(&self) -> usize {
        self.shared
            .tx
            .max_capacity()
            .saturating_sub(self.shared.tx.capacity())
    }

    /// True once [`AuditLog::close`] was called on any clone.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Stops accepting appends, commits every record already queued, signs a final checkpoint if
    /// entries were written since the last one, and returns when the writer task has finished.
    /// Safe to call from several clones; each call returns after the writer has finished.
    ///
    /// An append still waiting for room in a full queue when the writer stops gets
    /// [`AuditError::Closed`]: it never entered the queue, so nothing is lost unreported. A store
    /// call that hangs delays `close` until the store's own timeout fails it.
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.shutdown.send_replace(true);
        let mut finished = self.shared.finished.clone();
        // `changed` fails once the writer dropped its sender, i.e. when it has finished.
        while finished.changed().await.is_ok() {}
    }

    /// [`AuditLog::close`], consuming this handle.
    pub async fn shutdown(self) {
        self.close().await;
    }
}

/// Every refusal's reason also goes to the server log at debug level with its request id, so an
/// operator can see why a request failed without exporting the audit log. Reasons are written for
/// the audit log and carry no secrets.
fn log_refusal(record: &AuditRecord) {
    if record.outcome == crate::Outcome::Failure {
        tracing::debug!(
            request_id = record.request_id.as_deref().unwrap_or("-"),
            action = %record.action,
            actor = %record.actor.id,
            target = %record.target,
            reason = record.reason.as_deref().unwrap_or("-"),
            "request refused"
        );
    }
}

/// The state owned by the writer task.
struct Writer {
    rx: mpsc::Receiver<Job>,
    elsewhere: Arc<Elsewhere>,
    store: Arc<dyn AuditStore>,
    keys: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    checkpoint_every: u64,
    /// Entries this writer committed since its last checkpoint.
    since_checkpoint: u64,
    /// The head this writer last checkpointed (0 = none yet).
    last_checkpoint_seq: u64,
    /// After a failed checkpoint, retry on the timer rather than after every batch.
    checkpoint_failing: bool,
    on_checkpoint: Option<CheckpointHook>,
    /// Checkpoint hooks still running.
    hooks: tokio::task::JoinSet<()>,
}

enum Event {
    Jobs(usize),
    /// Entries appended elsewhere reached the checkpoint threshold.
    Elsewhere,
    Tick,
    Shutdown,
}

impl Writer {
    async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
        interval: Duration,
        finished: watch::Sender<()>,
    ) {
        let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut jobs = Vec::with_capacity(self.max_batch);
        loop {
            let event = tokio::select! {
                biased;
                // A dropped sender (every handle gone) also means shutdown.
                _ = shutdown.wait_for(|stop| *stop) => Event::Shutdown,
                _ = ticker.tick() => Event::Tick,
                n = self.rx.recv_many(&mut jobs, self.max_batch) => Event::Jobs(n),
                () = self.elsewhere.wake.notified() => Event::Elsewhere,
            };
            self.count_elsewhere();
            match event {
                Event::Shutdown => break,
                // Zero means every sender is gone and the queue is empty.
                Event::Jobs(0) => break,
                Event::Jobs(_) => {
                    self.commit(&mut jobs).await;
                    if !self.checkpoint_failing && self.since_checkpoint >= self.checkpoint_every {
                        self.checkpoint().await;
                    }
                }
                Event::Elsewhere => {
                    if !self.checkpoint_failing && self.since_checkpoint >= self.checkpoint_every {
                        self.checkpoint().await;
                    }
                }
                Event::Tick => {
                    if self.since_checkpoint > 0 {
                        self.checkpoint().await;
                    }
                }
            }
        }
        // Graceful shutdown loses no entry: refuse new sends, then commit everything queued.
        self.rx.close();
        loop {
            if self.rx.recv_many(&mut jobs, self.max_batch).await == 0 {
                break;
            }
            self.commit(&mut jobs).await;
        }
        self.count_elsewhere();
        if self.since_checkpoint > 0 {
            self.checkpoint().await;
        }
        let hooks = async { while self.hooks.join_next().await.is_some() {} };
        if tokio::time::timeout(HOOK_SHUTDOWN_WAIT, hooks)
            .await
            .is_err()
        {
            tracing::warn!("checkpoint hooks still running at shutdown were abandoned");
        }
        tracing::info!("audit writer stopped");
        drop(finished);
    }

    /// Moves the count of entries appended elsewhere into `since_checkpoint`.
    fn count_elsewhere(&mut self) {
        let n = self.elsewhere.count.swap(0, Ordering::AcqRel);
        self.since_checkpoint = self.since_checkpoint.saturating_add(n);
    }

    /// Writes `jobs` with one store call and answers each caller; leaves `jobs` empty.
    async fn commit(&mut self, jobs: &mut Vec<Job>) {
        let (records, acks): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.record, job.ack)).unzip();
        let n = acks.len();
        metrics::histogram!("shonin_audit_batch_size").record(n as f64);
        match self.store.append(records).await {
            Ok(sealed) if sealed.len() == n => {
                metrics::counter!("shonin_audit_entries_written_total").increment(n as u64);
                self.since_checkpoint = self.since_checkpoint.saturating_add(n as u64);
                for (entry, ack) in sealed.iter().zip(acks) {
                    // The caller may have stopped waiting; its entry is committed regardless.
                    let _ = ack.send(Ok(entry.seq));
                }
            }
            Ok(sealed) => {
                // The store wrote something, but we cannot tell callers which entry is theirs.
                metrics::counter!("shonin_audit_write_errors_total").increment(1);
                tracing::error!(
                    given = n,
                    returned = sealed.len(),
                    "audit store returned a different number of sealed entries"
                );
                self.since_checkpoint = self.since_checkpoint.saturating_add(sealed.len() as u64);
                for ack in acks {
                    let _ = ack.send(Err(AuditError::StoreContract(
                        "append returned a different number of entries",
                    )));
                }
            }
            Err(e) => {
                metrics::counter!("shonin_audit_write_errors_total").increment(1);
                tracing::error!(error = %e, batch = n, "audit batch not written");
                for ack in acks {
                    let _ = ack.send(Err(AuditError::Storage(copy_storage_error(&e))));
                }
            }
        }
    }

    /// Signs and stores a checkpoint of the store's current head; failures are logged and
    /// retried on the next timer tick.
    async fn checkpoint(&mut self) {
        match self.try_checkpoint().await {
            Ok(()) => self.checkpoint_failing = false,
            Err(e) => {
                self.checkpoint_failing = true;
                metrics::counter!("shonin_audit_checkpoint_errors_total").increment(1);
                tracing::error!(error = %e, "audit checkpoint failed");
            }
        }
    }

    async fn try_checkpoint(&mut self) -> Result<(), AuditError> {
        let Some((seq, hash)) = self.store.head().await? else {
            self.since_checkpoint = 0;
            return Ok(());
        };
        if seq == self.last_checkpoint_seq {
            self.since_checkpoint = 0;
            return Ok(());
        }
        // Each checkpoint names the one before it, so none can be removed from the middle
        // unnoticed (`verify`).
        let (prev_seq, prev_hash) = match self.store.latest_checkpoint().await? {
            Some(latest) if latest.seq >= seq => {
                // Another process sharing the database already checkpointed this head.
                self.last_checkpoint_seq = seq;
                self.since_checkpoint = 0;
                return Ok(());
            }
            Some(latest) => (latest.seq, latest.hash),
            None => (0, crate::GENESIS_HASH),
        };
        let now = normalize_time(self.clock.now());
        let claims = serde_json::json!({
            "seq": seq,
            "hash": to_hex(&hash),
            "iat": now.unix_timestamp(),
            "prev_seq": prev_seq,
            "prev_hash": to_hex(&prev_hash),
        });
        let signer = self
            .keys
            .signer_for(shonin_keys::KeyPurpose::AuditCheckpoints)?;
        let jws = shonin_keys::sign_jwt(signer.as_ref(), CHECKPOINT_TYP, &claims).await?;
        let checkpoint = Checkpoint {
            seq,
            hash,
            created_at: now,
            prev_seq: Some(prev_seq),
            jws,
        };
        match self.store.put_checkpoint(&checkpoint).await {
            Ok(()) => {
                metrics::counter!("shonin_audit_checkpoints_total").increment(1);
                tracing::debug!(seq, prev_seq, "audit checkpoint written");
                if let Some(hook) = &self.on_checkpoint {
                    while self.hooks.try_join_next().is_some() {}
                    self.hooks.spawn((hook.0)(checkpoint.clone()));
                }
            }
            // Another process sharing the database checkpointed first; the next tick
            // checkpoints after its checkpoint if this head is still not covered.
            Err(StorageError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.last_checkpoint_seq = seq;
        self.since_checkpoint = 0;
        Ok(())
    }
}
