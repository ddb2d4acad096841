//! The ACS's port: enrolled cards by fingerprint, transactions written by units of work, their
//! compare-and-set moves (one of two racing moves wins), the velocity count, the due-timer query
//! the sweep of expired transactions, and the browser memory.

use crate::batch::at_t0;
use crate::suite::T0;
use shonin_3ds::acs::store::{AcsStore, AcsTransaction, EnrolledCard, TransactionData};
use shonin_3ds::acs::{
    CHALLENGE_TIMEOUT, Challenge, ChallengeMethod, ChallengeState, FIRST_CREQ_TIMEOUT, Scheme,
    TransactionIds,
};
use shonin_3ds::{MessageVersion, TransStatus};
use shonin_store::Store;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};
use time::Duration;

contract_tests! {
    cards_are_enrolled_once_found_by_fingerprint_and_removed,
    a_challenge_moves_by_compare_and_set_and_its_timer_falls_due,
    velocity_counts_frictionless_authentications_of_one_card,
    expired_transactions_are_not_returned_and_are_swept,
    a_remembered_browser_is_known_for_its_card_until_it_expires,
}

fn fp(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn card(n: u8, user: &str) -> EnrolledCard {
    EnrolledCard {
        fingerprint: fp(n),
        user_id: user.into(),
        masked: "401200******6010".into(),
        scheme: Scheme::Visa,
        created_at: T0 + Duration::seconds(i64::from(n)),
    }
}

fn txn(id: u8, card: u8, status: TransStatus, challenge: Option<Challenge>) -> AcsTransaction {
    let acs_trans_id = format!("0ed1ec93-9e85-4114-87ba-120c50c6a7{id:02x}");
    AcsTransaction {
        acs_trans_id: acs_trans_id.clone(),
        card_fingerprint: fp(card),
        trans_status: status,
        data: TransactionData {
            ids: TransactionIds {
                message_version: MessageVersion::V2_2_0,
                message_category: "01".into(),
                three_ds_server_trans_id: "228b77c7-b316-4d2b-ad6e-13d0a6474ef4".into(),
                ds_trans_id: "897e20c5-76b7-4ee4-9e43-f2ba9dd90044".into(),
                acs_trans_id,
            },
            scheme: Scheme::Visa,
            user_id: Some("u1".into()),
            purchase: None,
            notification_url: Some("https://merchant.example/3ds/notify".into()),
            results_url: None,
            challenge,
            spc: None,
            browser: None,
            results_pending: None,
        },
        created_at: T0,
        expires_at: T0 + Duration::hours(24),
        version: 1,
    }
}

async fn write(store: &Store, rows: &[&AcsTransaction]) {
    let mut unit = UnitOfWork::new();
    for r in rows {
        unit.insert(*r);
    }
    assert_eq!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Committed { seq: None }
    );
}

async fn cards_are_enrolled_once_found_by_fingerprint_and_removed(store: &Store) {
    assert!(store.enrol_card(&card(1, "alice")).await.unwrap());
    assert!(store.enrol_card(&card(2, "bob")).await.unwrap());
    assert!(
        !store.enrol_card(&card(1, "mallory")).await.unwrap(),
        "a card is enrolled once"
    );
    assert_eq!(
        store.enrolled_card(&fp(1)).await.unwrap(),
        Some(card(1, "alice"))
    );
    assert_eq!(store.enrolled_card(&fp(3)).await.unwrap(), None);
    let all = store.enrolled_cards().await.unwrap();
    assert_eq!(all, vec![card(1, "alice"), card(2, "bob")]);
    assert!(store.remove_card(&fp(1)).await.unwrap());
    assert!(!store.remove_card(&fp(1)).await.unwrap());
    assert_eq!(store.enrolled_card(&fp(1)).await.unwrap(), None);
}

async fn a_challenge_moves_by_compare_and_set_and_its_timer_falls_due(store: &Store) {
    let store = at_t0(store);
    let waiting = Challenge::new(ChallengeMethod::Passkey, 3, T0);
    let frictionless = txn(1, 1, TransStatus::Y, None);
    let challenged = txn(2, 1, TransStatus::C, Some(waiting.clone()));
    write(&store, &[&frictionless, &challenged]).await;
    let read = store
        .acs_transaction(&challenged.acs_trans_id, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, challenged);
    assert_eq!(read.due_at(), Some(T0 + FIRST_CREQ_TIMEOUT));

    // Nothing is due before the first-CReq timer; the challenged one is due at it.
    assert!(store.due_challenges(T0, 10).await.unwrap().is_empty());
    let due = store
        .due_challenges(T0 + FIRST_CREQ_TIMEOUT, 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter()
            .map(|t| t.acs_trans_id.as_str())
            .collect::<Vec<_>>(),
        [read.acs_trans_id.as_str()]
    );

    // Two moves from the same read race: the CReq's and the timer's. One wins.
    let page = shonin_3ds::acs::Page {
        nonce: "bm9uY2U".into(),
        token_sha256: "00".repeat(32),
        session_data: Some("c2Vzc2lvbg".into()),
        ..shonin_3ds::acs::Page::default()
    };
    let shown = waiting.creq(page, T0 + Duration::seconds(3)).unwrap();
    let expired = waiting.expire(T0 + FIRST_CREQ_TIMEOUT).unwrap();
    let mut first = UnitOfWork::new();
    first.update(read.advance(shown.clone()).unwrap());
    let mut second = UnitOfWork::new();
    second.update(read.advance(expired).unwrap());
    let (a, b) = tokio::join!(store.commit(first, None), store.commit(second, None));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Committed { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    let now = store
        .acs_transaction(&read.acs_trans_id, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, 2);
    match now.data.challenge.as_ref().unwrap().state {
        ChallengeState::Challenging => {
            assert_eq!(
                now.due_at(),
                Some(T0 + Duration::seconds(3) + CHALLENGE_TIMEOUT)
            );
            assert!(
                store
                    .due_challenges(T0 + FIRST_CREQ_TIMEOUT, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        ChallengeState::Completed => {
            assert_eq!(now.due_at(), None, "a completed challenge has no timer");
            assert!(
                store
                    .due_challenges(T0 + Duration::hours(1), 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        ChallengeState::AwaitingCreq => panic!("neither move was written"),
    }
    // A move from a completed challenge is refused before anything is staged.
    let done = txn(
        3,
        1,
        TransStatus::C,
        Some(shown.answer(true, T0 + Duration::seconds(9)).unwrap()),
    );
    assert!(done.advance(shown).is_err());
}

async fn velocity_counts_frictionless_authentications_of_one_card(store: &Store) {
    let mut rows = Vec::new();
    for (i, (card, status)) in [
        (1, TransStatus::Y),
        (1, TransStatus::A),
        (1, TransStatus::N),
        (1, TransStatus::C),
        (2, TransStatus::Y),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = txn(10 + i as u8, card, status, None);
        t.created_at = T0 + Duration::minutes(i as i64);
        rows.push(t);
    }
    write(store, &rows.iter().collect::<Vec<_>>()).await;
    assert_eq!(
        store
            .frictionless_since(&fp(1), T0 - Duration::hours(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.frictionless_since(&fp(1), T0).await.unwrap(),
        1,
        "only those after `since`"
    );
    assert_eq!(
        store
            .frictionless_since(&fp(2), T0 - Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .frictionless_since(&fp(9), T0 - Duration::hours(1))
            .await
            .unwrap(),
        0
    );
}

async fn expired_transactions_are_not_returned_and_are_swept(store: &Store) {
    let mut short = txn(
        20,
        1,
        TransStatus::C,
        Some(Challenge::new(ChallengeMethod::OneTimeCode, 3, T0)),
    );
    short.expires_at = T0 + Duration::minutes(1);
    let long = txn(21, 1, TransStatus::Y, None);
    write(store, &[&short, &long]).await;
    let later = T0 + Duration::minutes(1);
    assert!(
        store
            .acs_transaction(&short.acs_trans_id, later)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.due_challenges(later, 10).await.unwrap().is_empty(),
        "an expired one never falls due"
    );
    assert_eq!(store.sweep_acs_transactions(later).await.unwrap(), 1);
    assert!(
        store
            .acs_transaction(&short.acs_trans_id, T0)
            .await
            .unwrap()
            .is_none(),
        "deleted"
    );
    assert!(
        store
            .acs_transaction(&long.acs_trans_id, later)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_remembered_browser_is_known_for_its_card_until_it_expires(store: &Store) {
    use shonin_3ds::acs::browser::KnownBrowser;
    let browser = "b".repeat(64);
    let row = KnownBrowser {
        card_fingerprint: fp(5),
        browser: browser.clone(),
        acs_trans_id: "0ed1ec93-9e85-4114-87ba-120c50c6a7f5".into(),
        created_at: T0,
        expires_at: T0 + Duration::days(90),
    };
    let mut unit = UnitOfWork::new();
    unit.insert(&row);
    assert!(matches!(
        store.commit(unit, None).await.unwrap(),
        Outcome::Committed { .. }
    ));
    assert!(store.known_browser(&fp(5), &browser, T0).await.unwrap());
    assert!(
        !store.known_browser(&fp(6), &browser, T0).await.unwrap(),
        "another card"
    );
    assert!(
        !store
            .known_browser(&fp(5), &"c".repeat(64), T0)
            .await
            .unwrap(),
        "another browser"
    );
    let expired = T0 + Duration::days(90);
    assert!(
        !store
            .known_browser(&fp(5), &browser, expired)
            .await
            .unwrap()
    );
    assert_eq!(store.sweep_acs_transactions(expired).await.unwrap(), 1);
}
