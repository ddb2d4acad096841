//! The rules of each step, as pure functions over a loaded transaction: the state machine's
//! order, the deadline, attempts and the lock, a change that voids the challenge, and the final
//! gate that recomputes the approved hash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::json;
use shonin_txn::{
    Approval, Loaded, NewTransaction, Terms, Transaction, TxnError, TxnPolicy, TxnState,
};
use shonin_types::unit::{Cond, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-12-06 08:00 UTC);

fn terms() -> serde_json::Value {
    json!({
        "payee": {"name": "Acme GmbH", "account": {"iban": "DE89370400440532013000"}},
        "amount": {"value": "123.50", "currency": "EUR"},
        "reference": "Invoice 42",
    })
}

fn created() -> Loaded {
    let mut v = terms();
    v["user_id"] = json!("0b7c4a0e-3f57-4bb5-9a53-2b2f3d1b9a11");
    let new: NewTransaction = serde_json::from_value(v).unwrap();
    let flow = Transaction::create(new, "bank-app", &TxnPolicy::default(), NOW).unwrap();
    Loaded::decode(flow).unwrap()
}

fn challenged() -> Loaded {
    created()
        .challenge("bm9uY2U".into(), None, NOW)
        .unwrap()
        .after
}

fn approval() -> Approval {
    Approval {
        challenge: String::new(),
        credential_id: "cred".into(),
        approved_at: NOW.unix_timestamp(),
        receipt: "r".into(),
    }
}

#[test]
fn a_new_transaction_starts_created_with_the_deadline_and_kept_for_the_retention() {
    let c = created();
    assert_eq!(c.flow.state, TxnState::Created);
    assert_eq!(
        c.txn.expires_at,
        (NOW + Duration::minutes(5)).unix_timestamp()
    );
    assert_eq!(c.flow.expires_at, NOW + Duration::days(1));
    assert!(shonin_txn::is_valid_id(&c.txn.id));
    assert!(c.signed_data().is_none(), "no challenge yet");
}

#[test]
fn the_challenge_is_bound_to_the_stored_data_and_the_nonce() {
    let c = challenged();
    assert_eq!(c.flow.state, TxnState::Challenged);
    let data = c.signed_data().unwrap();
    assert_eq!(data.nonce, "bm9uY2U");
    assert_eq!(data.payee.name, "Acme GmbH");
    // Challenging twice is out of order.
    assert!(matches!(
        c.challenge("other".into(), None, NOW),
        Err(TxnError::State(TxnState::Challenged))
    ));
}

#[test]
fn approval_needs_a_challenge_and_execution_needs_an_approval() {
    let c = created();
    assert!(matches!(
        c.may_approve(NOW),
        Err(TxnError::State(TxnState::Created))
    ));
    assert!(c.approve(approval(), NOW).is_err());
    let terms: Terms = serde_json::from_value(terms()).unwrap();
    assert!(matches!(
        challenged().execute(&terms, &TxnPolicy::default(), NOW),
        Err(TxnError::State(TxnState::Challenged))
    ));
}

#[test]
fn past_the_deadline_a_waiting_transaction_reads_expired_and_refuses_every_step() {
    let c = challenged();
    let late = NOW + Duration::minutes(5);
    assert_eq!(c.state(late - Duration::seconds(1)), TxnState::Challenged);
    assert_eq!(c.state(late), TxnState::Expired);
    assert!(matches!(c.may_approve(late), Err(TxnError::Expired)));
    assert!(matches!(c.reject(late), Err(TxnError::Expired)));
}

#[test]
fn the_fifth_failed_attempt_locks() {
    let policy = TxnPolicy::default();
    let mut c = challenged();
    for left in (1..5).rev() {
        let (mv, l) = c.failed_attempt(&policy, NOW).unwrap();
        assert_eq!(l, left);
        c = mv.after;
        assert_eq!(c.flow.state, TxnState::Challenged);
    }
    let (mv, left) = c.failed_attempt(&policy, NOW).unwrap();
    assert_eq!(left, 0);
    let c = mv.after;
    assert_eq!(c.flow.state, TxnState::Locked);
    assert!(matches!(c.may_approve(NOW), Err(TxnError::Locked)));
}

#[test]
fn a_change_after_the_challenge_voids_it() {
    let c = challenged();
    let mut changed = terms();
    changed["amount"]["value"] = json!("9999.00");
    let changed: Terms = serde_json::from_value(changed).unwrap();
    let (mv, voided) = c.modify(changed.validate().unwrap(), NOW).unwrap();
    assert!(voided);
    // The move is a compare-and-set on the state and version as read.
    assert!(
        mv.update
            .filter
            .contains(&("version", Cond::Eq(Value::int(2))))
    );
    let c = mv.after;
    assert_eq!(c.flow.version, 3);
    assert_eq!(c.flow.state, TxnState::Created);
    assert!(c.signed_data().is_none(), "the old challenge is gone");
    assert_eq!(c.txn.amount.canonical(), "9999.00");
    // Before any challenge, a change voids nothing.
    let (_, voided) = created()
        .modify(serde_json::from_value(terms()).unwrap(), NOW)
        .unwrap();
    assert!(!voided);
}

#[test]
fn execution_recomputes_the_approved_hash_from_what_is_presented() {
    let c = challenged();
    let mut a = approval();
    a.challenge = shonin_jose::b64url_encode(&c.signed_data().unwrap().challenge());
    let approved = c.approve(a, NOW).unwrap().after;
    let policy = TxnPolicy::default();
    let same: Terms = serde_json::from_value(terms()).unwrap();
    assert!(approved.execute(&same, &policy, NOW).is_ok());
    let mut other = terms();
    other["payee"]["name"] = json!("Mallory");
    let other: Terms = serde_json::from_value(other).unwrap();
    assert!(matches!(
        approved.execute(&other, &policy, NOW),
        Err(TxnError::Mismatch)
    ));
    // After the execution window, not even the approved data executes.
    let late = NOW + policy.execute_window;
    assert!(matches!(
        approved.execute(&same, &policy, late),
        Err(TxnError::Expired)
    ));
}

#[test]
fn policies_outside_the_rules_are_refused() {
    let ok = TxnPolicy::default();
    assert!(ok.check().is_ok());
    for bad in [
        TxnPolicy {
            lifetime: Duration::minutes(6),
            ..ok
        },
        TxnPolicy {
            max_attempts: 6,
            ..ok
        },
        TxnPolicy {
            max_attempts: 0,
            ..ok
        },
        TxnPolicy {
            retention: Duration::minutes(1),
            ..ok
        },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
    }
}
