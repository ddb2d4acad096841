//! The passkey port, and the ceremonies of `shonin-passkeys` over it with a software
//! authenticator (`shonin-testkit`): enrolment, username-less sign-in, and the refusals that
//! depend on stored state (reused or expired challenges, unknown credentials, another user's
//! credential, a counter going backwards, an attestation for another challenge).

use crate::suite::T0;
use serde_json::Value;
use shonin_identity::user::password::DUMMY_HASH;
use shonin_identity::user::{PasswordHash, User, UserStore, Username};
use shonin_passkeys::{
    AaguidPolicy, PasskeyConfig, PasskeyError, PasskeyStore, Passkeys, StoredPasskey, UserRef,
};
use shonin_store::Store;
use shonin_testkit::Authenticator;
use shonin_types::StorageError;
use time::Duration;

contract_tests! {
    insert_get_list_rename_remove,
    duplicate_credential_is_a_conflict_and_removing_a_user_removes_passkeys,
    counter_only_moves_forward,
    enrol_then_sign_in_without_username,
    a_challenge_is_answered_once_and_expires,
    refusals_that_depend_on_stored_state,
    aaguid_policy_applies_at_enrolment,
}

const ORIGIN: &str = "https://localhost:8443";
const AAGUID: [u8; 16] = [7; 16];

async fn user(store: &Store, name: &str) -> User {
    let u = User::new(
        Username::new(name).unwrap(),
        None,
        Some(PasswordHash::parse(DUMMY_HASH).unwrap()),
        T0,
    )
    .unwrap();
    store.create_user(&u).await.unwrap();
    u
}

fn sample(user_id: &str, id: &str, at: i64) -> StoredPasskey {
    StoredPasskey {
        credential_id: id.into(),
        user_id: user_id.into(),
        name: format!("key <{id}> \"ü\""),
        credential: "{}".into(),
        aaguid: uuid::Uuid::from_bytes(AAGUID),
        backup_eligible: true,
        backup_state: false,
        transports: vec!["internal".into(), "hybrid".into()],
        sign_count: 0,
        created_at: T0 + Duration::seconds(at),
        last_used_at: None,
    }
}

async fn insert_get_list_rename_remove(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let a1 = sample(&alice.id, "a1", 2);
    let a2 = sample(&alice.id, "a2", 1);
    store.insert_passkey(&a1).await.unwrap();
    store.insert_passkey(&a2).await.unwrap();
    store
        .insert_passkey(&sample(&bob.id, "b1", 0))
        .await
        .unwrap();
    assert_eq!(store.get_passkey("a1").await.unwrap(), Some(a1.clone()));
    assert_eq!(store.get_passkey("zz").await.unwrap(), None);
    let ids: Vec<_> = store
        .list_passkeys(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.credential_id)
        .collect();
    assert_eq!(ids, ["a2", "a1"], "oldest first");
    // Only the owner can rename or remove.
    assert!(!store.rename_passkey(&bob.id, "a1", "mine").await.unwrap());
    assert!(
        store
            .rename_passkey(&alice.id, "a1", "Laptop")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_passkey("a1").await.unwrap().unwrap().name,
        "Laptop"
    );
    assert!(!store.remove_passkey(&bob.id, "a1").await.unwrap());
    assert!(store.remove_passkey(&alice.id, "a1").await.unwrap());
    assert!(!store.remove_passkey(&alice.id, "a1").await.unwrap());
    assert_eq!(store.list_passkeys(&alice.id).await.unwrap().len(), 1);
}

async fn duplicate_credential_is_a_conflict_and_removing_a_user_removes_passkeys(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    store
        .insert_passkey(&sample(&alice.id, "k", 0))
        .await
        .unwrap();
    let again = store.insert_passkey(&sample(&bob.id, "k", 0)).await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    let unknown_user = store.insert_passkey(&sample("no-such-user", "k2", 0)).await;
    assert!(matches!(unknown_user, Err(StorageError::Conflict(_))));
    shonin_store::testing::raw_execute(
        store,
        &format!("DELETE FROM users WHERE id = '{}'", alice.id),
    )
    .await
    .unwrap();
    assert_eq!(store.get_passkey("k").await.unwrap(), None);
}

async fn counter_only_moves_forward(store: &Store) {
    let alice = user(store, "alice").await;
    let mut p = sample(&alice.id, "c", 0);
    p.sign_count = 5;
    store.insert_passkey(&p).await.unwrap();
    let at = T0 + Duration::minutes(1);
    assert!(
        !store
            .record_passkey_use("c", "{\"x\":1}", 5, true, at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use("c", "{\"x\":1}", 4, true, at)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_passkey_use("c", "{\"x\":2}", 6, true, at)
            .await
            .unwrap()
    );
    let got = store.get_passkey("c").await.unwrap().unwrap();
    assert_eq!(
        (got.sign_count, got.backup_state, got.last_used_at),
        (6, true, Some(at))
    );
    assert_eq!(got.credential, "{\"x\":2}");
    // Authenticators without a counter (always 0) may be used any number of times.
    let mut z = sample(&alice.id, "z", 0);
    z.sign_count = 0;
    store.insert_passkey(&z).await.unwrap();
    assert!(
        store
            .record_passkey_use("z", "{}", 0, false, at)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_passkey_use("z", "{}", 0, false, at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use("nope", "{}", 9, false, at)
            .await
            .unwrap()
    );
}

fn ceremonies(store: &Store, policy: AaguidPolicy) -> Passkeys<Store> {
    let origin = url::Url::parse(ORIGIN).unwrap();
    let mut config = PasskeyConfig::for_origin(&origin, "Shonin test").unwrap();
    config.aaguids = policy;
    Passkeys::new(config, store.clone()).unwrap()
}

fn who(u: &User) -> UserRef<'_> {
    UserRef {
        id: &u.id,
        username: u.username.as_str(),
        display_name: u.username.as_str(),
    }
}

/// Enrols one passkey for `u` on `auth`; returns it.
async fn enrol(pk: &Passkeys<Store>, auth: &mut Authenticator, u: &User) -> StoredPasskey {
    let ch = pk.begin_registration(who(u), T0).await.unwrap();
    let sel = &ch.options["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required");
    assert_eq!(sel["userVerification"], "required");
    let cred = auth.register(&ch.options, ORIGIN).unwrap();
    pk.finish_registration(&u.id, &ch.ceremony, &cred, " Laptop ", T0)
        .await
        .unwrap()
}

async fn sign_in(
    pk: &Passkeys<Store>,
    auth: &mut Authenticator,
    tweak: impl FnOnce(&mut Value),
) -> Result<shonin_passkeys::SignedIn, PasskeyError> {
    let ch = pk.begin_authentication(T0).await.unwrap();
    assert!(
        ch.options["publicKey"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty))
    );
    let mut cred = auth.authenticate(&ch.options, ORIGIN).unwrap();
    tweak(&mut cred);
    pk.finish_authentication(&ch.ceremony, &cred, T0 + Duration::seconds(1))
        .await
}

async fn enrol_then_sign_in_without_username(store: &Store) {
    let alice = user(store, "alice").await;
    let pk = ceremonies(store, AaguidPolicy::Any);
    let mut auth = Authenticator::new(AAGUID);
    let stored = enrol(&pk, &mut auth, &alice).await;
    assert_eq!(stored.name, "Laptop");
    assert_eq!(stored.aaguid, uuid::Uuid::from_bytes(AAGUID));
    assert_eq!(
        store.list_passkeys(&alice.id).await.unwrap(),
        vec![stored.clone()]
    );
    // A second enrolment excludes the first credential.
    let ch = pk.begin_registration(who(&alice), T0).await.unwrap();
    let excluded = ch.options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["id"], stored.credential_id.as_str());

    let first = sign_in(&pk, &mut auth, |_| {}).await.unwrap();
    assert_eq!(first.user_id, alice.id);
    let second = sign_in(&pk, &mut auth, |_| {}).await.unwrap();
    assert!(second.passkey.sign_count > first.passkey.sign_count);
    let now = store
        .get_passkey(&stored.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.sign_count, second.passkey.sign_count);
    assert!(now.last_used_at.is_some());
}

async fn a_challenge_is_answered_once_and_expires(store: &Store) {
    let alice = user(store, "alice").await;
    let pk = ceremonies(store, AaguidPolicy::Any);
    let mut auth = Authenticator::new(AAGUID);
    enrol(&pk, &mut auth, &alice).await;
    let ch = pk.begin_authentication(T0).await.unwrap();
    let cred = auth.authenticate(&ch.options, ORIGIN).unwrap();
    pk.finish_authentication(&ch.ceremony, &cred, T0)
        .await
        .unwrap();
    let replay = pk.finish_authentication(&ch.ceremony, &cred, T0).await;
    assert!(
        matches!(replay, Err(PasskeyError::CeremonyUnknown)),
        "{replay:?}"
    );

    let ch = pk.begin_authentication(T0).await.unwrap();
    let cred = auth.authenticate(&ch.options, ORIGIN).unwrap();
    let late = T0 + pk.config().ceremony_ttl + Duration::seconds(1);
    let expired = pk.finish_authentication(&ch.ceremony, &cred, late).await;
    assert!(
        matches!(expired, Err(PasskeyError::CeremonyUnknown)),
        "{expired:?}"
    );

    // An enrolment challenge is bound to the user it was begun for.
    let bob = user(store, "bob").await;
    let ch = pk.begin_registration(who(&alice), T0).await.unwrap();
    let cred = Authenticator::new(AAGUID)
        .register(&ch.options, ORIGIN)
        .unwrap();
    let other = pk
        .finish_registration(&bob.id, &ch.ceremony, &cred, "x", T0)
        .await;
    assert!(
        matches!(other, Err(PasskeyError::CeremonyOtherUser)),
        "{other:?}"
    );
    let garbage = pk.finish_authentication("../../etc", &cred, T0).await;
    assert!(matches!(
        garbage,
        Err(PasskeyError::Malformed(_) | PasskeyError::CeremonyUnknown)
    ));
}

async fn refusals_that_depend_on_stored_state(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let pk = ceremonies(store, AaguidPolicy::Any);
    let mut alices = Authenticator::new(AAGUID);
    let stored = enrol(&pk, &mut alices, &alice).await;
    let mut bobs = Authenticator::new(AAGUID);
    enrol(&pk, &mut bobs, &bob).await;

    // Alice's credential presented as Bob (user handle swapped): refused.
    let bob_handle = {
        let ch = pk.begin_authentication(T0).await.unwrap();
        bobs.authenticate(&ch.options, ORIGIN).unwrap()["response"]["userHandle"].clone()
    };
    let swapped = sign_in(&pk, &mut alices, |c| {
        c["response"]["userHandle"] = bob_handle
    })
    .await;
    assert!(
        matches!(swapped, Err(PasskeyError::UserHandleMismatch { .. })),
        "{swapped:?}"
    );

    // The counter going backwards (a cloned authenticator) is refused and named.
    sign_in(&pk, &mut alices, |_| {}).await.unwrap();
    alices.set_counter(&stored.credential_id, 1).unwrap();
    let cloned = sign_in(&pk, &mut alices, |_| {}).await;
    assert!(
        matches!(cloned, Err(PasskeyError::SignCountRegression { .. })),
        "{cloned:?}"
    );

    // Without user verification: refused.
    alices.set_counter(&stored.credential_id, 1000).unwrap();
    alices.user_verified = false;
    let no_uv = sign_in(&pk, &mut alices, |_| {}).await;
    assert!(
        matches!(
            no_uv,
            Err(PasskeyError::UserNotVerified | PasskeyError::Refused(_))
        ),
        "{no_uv:?}"
    );
    alices.user_verified = true;

    // An unknown credential (removed from the account): refused.
    assert!(
        store
            .remove_passkey(&alice.id, &stored.credential_id)
            .await
            .unwrap()
    );
    let removed = sign_in(&pk, &mut alices, |_| {}).await;
    assert!(
        matches!(removed, Err(PasskeyError::UnknownCredential)),
        "{removed:?}"
    );

    // An attestation answered for another challenge is refused.
    let ch1 = pk.begin_registration(who(&bob), T0).await.unwrap();
    let ch2 = pk.begin_registration(who(&bob), T0).await.unwrap();
    let cred = Authenticator::new(AAGUID)
        .register(&ch1.options, ORIGIN)
        .unwrap();
    let crossed = pk
        .finish_registration(&bob.id, &ch2.ceremony, &cred, "x", T0)
        .await;
    assert!(
        matches!(crossed, Err(PasskeyError::Refused(_))),
        "{crossed:?}"
    );
}

async fn aaguid_policy_applies_at_enrolment(store: &Store) {
    let alice = user(store, "alice").await;
    let allowed = uuid::Uuid::from_bytes([9; 16]);
    let pk = ceremonies(store, AaguidPolicy::Only([allowed].into_iter().collect()));
    let ch = pk.begin_registration(who(&alice), T0).await.unwrap();
    let cred = Authenticator::new(AAGUID)
        .register(&ch.options, ORIGIN)
        .unwrap();
    let refused = pk
        .finish_registration(&alice.id, &ch.ceremony, &cred, "x", T0)
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::AaguidNotAllowed { .. })),
        "{refused:?}"
    );
    assert!(store.list_passkeys(&alice.id).await.unwrap().is_empty());
    let ch = pk.begin_registration(who(&alice), T0).await.unwrap();
    let cred = Authenticator::new([9; 16])
        .register(&ch.options, ORIGIN)
        .unwrap();
    pk.finish_registration(&alice.id, &ch.ceremony, &cred, "ok", T0)
        .await
        .unwrap();
}
