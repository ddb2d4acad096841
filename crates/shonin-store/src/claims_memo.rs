//! SQLite's replay claims decided in memory, written as an append-only log.
//!
//! A claim's key is a client's random `jti`. Kept in a table keyed by it (as on PostgreSQL),
//! every claim lands on a random B-tree leaf: measured with `bench/profile.sh sqlite`
//! (2026-12-03), a token request's two claims were two of its three random 4 KiB pages, each
//! written to the WAL at commit and again to the database file at the next checkpoint.
//!
//! A SQLite database is served by **one** process (several nodes need PostgreSQL), so that
//! process can decide freshness itself: this memo holds every unexpired claim, and the database
//! keeps `replay_log`, rows appended in claim order (an integer key, so each batch's claims share
//! one or two pages) with an index on `expires_at` for sweeping, which claims of similar lifetime
//! fill at its end. The memo is the log read back: it is loaded from `replay_log` before its
//! first decision, so a claim survives a restart exactly when its row was committed.
//!
//! - One process: the first decision takes an exclusive lock on `<database>-claims.lock`
//!   (`flock`, held until [`ClaimsMemo::unlock`] or exit). A second process that tries to claim
//!   on the same file fails with [`StorageError::Unavailable`] instead of deciding alone; other
//!   commands (client and user administration, audit export) never claim and are unaffected.
//! - Same outcomes as the SQL path: a key is fresh if absent or if its record expired at or
//!   before the caller's `now`; the first of two claims of one key wins. A reservation is undone
//!   when its write fails, so nothing unwritten is remembered.
//! - Keys are 128-bit keyed SipHash digests of namespace and key (two `RandomState`s, random per
//!   process), 32 bytes an entry: a client cannot aim collisions at another client's values,
//!   and a chance collision among a million live claims is about 2⁻⁸⁸.

use crate::batch::{Batch, Claim};
use crate::error::sqlx_err;
use shonin_types::StorageError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Mutex;

/// Independent locks, so a sweep holds up only a sixteenth of the claims.
const SHARDS: usize = 16;

type Key = u128;

/// The operation named in errors while the log is read.
const LOAD: &str = "replay log read";

/// The live claims of one SQLite database, shared by every handle of one [`crate::Store`].
pub(crate) struct ClaimsMemo {
    lock_path: PathBuf,
    /// Set once the lock is held and the log is read; holds the locked file.
    loaded: tokio::sync::OnceCell<Mutex<Option<File>>>,
    shards: [Mutex<HashMap<Key, i64>>; SHARDS],
    hashers: (RandomState, RandomState),
}

/// One claim this memo granted, to undo if its write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reservation {
    key: Key,
    expires_at: i64,
    /// The expired record it replaced.
    replaced: Option<i64>,
}

impl std::fmt::Debug for ClaimsMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsMemo")
            .field("lock_path", &self.lock_path)
            .finish_non_exhaustive()
    }
}

impl ClaimsMemo {
    /// The memo of the database file at `database`.
    pub(crate) fn new(database: &std::path::Path) -> Self {
        let mut lock_path = database.as_os_str().to_owned();
        lock_path.push("-claims.lock");
        Self {
            lock_path: PathBuf::from(lock_path),
            loaded: tokio::sync::OnceCell::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hashers: (RandomState::new(), RandomState::new()),
        }
    }

    /// Takes the lock and reads `replay_log` through `conn`, once; later calls return at once.
    pub(crate) async fn ensure_loaded<'c, DB, E>(&self, conn: E) -> Result<(), StorageError>
    where
        DB: sqlx::Database,
        E: Executor<'c, Database = DB>,
        DB::Arguments: IntoArguments<DB>,
        for<'e> i64: Decode<'e, DB> + Type<DB>,
        for<'e> String: Decode<'e, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        self.loaded
            .get_or_try_init(|| async {
                let file = self.lock()?;
                // Every row, expired or not: which ones have expired depends on the caller's
                // clock, and an expired entry decides exactly as a missing one.
                let rows = sqlx::query("SELECT namespace, key, expires_at FROM replay_log")
                    .fetch_all(conn)
                    .await
                    .map_err(sqlx_err(LOAD))?;
                for row in rows {
                    let ns: String = row.try_get(0usize).map_err(sqlx_err(LOAD))?;
                    let key: String = row.try_get(1usize).map_err(sqlx_err(LOAD))?;
                    let expires_at: i64 = row.try_get(2usize).map_err(sqlx_err(LOAD))?;
                    let k = self.key(&ns, &key);
                    let mut shard = self.shard(k);
                    let e = shard.entry(k).or_insert(expires_at);
                    *e = (*e).max(expires_at);
                }
                Ok::<_, StorageError>(Mutex::new(Some(file)))
            })
            .await
            .map(drop)
    }

    fn lock(&self) -> Result<File, StorageError> {
        let mut options = std::fs::OpenOptions::new();
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| {
                tracing::error!(path = %self.lock_path.display(), error = %e, "cannot open the replay claims lock file");
                StorageError::Unavailable("cannot open the SQLite replay claims lock file".into())
            })?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Unavailable(format!(
                "another process decides replay claims on this SQLite database (it holds {}); a \
                 SQLite database is served by one process — use PostgreSQL for several nodes",
                self.lock_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::error!(path = %self.lock_path.display(), error = %e, "cannot lock the replay claims lock file");
                Err(StorageError::Unavailable(
                    "cannot lock the SQLite replay claims lock file".into(),
                ))
            }
        }
    }

    /// Releases the lock (the store is closing); the memo decides nothing more that could be
    /// written, since the store's connections are closed with it.
    pub(crate) fn unlock(&self) {
        if let Some(held) = self.loaded.get() {
            held.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
    }

    fn key(&self, namespace: &str, key: &str) -> Key {
        let one = (namespace, key);
        (u128::from(self.hashers.0.hash_one(one)) << 64) | u128::from(self.hashers.1.hash_one(one))
    }

    fn shard(&self, k: Key) -> std::sync::MutexGuard<'_, HashMap<Key, i64>> {
        // The low bits of a SipHash digest are uniform; the remainder is below SHARDS.
        let i = usize::try_from(k % SHARDS as u128).unwrap_or(0);
        let [first, ..] = &self.shards;
        self.shards
            .get(i)
            .unwrap_or(first)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Grants `namespace`/`key` until `expires_at` (unix µs) unless a record that has not
    /// expired at `now` holds it, as `ReplayStore::first_use`. Call only after
    /// [`ClaimsMemo::ensure_loaded`].
    pub(crate) fn reserve(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> Option<Reservation> {
        let k = self.key(namespace, key);
        let mut shard = self.shard(k);
        let replaced = match shard.get(&k) {
            Some(&held) if held > now => return None,
            other => other.copied(),
        };
        shard.insert(k, expires_at);
        Some(Reservation {
            key: k,
            expires_at,
            replaced,
        })
    }

    /// Undoes `reservations` (their write failed), newest first.
    pub(crate) fn release(&self, reservations: &[Reservation]) {
        for r in reservations.iter().rev() {
            let mut shard = self.shard(r.key);
            if shard.get(&r.key) == Some(&r.expires_at) {
                match r.replaced {
                    Some(old) => shard.insert(r.key, old),
                    None => shard.remove(&r.key),
                };
            }
        }
    }

    /// Forgets every record expired at `now` (unix µs), one shard at a time.
    pub(crate) fn sweep(&self, now: i64) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, expires_at| *expires_at > now);
        }
    }

    /// Live and expired-but-unswept records.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }
}

/// The memo's verdict on one batch, in queue order: what the writer writes and tells each
/// caller.
#[derive(Default)]
pub(crate) struct Decided<'a> {
    /// Each unit's first replayed claim, if any (nothing else of it is written).
    pub replayed: Vec<Option<usize>>,
    /// The granted claims of every unit: the log rows to append.
    pub rows: Vec<&'a Claim>,
    /// What to undo if the batch is not committed.
    pub reservations: Vec<Reservation>,
}

impl ClaimsMemo {
    /// Decides every claim of `batch`, unit after unit. A granted claim of a replayed unit is
    /// still written, as the SQL path spends every fresh value.
    pub(crate) fn decide<'a>(&self, batch: &Batch<'a>) -> Decided<'a> {
        let mut d = Decided::default();
        let grant = |c: &'a Claim, d: &mut Decided<'a>| {
            let r = self.reserve(&c.namespace, &c.key, c.expires_at, c.now);
            if let Some(r) = r {
                d.reservations.push(r);
                d.rows.push(c);
            }
            r.is_some()
        };
        for unit in batch.units {
            let mut replayed = None;
            for (i, c) in unit.claims.iter().enumerate() {
                if !grant(c, &mut d) && replayed.is_none() {
                    replayed = Some(i);
                }
            }
            d.replayed.push(replayed);
        }
        d
    }
}

/// Appends `claims` to `q` as rows of the log (SQLite, decided by the memo).
pub(crate) fn push_log_rows<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, claims: &[&Claim])
where
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    crate::batch_script::push_claim_rows(q, "replay_log", claims);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo() -> ClaimsMemo {
        ClaimsMemo::new(std::path::Path::new("/nonexistent/test.db"))
    }

    #[test]
    fn a_key_is_granted_once_until_it_expires() {
        let m = memo();
        assert!(m.reserve("dpop", "a", 100, 10).is_some());
        assert!(m.reserve("dpop", "a", 100, 99).is_none());
        assert!(
            m.reserve("dpop", "a", 500, 50).is_none(),
            "a later expiry is no escape"
        );
        assert!(
            m.reserve("jwt", "a", 100, 10).is_some(),
            "namespaces are separate"
        );
        // now == expires_at: expired, as in SQL (`expires_at <= now`).
        let again = m.reserve("dpop", "a", 300, 100).unwrap();
        assert_eq!(again.replaced, Some(100));
        assert!(m.reserve("dpop", "a", 300, 299).is_none());
    }

    #[test]
    fn release_restores_what_was_there() {
        let m = memo();
        let first = m.reserve("ns", "k", 100, 0).unwrap();
        m.release(&[first]);
        assert_eq!(m.len(), 0);
        let first = m.reserve("ns", "k", 100, 0).unwrap();
        let second = m.reserve("ns", "k", 200, 150).unwrap();
        m.release(&[second]);
        // The expired record is back, and still decides as expired.
        assert!(m.reserve("ns", "k", 100, 99).is_none());
        assert!(m.reserve("ns", "k", 300, 100).is_some());
        // A reservation replaced since is not undone by an older one.
        m.release(&[first]);
        assert!(m.reserve("ns", "k", 400, 200).is_none());
    }

    #[test]
    fn sweep_forgets_only_expired_records() {
        let m = memo();
        for i in 0..100 {
            assert!(m.reserve("ns", &i.to_string(), i, 0).is_some());
        }
        m.sweep(49);
        assert_eq!(m.len(), 50);
        assert!(m.reserve("ns", "50", 1000, 49).is_none());
        assert!(m.reserve("ns", "49", 1000, 49).is_some());
    }

    #[test]
    fn keys_depend_on_namespace_and_key_apart() {
        let m = memo();
        assert_ne!(m.key("ab", "c"), m.key("a", "bc"));
        assert_ne!(m.key("ns", "k"), m.key("k", "ns"));
    }
}
