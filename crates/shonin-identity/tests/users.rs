//! Password sign-in: one public answer for every failure, one Argon2 verification per attempt
//! (so timing does not reveal whether a user exists), lockout after 10 failures for 30 minutes
//! (PCI DSS 8.3.4), reset on success.
//!
//! Runs against an in-memory [`UserStore`] with the store's semantics and Argon2 at its weakest
//! parameters (`Argon2Params::danger_weak_for_tests`), so the suite stays fast.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use async_trait::async_trait;
use shonin_identity::user::password::DUMMY_HASH;
use shonin_identity::user::{
    Argon2Params, FailedSignIns, InlineVerifier, LockoutPolicy, Password, PasswordHash,
    PasswordSignIn, PasswordVerifier, SignInError, SignInFailure, User, UserStore, Username,
    hash_password,
};
use shonin_types::{SecretBytes, StorageError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

static WEAK: LazyLock<Argon2Params> = LazyLock::new(Argon2Params::danger_weak_for_tests);
static HASH: LazyLock<PasswordHash> =
    LazyLock::new(|| hash_password(&Password::new(PASSWORD.into()).unwrap(), &WEAK).unwrap());
static WEAK_DUMMY: LazyLock<PasswordHash> = LazyLock::new(|| {
    hash_password(
        &Password::new("nobody knows this one".into()).unwrap(),
        &WEAK,
    )
    .unwrap()
});

/// What `shonin-store` does with SQL, with a `Mutex<HashMap>`.
#[derive(Debug, Default)]
struct MemoryUsers {
    users: Mutex<HashMap<String, User>>,
}

impl MemoryUsers {
    fn with(users: &[&User]) -> Arc<Self> {
        let me = Self::default();
        for u in users {
            me.users.lock().unwrap().insert(u.id.clone(), (*u).clone());
        }
        Arc::new(me)
    }

    fn get(&self, id: &str) -> User {
        self.users.lock().unwrap()[id].clone()
    }
}

#[async_trait]
impl UserStore for MemoryUsers {
    async fn create_user(&self, user: &User) -> Result<(), StorageError> {
        let mut users = self.users.lock().unwrap();
        if users
            .values()
            .any(|u| u.id == user.id || u.username == user.username)
        {
            return Err(StorageError::Conflict("user create: already exists".into()));
        }
        users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn get_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<User>, StorageError> {
        let users = self.users.lock().unwrap();
        Ok(users.values().find(|u| &u.username == username).cloned())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StorageError> {
        Ok(self.users.lock().unwrap().get(id).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        let mut all: Vec<User> = self.users.lock().unwrap().values().cloned().collect();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(all)
    }

    async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        Ok(users.get_mut(id).map(|u| u.disabled = disabled).is_some())
    }

    async fn set_passkey_only(&self, id: &str, on: bool) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        Ok(users.get_mut(id).map(|u| u.passkey_only = on).is_some())
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        Ok(users
            .get_mut(id)
            .map(|u| u.password_hash = Some(hash.clone()))
            .is_some())
    }

    async fn record_failed_sign_in(
        &self,
        id: &str,
        now: OffsetDateTime,
        max_failures: u32,
        lock_for: Duration,
    ) -> Result<Option<FailedSignIns>, StorageError> {
        let mut users = self.users.lock().unwrap();
        let Some(u) = users.get_mut(id) else {
            return Ok(None);
        };
        let expired = u.locked_until.is_some_and(|t| t <= now);
        let count = if expired { 1 } else { u.failed_attempts + 1 };
        u.locked_until = match u.locked_until {
            Some(t) if t > now => Some(t),
            _ if count >= max_failures => Some(now + lock_for),
            _ => None,
        };
        u.failed_attempts = count;
        Ok(Some(FailedSignIns {
            count,
            locked_until: u.locked_until,
        }))
    }

    async fn reset_failed_sign_ins(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        match users.get_mut(id) {
            Some(u) if !u.is_locked(now) => {
                u.failed_attempts = 0;
                u.locked_until = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unlock_user(&self, id: &str) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        Ok(users
            .get_mut(id)
            .map(|u| {
                u.failed_attempts = 0;
                u.locked_until = None;
            })
            .is_some())
    }

    async fn end_sessions(&self, id: &str, at: OffsetDateTime) -> Result<bool, StorageError> {
        let mut users = self.users.lock().unwrap();
        Ok(users
            .get_mut(id)
            .map(|u| u.sessions_valid_after = Some(at))
            .is_some())
    }
}

/// A store that always fails.
#[derive(Debug)]
struct DownUsers;

#[async_trait]
impl UserStore for DownUsers {
    async fn create_user(&self, _: &User) -> Result<(), StorageError> {
        Err(down())
    }
    async fn get_user_by_username(&self, _: &Username) -> Result<Option<User>, StorageError> {
        Err(down())
    }
    async fn get_user(&self, _: &str) -> Result<Option<User>, StorageError> {
        Err(down())
    }
    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        Err(down())
    }
    async fn set_user_disabled(&self, _: &str, _: bool) -> Result<bool, StorageError> {
        Err(down())
    }
    async fn set_passkey_only(&self, _: &str, _: bool) -> Result<bool, StorageError> {
        Err(down())
    }
    async fn set_password_hash(&self, _: &str, _: &PasswordHash) -> Result<bool, StorageError> {
        Err(down())
    }
    async fn record_failed_sign_in(
        &self,
        _: &str,
        _: OffsetDateTime,
        _: u32,
        _: Duration,
    ) -> Result<Option<FailedSignIns>, StorageError> {
        Err(down())
    }
    async fn reset_failed_sign_ins(
        &self,
        _: &str,
        _: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        Err(down())
    }
    async fn unlock_user(&self, _: &str) -> Result<bool, StorageError> {
        Err(down())
    }

    async fn end_sessions(&self, _: &str, _: OffsetDateTime) -> Result<bool, StorageError> {
        Err(down())
    }
}

fn down() -> StorageError {
    StorageError::Unavailable("connection refused".into())
}

/// Counts verifications, and how many were against a given dummy hash, then verifies for real.
#[derive(Debug)]
struct CountingVerifier {
    dummy: String,
    calls: AtomicUsize,
    dummy_calls: AtomicUsize,
}

impl CountingVerifier {
    fn new(dummy: &PasswordHash) -> Arc<Self> {
        Arc::new(Self {
            dummy: dummy.as_str().to_owned(),
            calls: AtomicUsize::new(0),
            dummy_calls: AtomicUsize::new(0),
        })
    }

    /// `(all calls, calls against the dummy)` since the last take.
    fn take(&self) -> (usize, usize) {
        (
            self.calls.swap(0, Ordering::SeqCst),
            self.dummy_calls.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl PasswordVerifier for CountingVerifier {
    async fn verify(&self, password: SecretBytes, hash: PasswordHash) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if hash.as_str() == self.dummy {
            self.dummy_calls.fetch_add(1, Ordering::SeqCst);
        }
        InlineVerifier.verify(password, hash).await
    }
}

fn user(name: &str) -> User {
    User::new(Username::new(name).unwrap(), None, Some(HASH.clone()), NOW).unwrap()
}

fn pw(s: &str) -> SecretBytes {
    SecretBytes::new(s.as_bytes().to_vec())
}

struct Rig {
    users: Arc<MemoryUsers>,
    verifier: Arc<CountingVerifier>,
    svc: PasswordSignIn,
}

fn rig(users: &[&User]) -> Rig {
    let users = MemoryUsers::with(users);
    let verifier = CountingVerifier::new(&WEAK_DUMMY);
    let svc = PasswordSignIn::new(users.clone(), verifier.clone(), LockoutPolicy::PCI_DSS)
        .with_dummy_hash(WEAK_DUMMY.clone());
    Rig {
        users,
        verifier,
        svc,
    }
}

fn reason(result: Result<User, SignInError>) -> SignInFailure {
    match result {
        Err(e @ SignInError::InvalidCredentials(_)) => {
            assert_eq!(e.to_string(), "invalid username or password");
            e.reason().unwrap().clone()
        }
        other => panic!("expected invalid credentials, got {other:?}"),
    }
}

#[tokio::test]
async fn right_password_signs_in() {
    let alice = user("alice");
    let r = rig(&[&alice]);
    let got = r.svc.sign_in("alice", &pw(PASSWORD), NOW).await.unwrap();
    assert_eq!(got, alice);
    // Usernames are case-insensitive ASCII.
    let got = r.svc.sign_in("ALICE", &pw(PASSWORD), NOW).await.unwrap();
    assert_eq!(got.id, alice.id);
}

#[tokio::test]
async fn every_failure_gives_the_same_public_error_with_its_own_reason() {
    let alice = user("alice");
    let mut dis = user("dis");
    dis.disabled = true;
    let mut locked = user("locked");
    locked.failed_attempts = 10;
    locked.locked_until = Some(NOW + Duration::minutes(5));
    let nopw = User::new(Username::new("nopw").unwrap(), None, None, NOW).unwrap();
    let r = rig(&[&alice, &dis, &locked, &nopw]);

    let wrong = reason(r.svc.sign_in("alice", &pw("wrong password!!"), NOW).await);
    assert_eq!(
        wrong,
        SignInFailure::WrongPassword {
            user_id: alice.id.clone(),
            failures: 1,
            locked_until: None
        }
    );
    let unknown = reason(r.svc.sign_in("mallory", &pw(PASSWORD), NOW).await);
    assert_eq!(unknown, SignInFailure::UnknownUser);
    let disabled = reason(r.svc.sign_in("dis", &pw(PASSWORD), NOW).await);
    assert_eq!(disabled, SignInFailure::Disabled { user_id: dis.id });
    let lock = reason(r.svc.sign_in("locked", &pw(PASSWORD), NOW).await);
    assert_eq!(
        lock,
        SignInFailure::Locked {
            user_id: locked.id.clone(),
            until: NOW + Duration::minutes(5)
        }
    );
    let none = reason(r.svc.sign_in("nopw", &pw(PASSWORD), NOW).await);
    assert_eq!(none, SignInFailure::NoPassword { user_id: nopw.id });

    let codes: Vec<&str> = [&wrong, &unknown, &disabled, &lock, &none]
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "wrong_password",
            "unknown_user",
            "disabled",
            "locked",
            "no_password"
        ]
    );
    assert_eq!(unknown.user_id(), None);
    assert_eq!(wrong.user_id(), Some(alice.id.as_str()));
    // Only the wrong password was counted; a locked account's count is left alone.
    assert_eq!(r.users.get(&alice.id).failed_attempts, 1);
    assert_eq!(r.users.get(&locked.id).failed_attempts, 10);
}

#[tokio::test]
async fn every_attempt_costs_exactly_one_verification() {
    let alice = user("alice");
    let mut dis = user("dis");
    dis.disabled = true;
    let r = rig(&[&alice, &dis]);

    let _ = r.svc.sign_in("mallory", &pw(PASSWORD), NOW).await;
    assert_eq!(r.verifier.take(), (1, 1), "unknown user: one dummy verify");
    let _ = r.svc.sign_in("not a username!", &pw(PASSWORD), NOW).await;
    assert_eq!(
        r.verifier.take(),
        (1, 1),
        "malformed username: one dummy verify"
    );
    let _ = r.svc.sign_in("dis", &pw(PASSWORD), NOW).await;
    assert_eq!(r.verifier.take(), (1, 1), "disabled: one dummy verify");
    let _ = r.svc.sign_in("alice", &pw("wrong password!!"), NOW).await;
    assert_eq!(r.verifier.take(), (1, 0), "wrong password: one real verify");
    r.svc.sign_in("alice", &pw(PASSWORD), NOW).await.unwrap();
    assert_eq!(r.verifier.take(), (1, 0), "success: one real verify");
}

#[tokio::test]
async fn without_an_override_the_fixed_owasp_dummy_hash_is_verified() {
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);
    #[async_trait]
    impl PasswordVerifier for Recorder {
        async fn verify(&self, _: SecretBytes, hash: PasswordHash) -> bool {
            self.0.lock().unwrap().push(hash.as_str().to_owned());
            false
        }
    }
    let recorder = Arc::new(Recorder::default());
    let svc = PasswordSignIn::new(
        MemoryUsers::with(&[]),
        recorder.clone(),
        LockoutPolicy::default(),
    );
    let _ = svc.sign_in("mallory", &pw(PASSWORD), NOW).await;
    assert_eq!(*recorder.0.lock().unwrap(), [DUMMY_HASH]);
}

#[tokio::test]
async fn ten_failures_lock_the_account_for_thirty_minutes() {
    let alice = user("alice");
    let r = rig(&[&alice]);
    for n in 1..=9u32 {
        let at = NOW + Duration::seconds(i64::from(n));
        let got = reason(r.svc.sign_in("alice", &pw("wrong password!!"), at).await);
        assert_eq!(
            got,
            SignInFailure::WrongPassword {
                user_id: alice.id.clone(),
                failures: n,
                locked_until: None
            }
        );
    }
    let tenth = NOW + Duration::seconds(10);
    let got = reason(r.svc.sign_in("alice", &pw("wrong password!!"), tenth).await);
    let until = tenth + Duration::minutes(30);
    assert_eq!(
        got,
        SignInFailure::WrongPassword {
            user_id: alice.id.clone(),
            failures: 10,
            locked_until: Some(until)
        }
    );
    // Locked: even the right password is refused, without being checked against the real hash.
    r.verifier.take();
    let just_before = until - Duration::seconds(1);
    let got = reason(r.svc.sign_in("alice", &pw(PASSWORD), just_before).await);
    assert_eq!(
        got,
        SignInFailure::Locked {
            user_id: alice.id.clone(),
            until
        }
    );
    assert_eq!(r.verifier.take(), (1, 1));
}

#[tokio::test]
async fn sign_in_succeeds_once_the_lock_expires_and_resets_the_count() {
    let mut alice = user("alice");
    alice.failed_attempts = 10;
    alice.locked_until = Some(NOW + Duration::minutes(30));
    let r = rig(&[&alice]);
    let got = r
        .svc
        .sign_in("alice", &pw(PASSWORD), NOW + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!((got.failed_attempts, got.locked_until), (0, None));
    let stored = r.users.get(&alice.id);
    assert_eq!((stored.failed_attempts, stored.locked_until), (0, None));
}

#[tokio::test]
async fn success_resets_the_failure_count() {
    let alice = user("alice");
    let r = rig(&[&alice]);
    for _ in 0..9 {
        let _ = r.svc.sign_in("alice", &pw("wrong password!!"), NOW).await;
    }
    assert_eq!(r.users.get(&alice.id).failed_attempts, 9);
    r.svc.sign_in("alice", &pw(PASSWORD), NOW).await.unwrap();
    assert_eq!(r.users.get(&alice.id).failed_attempts, 0);
    // A fresh series of ten is needed to lock again.
    for _ in 0..9 {
        let _ = r.svc.sign_in("alice", &pw("wrong password!!"), NOW).await;
    }
    assert_eq!(r.users.get(&alice.id).locked_until, None);
}

#[tokio::test]
async fn a_stricter_lockout_policy_applies() {
    let alice = user("alice");
    let users = MemoryUsers::with(&[&alice]);
    let policy = LockoutPolicy::new(3, Duration::hours(2)).unwrap();
    let svc = PasswordSignIn::new(users.clone(), Arc::new(InlineVerifier), policy)
        .with_dummy_hash(WEAK_DUMMY.clone());
    for _ in 0..3 {
        let _ = svc.sign_in("alice", &pw("wrong password!!"), NOW).await;
    }
    assert_eq!(
        users.get(&alice.id).locked_until,
        Some(NOW + Duration::hours(2))
    );
}

#[tokio::test]
async fn a_correct_password_racing_the_locking_failure_does_not_unlock() {
    /// Serves a snapshot taken before the lock, as a node that read the row just before
    /// another node's tenth failure would see it.
    #[derive(Debug)]
    struct Stale {
        inner: Arc<MemoryUsers>,
        snapshot: User,
    }
    #[async_trait]
    impl UserStore for Stale {
        async fn create_user(&self, u: &User) -> Result<(), StorageError> {
            self.inner.create_user(u).await
        }
        async fn get_user_by_username(&self, _: &Username) -> Result<Option<User>, StorageError> {
            Ok(Some(self.snapshot.clone()))
        }
        async fn get_user(&self, id: &str) -> Result<Option<User>, StorageError> {
            self.inner.get_user(id).await
        }
        async fn list_users(&self) -> Result<Vec<User>, StorageError> {
            self.inner.list_users().await
        }
        async fn set_user_disabled(&self, id: &str, d: bool) -> Result<bool, StorageError> {
            self.inner.set_user_disabled(id, d).await
        }
        async fn set_passkey_only(&self, id: &str, on: bool) -> Result<bool, StorageError> {
            self.inner.set_passkey_only(id, on).await
        }
        async fn set_password_hash(
            &self,
            id: &str,
            hash: &PasswordHash,
        ) -> Result<bool, StorageError> {
            self.inner.set_password_hash(id, hash).await
        }
        async fn record_failed_sign_in(
            &self,
            id: &str,
            now: OffsetDateTime,
            max: u32,
            lock: Duration,
        ) -> Result<Option<FailedSignIns>, StorageError> {
            self.inner.record_failed_sign_in(id, now, max, lock).await
        }
        async fn reset_failed_sign_ins(
            &self,
            id: &str,
            now: OffsetDateTime,
        ) -> Result<bool, StorageError> {
            self.inner.reset_failed_sign_ins(id, now).await
        }
        async fn unlock_user(&self, id: &str) -> Result<bool, StorageError> {
            self.inner.unlock_user(id).await
        }

        async fn end_sessions(&self, id: &str, at: OffsetDateTime) -> Result<bool, StorageError> {
            self.inner.end_sessions(id, at).await
        }
    }

    let alice = user("alice");
    let inner = MemoryUsers::with(&[&alice]);
    for _ in 0..10 {
        inner
            .record_failed_sign_in(&alice.id, NOW, 10, Duration::minutes(30))
            .await
            .unwrap();
    }
    let stale = Arc::new(Stale {
        inner: inner.clone(),
        snapshot: alice.clone(),
    });
    let svc = PasswordSignIn::new(stale, Arc::new(InlineVerifier), LockoutPolicy::PCI_DSS)
        .with_dummy_hash(WEAK_DUMMY.clone());
    let got = reason(svc.sign_in("alice", &pw(PASSWORD), NOW).await);
    assert_eq!(
        got,
        SignInFailure::Locked {
            user_id: alice.id.clone(),
            until: NOW + Duration::minutes(30)
        }
    );
    assert_eq!(inner.get(&alice.id).failed_attempts, 10);
}

#[tokio::test]
async fn a_store_failure_is_not_invalid_credentials() {
    let svc = PasswordSignIn::new(
        Arc::new(DownUsers),
        Arc::new(InlineVerifier),
        LockoutPolicy::PCI_DSS,
    );
    let err = svc.sign_in("alice", &pw(PASSWORD), NOW).await.unwrap_err();
    assert!(matches!(err, SignInError::Storage(_)), "{err:?}");
    assert_eq!(err.reason(), None);
}
