//! The user port: accounts, and failed-sign-in counting that locks at the limit and never loses
//! a count under concurrency.

use crate::suite::T0;
use shonin_identity::user::password::DUMMY_HASH;
use shonin_identity::user::{FailedSignIns, PasswordHash, User, UserStore, Username};
use shonin_store::Store;
use shonin_types::StorageError;
use std::collections::BTreeSet;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;

contract_tests! {
    create_then_get_by_username_and_id,
    duplicate_username_or_id_is_a_conflict,
    list_is_ordered_by_username,
    disable_and_enable,
    passkey_only_flag,
    failures_lock_exactly_at_the_limit,
    an_existing_lock_is_neither_extended_nor_shortened,
    an_expired_lock_restarts_the_count,
    reset_clears_the_count_but_not_an_active_lock,
    an_operator_unlock_clears_an_active_lock,
    ending_sessions_is_kept_to_the_microsecond,
    unknown_user_operations_report_absence,
    concurrent_failures_are_all_counted,
}

const LOCK: Duration = Duration::minutes(30);

fn user(name: &str) -> User {
    let mut u = User::new(
        Username::new(name).unwrap(),
        Some(format!("{name} \"the\" <user>")),
        Some(PasswordHash::parse(DUMMY_HASH).unwrap()),
        T0,
    )
    .unwrap();
    u.created_at = T0 + Duration::microseconds(42);
    u
}

async fn stored(store: &Store, u: &User) -> User {
    store.get_user(&u.id).await.unwrap().unwrap()
}

async fn create_then_get_by_username_and_id(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    let by_name = store
        .get_user_by_username(&Username::new("ALICE").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name.as_ref(), Some(&alice));
    assert_eq!(stored(store, &alice).await, alice);

    // Without a password or display name, disabled, and with a lock recorded.
    let mut bob = User::new(Username::new("bob@bank.example").unwrap(), None, None, T0).unwrap();
    bob.disabled = true;
    bob.failed_attempts = 3;
    bob.locked_until = Some(T0 + LOCK);
    store.create_user(&bob).await.unwrap();
    assert_eq!(stored(store, &bob).await, bob);
}

async fn duplicate_username_or_id_is_a_conflict(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    let same_name = user("alice");
    assert_ne!(same_name.id, alice.id);
    let err = store.create_user(&same_name).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let mut same_id = user("carol");
    same_id.id = alice.id.clone();
    let err = store.create_user(&same_id).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(store.list_users().await.unwrap(), vec![alice]);
}

async fn list_is_ordered_by_username(store: &Store) {
    for name in ["mallory", "alice", "bob"] {
        store.create_user(&user(name)).await.unwrap();
    }
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username.as_str().to_owned())
        .collect();
    assert_eq!(names, ["alice", "bob", "mallory"]);
}

async fn disable_and_enable(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    assert!(store.set_user_disabled(&alice.id, true).await.unwrap());
    assert!(stored(store, &alice).await.disabled);
    assert!(store.set_user_disabled(&alice.id, false).await.unwrap());
    assert!(!stored(store, &alice).await.disabled);
}

async fn passkey_only_flag(store: &Store) {
    let mut alice = user("alice");
    store.create_user(&alice).await.unwrap();
    assert!(!stored(store, &alice).await.passkey_only);
    assert!(store.set_passkey_only(&alice.id, true).await.unwrap());
    assert!(stored(store, &alice).await.passkey_only);
    assert!(!store.set_passkey_only("no-such-user", true).await.unwrap());
    // Created with the flag on, it is stored on.
    alice.id = "other-id".into();
    alice.username = Username::new("alice2").unwrap();
    alice.passkey_only = true;
    store.create_user(&alice).await.unwrap();
    assert!(stored(store, &alice).await.passkey_only);
}

async fn failures_lock_exactly_at_the_limit(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    for n in 1..=9u32 {
        let at = T0 + Duration::seconds(i64::from(n));
        let got = store
            .record_failed_sign_in(&alice.id, at, 10, LOCK)
            .await
            .unwrap();
        assert_eq!(
            got,
            Some(FailedSignIns {
                count: n,
                locked_until: None
            }),
            "failure {n}"
        );
    }
    let tenth = T0 + Duration::seconds(10);
    let got = store
        .record_failed_sign_in(&alice.id, tenth, 10, LOCK)
        .await
        .unwrap();
    assert_eq!(
        got,
        Some(FailedSignIns {
            count: 10,
            locked_until: Some(tenth + LOCK)
        })
    );
    let u = stored(store, &alice).await;
    assert_eq!(
        (u.failed_attempts, u.locked_until),
        (10, Some(tenth + LOCK))
    );
    assert!(u.is_locked(tenth + LOCK - Duration::microseconds(1)));
    assert!(!u.is_locked(tenth + LOCK));
}

async fn an_existing_lock_is_neither_extended_nor_shortened(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    for _ in 0..3 {
        store
            .record_failed_sign_in(&alice.id, T0, 3, LOCK)
            .await
            .unwrap();
    }
    let later = T0 + Duration::minutes(10);
    let got = store
        .record_failed_sign_in(&alice.id, later, 3, Duration::hours(5))
        .await
        .unwrap();
    assert_eq!(
        got,
        Some(FailedSignIns {
            count: 4,
            locked_until: Some(T0 + LOCK)
        })
    );
}

async fn an_expired_lock_restarts_the_count(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    for _ in 0..10 {
        store
            .record_failed_sign_in(&alice.id, T0, 10, LOCK)
            .await
            .unwrap();
    }
    // The lock ends at T0 + 30 min exactly: a failure then starts a new series.
    let got = store
        .record_failed_sign_in(&alice.id, T0 + LOCK, 10, LOCK)
        .await
        .unwrap();
    assert_eq!(
        got,
        Some(FailedSignIns {
            count: 1,
            locked_until: None
        })
    );
    // With a limit of 1, the first failure of a new series locks at once.
    let again = T0 + LOCK + Duration::seconds(1);
    let bob = user("bob");
    store.create_user(&bob).await.unwrap();
    let got = store
        .record_failed_sign_in(&bob.id, again, 1, LOCK)
        .await
        .unwrap();
    assert_eq!(got.unwrap().locked_until, Some(again + LOCK));
}

async fn an_operator_unlock_clears_an_active_lock(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    for _ in 0..10 {
        store
            .record_failed_sign_in(&alice.id, T0, 10, LOCK)
            .await
            .unwrap();
    }
    assert!(stored(store, &alice).await.is_locked(T0));
    assert!(store.unlock_user(&alice.id).await.unwrap());
    let u = stored(store, &alice).await;
    assert_eq!((u.failed_attempts, u.locked_until), (0, None));
    assert!(!store.unlock_user("no-such-id").await.unwrap());
}

async fn ending_sessions_is_kept_to_the_microsecond(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    assert_eq!(stored(store, &alice).await.sessions_valid_after, None);
    let at = T0 + Duration::microseconds(1_234_567);
    assert!(store.end_sessions(&alice.id, at).await.unwrap());
    let u = stored(store, &alice).await;
    assert_eq!(u.sessions_valid_after, Some(at));
    // A session signed in before is over; one signed in that second or after is not.
    assert!(!u.session_valid(T0.unix_timestamp() - 1));
    assert!(u.session_valid(at.unix_timestamp()));
    assert!(!store.end_sessions("no-such-id", at).await.unwrap());
    // Ending them again later moves the instant forward.
    let later = at + Duration::minutes(5);
    assert!(store.end_sessions(&alice.id, later).await.unwrap());
    assert_eq!(
        stored(store, &alice).await.sessions_valid_after,
        Some(later)
    );
}

async fn reset_clears_the_count_but_not_an_active_lock(store: &Store) {
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    for _ in 0..4 {
        store
            .record_failed_sign_in(&alice.id, T0, 10, LOCK)
            .await
            .unwrap();
    }
    assert!(store.reset_failed_sign_ins(&alice.id, T0).await.unwrap());
    assert_eq!(stored(store, &alice).await.failed_attempts, 0);

    for _ in 0..10 {
        store
            .record_failed_sign_in(&alice.id, T0, 10, LOCK)
            .await
            .unwrap();
    }
    let during = T0 + LOCK - Duration::seconds(1);
    assert!(
        !store
            .reset_failed_sign_ins(&alice.id, during)
            .await
            .unwrap()
    );
    let u = stored(store, &alice).await;
    assert_eq!((u.failed_attempts, u.locked_until), (10, Some(T0 + LOCK)));

    assert!(
        store
            .reset_failed_sign_ins(&alice.id, T0 + LOCK)
            .await
            .unwrap()
    );
    let u = stored(store, &alice).await;
    assert_eq!((u.failed_attempts, u.locked_until), (0, None));
}

async fn unknown_user_operations_report_absence(store: &Store) {
    let nobody = "00000000-0000-4000-8000-000000000000";
    assert_eq!(store.get_user(nobody).await.unwrap(), None);
    let name = Username::new("nobody").unwrap();
    assert_eq!(store.get_user_by_username(&name).await.unwrap(), None);
    assert!(!store.set_user_disabled(nobody, true).await.unwrap());
    let got = store.record_failed_sign_in(nobody, T0, 10, LOCK).await;
    assert_eq!(got.unwrap(), None);
    assert!(!store.reset_failed_sign_ins(nobody, T0).await.unwrap());
}

async fn concurrent_failures_are_all_counted(store: &Store) {
    const TASKS: usize = 8;
    const PER_TASK: usize = 5;
    let alice = user("alice");
    store.create_user(&alice).await.unwrap();
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, barrier, id) = (store.clone(), barrier.clone(), alice.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut seen = Vec::new();
                for _ in 0..PER_TASK {
                    let got = store
                        .record_failed_sign_in(&id, T0, 10, LOCK)
                        .await
                        .unwrap()
                        .unwrap();
                    seen.push(got);
                }
                seen
            })
        })
        .collect();
    let mut counts = BTreeSet::new();
    for t in tasks {
        for got in t.await.unwrap() {
            // Every failure from the tenth on sees the lock.
            assert_eq!(got.locked_until.is_some(), got.count >= 10, "{got:?}");
            assert!(counts.insert(got.count), "count {} seen twice", got.count);
        }
    }
    let total = u32::try_from(TASKS * PER_TASK).unwrap();
    assert_eq!(counts, (1..=total).collect::<BTreeSet<_>>());
    let u = stored(store, &alice).await;
    assert_eq!(
        (u.failed_attempts, u.locked_until),
        (total, Some(T0 + LOCK))
    );
}
