//! The threads that talk to the module. Each owns one logged-in session; a job is a closure run
//! against it, answered on a oneshot channel. Jobs go round-robin over the threads.

use crate::Pkcs11Error;
use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&Session) + Send>;

/// The lock of `serialize_calls`: one for the whole process, as the module is.
fn process_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pool of threads, each with its own session on one slot.
pub(crate) struct Pool {
    senders: Vec<mpsc::Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

/// Stops the threads and waits for them: each closes its session before the pool is gone, so a
/// session is never closed while the process finalises the module or exits (SoftHSM2 crashes
/// then).
impl Drop for Pool {
    fn drop(&mut self) {
        self.senders.clear();
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

impl Pool {
    /// Opens `threads` sessions on `slot` (already logged in: PKCS#11 login state is shared by
    /// every session of the application) and starts a thread for each.
    pub(crate) fn start(
        ctx: &Arc<Pkcs11>,
        slot: Slot,
        threads: usize,
        serialize: bool,
    ) -> Result<Self, Pkcs11Error> {
        let mut senders = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let session = ctx
                .open_rw_session(slot)
                .map_err(|e| Pkcs11Error::call("C_OpenSession", e))?;
            let (tx, rx) = mpsc::channel::<Job>();
            let ctx = ctx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("shonin-pkcs11-{i}"))
                .spawn(move || {
                    // The context must outlive the session.
                    let _ctx = ctx;
                    while let Ok(job) = rx.recv() {
                        let _one_at_a_time = serialize.then(process_lock);
                        job(&session);
                    }
                })
                .map_err(|e| Pkcs11Error::call("starting a worker thread", e))?;
            senders.push(tx);
            handles.push(handle);
        }
        Ok(Pool {
            senders,
            threads: handles,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on one of the sessions and returns its result.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, Pkcs11Error>
    where
        T: Send + 'static,
        F: FnOnce(&Session) -> Result<T, Pkcs11Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |session| {
            let _ = tx.send(f(session));
        });
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len().max(1);
        let sender = self.senders.get(i).ok_or(Pkcs11Error::WorkerStopped)?;
        sender.send(job).map_err(|_| Pkcs11Error::WorkerStopped)?;
        rx.await.map_err(|_| Pkcs11Error::WorkerStopped)?
    }

    /// Runs `f` and waits for it from synchronous code (start-up, the CLI). Not for the runtime's
    /// own threads.
    pub(crate) fn run_blocking<T, F>(&self, f: F) -> Result<T, Pkcs11Error>
    where
        T: Send + 'static,
        F: FnOnce(&Session) -> Result<T, Pkcs11Error> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |session| {
            let _ = tx.send(f(session));
        });
        let sender = self.senders.first().ok_or(Pkcs11Error::WorkerStopped)?;
        sender.send(job).map_err(|_| Pkcs11Error::WorkerStopped)?;
        rx.recv().map_err(|_| Pkcs11Error::WorkerStopped)?
    }
}
