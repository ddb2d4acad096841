//! The key service: the keyring file loaded into memory, rotation, hot reload and the JWK sets.

use crate::keyring_file::{self, KeyEntry, KeyState, KeyringFile};
use crate::keyring_io::{self, Stamp};
use crate::{KeyError, KeySource, LocalSigner, MasterKey, Signer};
use serde_json::{Value, json};
use shonin_jose::Alg;
use shonin_types::Clock;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use time::{Duration, OffsetDateTime};

/// Where the keyring lives and how it rotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringConfig {
    /// The keyring file; `<path>.lock` beside it serialises rotations.
    pub path: PathBuf,
    /// The algorithm of keys generated from now on (existing keys keep theirs).
    pub algorithm: Alg,
    /// How long a retired key stays in the published JWK set: at least the lifetime of the
    /// longest-lived token it signed, so relying parties can still verify those.
    pub publish_retired_for: Duration,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub retired_kid: String,
    pub current_kid: String,
    pub next_kid: String,
}

/// One key as listed by [`KeyService::list`]; no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    pub created_at: OffsetDateTime,
    pub activated_at: Option<OffsetDateTime>,
    pub retired_at: Option<OffsetDateTime>,
    /// Whether the key is in [`KeySource::published_jwks`] now.
    pub published: bool,
}

/// The keyring in memory. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct KeyService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("path", &self.inner.config.path)
            .field("algorithm", &self.inner.config.algorithm)
            .field("current_kid", &self.read_state().current.kid())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: KeyringConfig,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    loaded: RwLock<Loaded>,
}

/// One version of the file, checked and with the current key unsealed.
struct Loaded {
    file: KeyringFile,
    current: Arc<LocalSigner>,
    stamp: Stamp,
    digest: [u8; 32],
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Loaded {
    /// Parses `bytes` and unseals the current and next keys, so a wrong master key or a tampered
    /// blob is found at load time, not at the next rotation.
    fn from_bytes(
        bytes: &[u8],
        stamp: Stamp,
        master: &MasterKey,
        path: &str,
    ) -> Result<Self, KeyError> {
        let file = keyring_file::parse_at(bytes, path)?;
        let entry = |state| {
            file.the(state).ok_or_else(|| KeyError::Keyring {
                path: path.to_owned(),
                reason: format!("no {state:?} key"),
            })
        };
        let current = keyring_file::unseal(master, entry(KeyState::Current)?)?;
        keyring_file::unseal(master, entry(KeyState::Next)?)?;
        Ok(Self {
            file,
            current: Arc::new(current),
            stamp,
            digest: sha256(bytes),
        })
    }
}

impl KeyService {
    /// Opens the keyring at `config.path`, creating it with one current and one next key if it
    /// does not exist. Returns whether it was created.
    pub fn open_or_create(
        config: KeyringConfig,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, bool), KeyError> {
        if config.path.exists() {
            return Ok((Self::open(config, master, clock)?, false));
        }
        // Another process may be creating it too: decide under the lock.
        let _lock = keyring_io::lock(&config.path)?;
        if config.path.exists() {
            return Ok((Self::open(config, master, clock)?, false));
        }
        let now = clock.now();
        let current = LocalSigner::generate(config.algorithm)?;
        let next = LocalSigner::generate(config.algorithm)?;
        let mut current_entry = keyring_file::new_entry(&master, &current, now)?;
        current_entry.state = KeyState::Current;
        current_entry.activated_at = Some(now);
        let file = KeyringFile {
            keys: vec![current_entry, keyring_file::new_entry(&master, &next, now)?],
        };
        let path = config.path.display().to_string();
        keyring_io::write_atomically(&config.path, &file.to_bytes(&path)?)?;
        tracing::info!(
            path,
            current = current.kid(),
            next = next.kid(),
            "created keyring"
        );
        Ok((Self::open(config, master, clock)?, true))
    }

    /// Opens an existing keyring; fails with [`KeyError::KeyringMissing`] if there is none.
    pub fn open(
        config: KeyringConfig,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        if !config.path.exists() {
            return Err(KeyError::KeyringMissing {
                path: config.path.display().to_string(),
            });
        }
        let loaded = load(&config, &master)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                master,
                clock,
                loaded: RwLock::new(loaded),
            }),
        })
    }

    /// Rotates: next becomes current, current is retired (its private key destroyed, its public
    /// key kept), and a new next key is generated. Serialised across processes by the lock file;
    /// the file is re-read under the lock, so two rotations never lose each other's work.
    pub fn rotate(&self) -> Result<RotationReport, KeyError> {
        let config = &self.inner.config;
        let path = config.path.display().to_string();
        let _lock = keyring_io::lock(&config.path)?;
        let on_disk = load(config, &self.inner.master)?;
        let now = self.inner.clock.now();
        let new_next = LocalSigner::generate(config.algorithm)?;
        let mut report = RotationReport {
            retired_kid: String::new(),
            current_kid: String::new(),
            next_kid: new_next.kid().to_owned(),
        };
        let mut keys: Vec<KeyEntry> = on_disk.file.keys.clone();
        for k in &mut keys {
            match k.state {
                KeyState::Current => {
                    k.state = KeyState::Retired;
                    k.retired_at = Some(now);
                    k.sealed_private = None;
                    report.retired_kid = k.kid.clone();
                }
                KeyState::Next => {
                    k.state = KeyState::Current;
                    k.activated_at = Some(now);
                    report.current_kid = k.kid.clone();
                }
                KeyState::Retired => {}
            }
        }
        keys.push(keyring_file::new_entry(&self.inner.master, &new_next, now)?);
        let bytes = KeyringFile { keys }.to_bytes(&path)?;
        keyring_io::write_atomically(&config.path, &bytes)?;
        let reloaded = load(config, &self.inner.master)?;
        *self.write_state() = reloaded;
        tracing::info!(
            path,
            retired = report.retired_kid,
            current = report.current_kid,
            next = report.next_kid,
            "rotated signing keys"
        );
        Ok(report)
    }

    /// Reloads the file if another process changed it (e.g. `shonin keys rotate`). Cheap when
    /// nothing changed: one `stat`; the content is read and hashed only when the stamp moved.
    /// On error the keys in memory stay as they were.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let config = &self.inner.config;
        let now_stamp = keyring_io::stamp(&config.path)?;
        let (old_stamp, old_digest) = {
            let s = self.read_state();
            (s.stamp, s.digest)
        };
        if now_stamp == old_stamp {
            return Ok(false);
        }
        let (bytes, stamp) = keyring_io::read(&config.path)?;
        if sha256(&bytes) == old_digest {
            self.write_state().stamp = stamp;
            return Ok(false);
        }
        let path = config.path.display().to_string();
        let loaded = Loaded::from_bytes(&bytes, stamp, &self.inner.master, &path)?;
        *self.write_state() = loaded;
        tracing::info!(path, "reloaded changed keyring");
        Ok(true)
    }

    /// Every key with its state and whether it is published now.
    pub fn list(&self) -> Vec<KeyInfo> {
        let now = self.inner.clock.now();
        let state = self.read_state();
        state
            .file
            .keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg,
                state: k.state,
                created_at: k.created_at,
                activated_at: k.activated_at,
                retired_at: k.retired_at,
                published: self.is_published(k, now),
            })
            .collect()
    }

    /// The configuration this service was opened with.
    pub fn config(&self) -> &KeyringConfig {
        &self.inner.config
    }

    fn is_published(&self, k: &KeyEntry, now: OffsetDateTime) -> bool {
        match (k.state, k.retired_at) {
            (KeyState::Current | KeyState::Next, _) => true,
            // An absurdly long window overflows the date range: published for good.
            (KeyState::Retired, Some(at)) => at
                .checked_add(self.inner.config.publish_retired_for)
                .is_none_or(|until| until > now),
            (KeyState::Retired, None) => false,
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.inner
            .loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.inner
            .loaded
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn jwks(&self, include: impl Fn(&KeyEntry) -> bool) -> Value {
        let state = self.read_state();
        let rank = |s: KeyState| match s {
            KeyState::Current => 0,
            KeyState::Next => 1,
            KeyState::Retired => 2,
        };
        let mut keys: Vec<&KeyEntry> = state.file.keys.iter().filter(|k| include(k)).collect();
        // Current first, then next, then retired newest first.
        keys.sort_by(|a, b| {
            rank(a.state)
                .cmp(&rank(b.state))
                .then(b.retired_at.cmp(&a.retired_at))
        });
        let keys: Vec<Value> = keys.into_iter().map(|k| k.public_jwk.clone()).collect();
        json!({ "keys": keys })
    }
}

fn load(config: &KeyringConfig, master: &MasterKey) -> Result<Loaded, KeyError> {
    let (bytes, stamp) = keyring_io::read(&config.path)?;
    #[cfg(unix)]
    warn_if_shared(&config.path);
    Loaded::from_bytes(&bytes, stamp, master, &config.path.display().to_string())
}

/// Private keys in the file are sealed, so a readable file is not a leak; it is still worth a
/// warning, since the file should be as private as the master key.
#[cfg(unix)]
fn warn_if_shared(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:04o}"), "keyring file is accessible by group or others");
        }
    }
}

impl KeySource for KeyService {
    fn current_signer(&self) -> Arc<dyn Signer> {
        self.read_state().current.clone()
    }

    fn published_jwks(&self) -> Value {
        let now = self.inner.clock.now();
        self.jwks(|k| self.is_published(k, now))
    }

    fn verification_jwks(&self) -> Value {
        self.jwks(|_| true)
    }
}
