//! The group-commit writer (`batch.rs`): claims and token records written together keep the
//! one-at-a-time contract — duplicate keys in one batch, existing and expired keys, a batch that
//! fails and is retried one by one, and many concurrent callers through the real writer task;
//! and SQLite's one-round-trip script (`batch_script.rs`), which must commit exactly what the
//! step-by-step transaction would, or fall back to it.

use crate::clients::sample_client;
use crate::suite::{T0, assert_unbroken_chain, issue_tokens, record};
use shonin_oauth::client::{ClientId, ClientStore};
use shonin_oauth::token_record::{TokenKind, TokenRecord, TokenStore, token_hash};
use shonin_store::Store;
use shonin_store::testing::{
    TestBatch, TestIssue, write_batches, write_one_batch, write_one_batch_with_issues,
};
use shonin_types::ports::ReplayStore;
use shonin_types::unit::{OneTimeClaim, Outcome as Issued, UnitOfWork, UnitStore};
use shonin_types::{FixedClock, StorageError};
use std::sync::Arc;
use time::Duration;

contract_tests! {
    duplicate_keys_in_one_batch_have_one_winner,
    batch_claims_respect_existing_and_expired_records,
    failed_batch_is_retried_one_by_one,
    concurrent_callers_through_the_writer_keep_the_contract,
    claims_tokens_and_audit_appends_commit_together,
    a_unit_stops_at_its_first_replayed_claim,
    issues_commit_only_when_every_claim_is_fresh,
    a_failing_issue_fails_alone,
    concurrent_issues_have_one_winner_per_key,
    close_returns_although_the_writer_holds_a_connection,
    a_warm_sqlite_writer_sends_a_fresh_batch_as_one_script,
    a_replay_in_a_warm_batch_is_refused_and_spends_only_fresh_claims,
    a_head_moved_by_another_writer_falls_back_without_forking_the_chain,
    a_failing_script_statement_falls_back_to_the_transaction,
}

pub fn access(token: &str, client: &str) -> TokenRecord {
    TokenRecord {
        token_hash: token_hash(token),
        kind: TokenKind::Access,
        client_id: ClientId::try_from(client).unwrap(),
        subject: None,
        grant_id: format!("grant-{token}"),
        scope: "accounts".into(),
        authorization_details: None,
        cnf_jkt: Some("jkt".into()),
        cnf_x5t_s256: None,
        issued_at: T0,
        expires_at: T0 + Duration::minutes(5),
        revoked_at: None,
    }
}

pub fn at_t0(store: &Store) -> Store {
    store.clone().with_clock(Arc::new(FixedClock::new(T0)))
}

async fn duplicate_keys_in_one_batch_have_one_winner(store: &Store) {
    let store = at_t0(store);
    let exp = T0 + Duration::seconds(60);
    let out = write_one_batch(
        &store,
        &[
            ("dpop", "b", exp),
            ("dpop", "a", exp),
            ("dpop", "b", exp),
            ("client_assertion", "b", exp),
            ("dpop", "a", exp),
        ],
        &[],
        &[],
    )
    .await;
    // In one transaction: PostgreSQL refuses an upsert that touches a row twice, so the
    // duplicates must have been resolved before the statement, not by the one-by-one retry.
    assert!(out.committed);
    let claimed: Vec<bool> = out.claimed.into_iter().map(Result::unwrap).collect();
    assert_eq!(claimed, [true, true, false, true, false]);
    // Committed: the one-at-a-time path sees every key as used.
    for (ns, key) in [("dpop", "a"), ("dpop", "b"), ("client_assertion", "b")] {
        assert!(!store.first_use(ns, key, exp).await.unwrap(), "{ns}/{key}");
    }
}

async fn batch_claims_respect_existing_and_expired_records(store: &Store) {
    let early = at_t0(store);
    assert!(
        early
            .first_use("dpop", "old", T0 + Duration::seconds(10))
            .await
            .unwrap()
    );
    assert!(
        early
            .first_use("dpop", "live", T0 + Duration::seconds(120))
            .await
            .unwrap()
    );
    // 30 s later "old" has expired and may be taken over; "live" has not.
    let later = store
        .clone()
        .with_clock(Arc::new(FixedClock::new(T0 + Duration::seconds(30))));
    let exp = T0 + Duration::seconds(90);
    let out = write_one_batch(
        &later,
        &[
            ("dpop", "live", exp),
            ("dpop", "old", exp),
            ("dpop", "new", exp),
        ],
        &[],
        &[],
    )
    .await;
    assert!(out.committed);
    let claimed: Vec<bool> = out.claimed.into_iter().map(Result::unwrap).collect();
    assert_eq!(claimed, [false, true, true]);
    // The taken-over record now lives until the new expiry.
    assert!(!later.first_use("dpop", "old", exp).await.unwrap());
}

async fn failed_batch_is_retried_one_by_one(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    store.insert_token(&access("existing", "c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    let mut too_long = record(9);
    too_long.reason = Some("x".repeat(5000));
    // A record of an unknown client and a duplicate hash make the batch statement fail; the
    // retry must fail exactly those two and commit the rest.
    let out = write_one_batch(
        &store,
        &[
            ("dpop", "k1", exp),
            ("dpop", "k1", exp),
            ("dpop", "k2", exp),
        ],
        &[
            access("t1", "c1"),
            access("t2", "no-such-client"),
            access("existing", "c1"),
            access("t3", "c1"),
        ],
        &[vec![record(1), record(2)], vec![too_long], vec![record(3)]],
    )
    .await;
    assert!(!out.committed);
    let claimed: Vec<bool> = out.claimed.into_iter().map(Result::unwrap).collect();
    assert_eq!(claimed, [true, false, true]);
    let inserted = out.inserted;
    // The audit appends too: the bad one fails alone, the others are chained in queue order.
    let appended = out.appended;
    assert_eq!(appended[0].as_ref().unwrap().len(), 2);
    assert!(
        matches!(appended[1], Err(StorageError::Conflict(_))),
        "{:?}",
        appended[1]
    );
    assert_eq!(appended[2].as_ref().unwrap()[0].seq, 3);
    assert_unbroken_chain(&store, 3).await;
    assert!(inserted[0].is_ok(), "{:?}", inserted[0]);
    assert!(
        matches!(inserted[1], Err(StorageError::Conflict(_))),
        "{:?}",
        inserted[1]
    );
    assert!(
        matches!(inserted[2], Err(StorageError::Conflict(_))),
        "{:?}",
        inserted[2]
    );
    assert!(inserted[3].is_ok(), "{:?}", inserted[3]);
    for (token, present) in [
        ("t1", true),
        ("t2", false),
        ("t3", true),
        ("existing", true),
    ] {
        let got = store.get_token(&token_hash(token)).await.unwrap();
        assert_eq!(got.is_some(), present, "{token}");
    }
    assert_eq!(
        store
            .get_token(&token_hash("existing"))
            .await
            .unwrap()
            .unwrap()
            .grant_id,
        "grant-existing"
    );
}

async fn concurrent_callers_through_the_writer_keep_the_contract(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = time::OffsetDateTime::now_utc() + Duration::seconds(60);
    // 64 tasks: each claims one shared key and one key of its own, and inserts one record.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let shared = store.first_use("dpop", "shared", exp).await.unwrap();
                let own = store
                    .first_use("dpop", &format!("own-{i}"), exp)
                    .await
                    .unwrap();
                store
                    .insert_token(&access(&format!("tok-{i}"), "c1"))
                    .await
                    .unwrap();
                (shared, own)
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        let (shared, own) = t.await.unwrap();
        winners += usize::from(shared);
        assert!(own);
    }
    assert_eq!(winners, 1);
    for i in 0..64 {
        let tok = format!("tok-{i}");
        assert!(store.get_token(&token_hash(&tok)).await.unwrap().is_some());
    }
}

async fn claims_tokens_and_audit_appends_commit_together(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    let out = write_one_batch(
        &store,
        &[("dpop", "j1", exp), ("client_assertion", "j1", exp)],
        &[access("t1", "c1"), access("t2", "c1")],
        &[vec![record(1)], vec![record(2), record(3)]],
    )
    .await;
    assert!(out.committed);
    assert!(out.claimed.iter().all(|c| *c.as_ref().unwrap()));
    assert!(out.inserted.iter().all(Result::is_ok));
    let seqs: Vec<Vec<u64>> = out
        .appended
        .into_iter()
        .map(|a| a.unwrap().iter().map(|e| e.seq).collect())
        .collect();
    assert_eq!(seqs, [vec![1], vec![2, 3]]);
    assert_unbroken_chain(&store, 3).await;
    assert!(store.get_token(&token_hash("t2")).await.unwrap().is_some());
}

async fn a_unit_stops_at_its_first_replayed_claim(store: &Store) {
    let store = at_t0(store);
    let exp = T0 + Duration::seconds(60);
    assert!(store.first_use("dpop", "seen", exp).await.unwrap());
    let mut unit = UnitOfWork::new();
    for (namespace, key) in [("client_assertion", "x"), ("dpop", "seen"), ("dpop", "y")] {
        unit.claim(OneTimeClaim {
            namespace,
            key: key.into(),
            expires_at: exp,
        });
    }
    let outcome = store.commit(unit, None).await.unwrap();
    assert_eq!(outcome, Issued::Replayed { claim: 1 });
    // Its fresh claims are spent all the same (it got nothing for them).
    assert!(!store.first_use("client_assertion", "x", exp).await.unwrap());
    assert!(!store.first_use("dpop", "y", exp).await.unwrap());
}

async fn issues_commit_only_when_every_claim_is_fresh(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    assert!(store.first_use("dpop", "seen", exp).await.unwrap());
    let issue = |claims: Vec<(&'static str, &'static str)>, token: &str, i: u64| TestIssue {
        claims: claims.into_iter().map(|(ns, k)| (ns, k, exp)).collect(),
        tokens: vec![access(token, "c1")],
        audit: record(i),
    };
    // One batch: a plain claim and audit append, then four issues: A fresh; B shares A's proof
    // (queued later, so a replay); C reuses the plain claim's key; D a key stored before.
    let out = write_one_batch_with_issues(
        &store,
        &[("dpop", "plain", exp)],
        &[],
        &[vec![record(1)]],
        &[
            issue(vec![("client_assertion", "a"), ("dpop", "pa")], "tA", 2),
            issue(vec![("client_assertion", "b"), ("dpop", "pa")], "tB", 3),
            issue(vec![("dpop", "plain")], "tC", 4),
            issue(vec![("client_assertion", "d"), ("dpop", "seen")], "tD", 5),
        ],
    )
    .await;
    assert!(out.committed);
    assert!(*out.claimed[0].as_ref().unwrap());
    assert_eq!(out.appended[0].as_ref().unwrap()[0].seq, 1);
    let issued: Vec<Issued> = out.issued.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        issued,
        [
            Issued::Committed { seq: Some(2) },
            Issued::Replayed { claim: 1 },
            Issued::Replayed { claim: 0 },
            Issued::Replayed { claim: 1 },
        ]
    );
    // Only A's record and entry were written; the refused issues' fresh claims are spent.
    let entries = assert_unbroken_chain(&store, 2).await;
    assert_eq!(entries[1].record.actor.id, "client-2");
    assert_tokens(
        &store,
        &[("tA", true), ("tB", false), ("tC", false), ("tD", false)],
    )
    .await;
    assert_spent(&store, &["b", "d"]).await;
}

/// Which of `tokens` have a stored record.
async fn assert_tokens(store: &Store, tokens: &[(&str, bool)]) {
    for (token, present) in tokens {
        let got = store.get_token(&token_hash(token)).await.unwrap();
        assert_eq!(got.is_some(), *present, "{token}");
    }
}

/// Every client-assertion key in `keys` has been used.
async fn assert_spent(store: &Store, keys: &[&str]) {
    let exp = T0 + Duration::seconds(60);
    for key in keys {
        assert!(
            !store.first_use("client_assertion", key, exp).await.unwrap(),
            "{key}"
        );
    }
}

async fn a_failing_issue_fails_alone(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    // A token of an unknown client fails the batch statement; the retry must fail that issue
    // alone — its claim and entry rolled back with it — and commit the other.
    let out = write_one_batch_with_issues(
        &store,
        &[],
        &[],
        &[],
        &[
            TestIssue {
                claims: vec![("dpop", "bad", exp)],
                tokens: vec![access("t-bad", "no-such-client")],
                audit: record(1),
            },
            TestIssue {
                claims: vec![("dpop", "good", exp)],
                tokens: vec![access("t-good", "c1")],
                audit: record(2),
            },
        ],
    )
    .await;
    assert!(!out.committed);
    assert!(
        matches!(out.issued[0], Err(StorageError::Conflict(_))),
        "{:?}",
        out.issued[0]
    );
    assert_eq!(
        out.issued[1].as_ref().unwrap(),
        &Issued::Committed { seq: Some(1) }
    );
    assert_unbroken_chain(&store, 1).await;
    assert!(
        store
            .get_token(&token_hash("t-bad"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_token(&token_hash("t-good"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.first_use("dpop", "bad", exp).await.unwrap());
}

async fn concurrent_issues_have_one_winner_per_key(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = time::OffsetDateTime::now_utc() + Duration::seconds(60);
    // 64 tasks through the real writer: each has a key of its own and one of 8 shared keys.
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let own = format!("own-{i}");
                let shared = format!("shared-{}", i % 8);
                let out = issue_tokens(
                    &store,
                    &[("client_assertion", &own, exp), ("dpop", &shared, exp)],
                    vec![access(&format!("tok-{i}"), "c1")],
                    record(i + 1),
                )
                .await
                .unwrap();
                (i, out)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Issued::Committed { .. }) => winners.push(i),
            (_, Issued::Replayed { claim }) => assert_eq!(claim, 1),
            (i, other) => panic!("task {i}: {other:?}"),
        }
    }
    winners.sort_by_key(|i| i % 8);
    let groups: Vec<u64> = winners.iter().map(|i| i % 8).collect();
    assert_eq!(
        groups,
        (0..8).collect::<Vec<_>>(),
        "one winner per shared key"
    );
    assert_unbroken_chain(store, 8).await;
    for i in 0..64 {
        let present = store
            .get_token(&token_hash(&format!("tok-{i}")))
            .await
            .unwrap();
        assert_eq!(present.is_some(), winners.contains(&i), "tok-{i}");
    }
}

async fn close_returns_although_the_writer_holds_a_connection(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = time::OffsetDateTime::now_utc() + Duration::seconds(60);
    let issued = issue_tokens(
        store,
        &[("dpop", "k", exp)],
        vec![access("t", "c1")],
        record(1),
    )
    .await
    .unwrap();
    assert_eq!(issued, Issued::Committed { seq: Some(1) });
    // Closing waits for every pooled connection; the writer keeps one between batches and must
    // give it back.
    tokio::time::timeout(std::time::Duration::from_secs(10), store.close())
        .await
        .expect("close returned");
    let after = issue_tokens(
        store,
        &[("dpop", "k2", exp)],
        vec![access("t2", "c1")],
        record(2),
    )
    .await;
    assert!(
        matches!(after, Err(StorageError::Unavailable(_))),
        "{after:?}"
    );
}

fn is_sqlite(store: &Store) -> bool {
    matches!(store, Store::Sqlite(_))
}

/// A batch that only appends `record(i)`: it tells the writer the head.
fn warm_up(i: u64) -> TestBatch<'static> {
    TestBatch {
        audits: vec![vec![record(i)]],
        ..TestBatch::default()
    }
}

fn issue_of<'a>(keys: [(&'a str, &'a str); 2], token: &str, i: u64) -> TestIssue<'a> {
    let exp = T0 + Duration::seconds(60);
    TestIssue {
        claims: keys.into_iter().map(|(ns, k)| (ns, k, exp)).collect(),
        tokens: vec![access(token, "c1")],
        audit: record(i),
    }
}

async fn a_warm_sqlite_writer_sends_a_fresh_batch_as_one_script(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    let fresh = TestBatch {
        claims: vec![("dpop", "plain", exp)],
        tokens: vec![access("t-plain", "c1")],
        audits: vec![vec![record(2), record(3)]],
        issues: vec![
            issue_of([("client_assertion", "a"), ("dpop", "pa")], "tA", 4),
            issue_of([("client_assertion", "b"), ("dpop", "pb")], "tB", 5),
        ],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[warm_up(1), fresh.clone(), warm_up(6)]).await;
    // The first batch learns the head; the next ones may go as scripts (SQLite only).
    assert!(!out[0].scripted);
    assert_eq!(out[1].scripted, is_sqlite(&store));
    assert_eq!(out[2].scripted, is_sqlite(&store));
    let b = &out[1];
    assert!(b.committed);
    assert!(*b.claimed[0].as_ref().unwrap());
    b.inserted[0].as_ref().unwrap();
    let seqs: Vec<u64> = b.appended[0]
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [2, 3]);
    let issued: Vec<Issued> = b.issued.iter().map(|r| *r.as_ref().unwrap()).collect();
    assert_eq!(
        issued,
        [
            Issued::Committed { seq: Some(4) },
            Issued::Committed { seq: Some(5) }
        ]
    );
    assert_eq!(out[2].appended[0].as_ref().unwrap()[0].seq, 6);
    // Committed as the step-by-step transaction would have: records, entries, spent values.
    let entries = assert_unbroken_chain(&store, 6).await;
    assert_eq!(entries[3].record.actor.id, "client-4");
    for token in ["t-plain", "tA", "tB"] {
        assert!(
            store.get_token(&token_hash(token)).await.unwrap().is_some(),
            "{token}"
        );
    }
    for (ns, key) in [("dpop", "plain"), ("client_assertion", "a"), ("dpop", "pb")] {
        assert!(!store.first_use(ns, key, exp).await.unwrap(), "{ns}/{key}");
    }
}

async fn a_replay_in_a_warm_batch_is_refused_and_spends_only_fresh_claims(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    let exp = T0 + Duration::seconds(60);
    let replay = TestBatch {
        issues: vec![
            issue_of([("client_assertion", "a"), ("dpop", "pa")], "tA", 3),
            // "seen" is spent by the first batch: a replay the script's guard (PostgreSQL: the
            // upsert) or the memo (SQLite) must catch.
            issue_of([("client_assertion", "b"), ("dpop", "seen")], "tB", 4),
        ],
        ..TestBatch::default()
    };
    let duplicate = TestBatch {
        issues: vec![
            issue_of([("client_assertion", "c"), ("dpop", "pc")], "tC", 5),
            // The same proof twice in one batch (without the memo, the script is not tried).
            issue_of([("client_assertion", "d"), ("dpop", "pc")], "tD", 6),
        ],
        ..TestBatch::default()
    };
    let first = TestBatch {
        claims: vec![("dpop", "seen", exp)],
        audits: vec![vec![record(1), record(2)]],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[first, replay, duplicate]).await;
    for b in &out[1..] {
        assert!(b.committed);
        // SQLite's memo decides replays before the script is built, so the script carries
        // them; PostgreSQL has no script.
        assert_eq!(b.scripted, is_sqlite(&store));
    }
    let issued =
        |b: usize| -> Vec<Issued> { out[b].issued.iter().map(|r| *r.as_ref().unwrap()).collect() };
    assert_eq!(
        issued(1),
        [
            Issued::Committed { seq: Some(3) },
            Issued::Replayed { claim: 1 }
        ]
    );
    assert_eq!(
        issued(2),
        [
            Issued::Committed { seq: Some(4) },
            Issued::Replayed { claim: 1 }
        ]
    );
    assert_unbroken_chain(&store, 4).await;
    assert_tokens(
        &store,
        &[("tA", true), ("tB", false), ("tC", true), ("tD", false)],
    )
    .await;
    // The refused issues' fresh values are spent, as in the step-by-step transaction.
    assert_spent(&store, &["b", "d"]).await;
}

async fn a_head_moved_by_another_writer_falls_back_without_forking_the_chain(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    // Batch 1 tells the test writer the head (seq 1); then another writer (the store's own, as
    // a CLI process or a second node would) appends seq 2, so the writer's head is stale.
    let moved = TestBatch {
        others_append_first: vec![record(2)],
        issues: vec![issue_of(
            [("client_assertion", "a"), ("dpop", "pa")],
            "tA",
            3,
        )],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[warm_up(1), moved, warm_up(4)]).await;
    assert!(!out[1].scripted);
    assert!(out[1].committed);
    assert_eq!(
        out[1].issued[0].as_ref().unwrap(),
        &Issued::Committed { seq: Some(3) }
    );
    // The fallback read the head again, so the next batch may be a script once more.
    assert_eq!(out[2].scripted, is_sqlite(&store));
    assert_eq!(out[2].appended[0].as_ref().unwrap()[0].seq, 4);
    assert_unbroken_chain(&store, 4).await;
    assert!(store.get_token(&token_hash("tA")).await.unwrap().is_some());
}

async fn a_failing_script_statement_falls_back_to_the_transaction(store: &Store) {
    let store = at_t0(store);
    store.create_client(&sample_client("c1")).await.unwrap();
    store.insert_token(&access("existing", "c1")).await.unwrap();
    // A duplicate token hash fails the script's insert after its claims ran; the rollback must
    // undo them, and the step-by-step path then fails that issue alone.
    let batch = TestBatch {
        issues: vec![
            issue_of([("client_assertion", "a"), ("dpop", "pa")], "existing", 2),
            issue_of([("client_assertion", "b"), ("dpop", "pb")], "tB", 3),
        ],
        ..TestBatch::default()
    };
    let out = write_batches(&store, &[warm_up(1), batch]).await;
    assert!(!out[1].scripted);
    assert!(!out[1].committed);
    assert!(
        matches!(out[1].issued[0], Err(StorageError::Conflict(_))),
        "{:?}",
        out[1].issued[0]
    );
    assert_eq!(
        out[1].issued[1].as_ref().unwrap(),
        &Issued::Committed { seq: Some(2) }
    );
    assert_unbroken_chain(&store, 2).await;
    let exp = T0 + Duration::seconds(60);
    // The failed issue's claims were rolled back with it; the good one's are spent.
    assert!(store.first_use("client_assertion", "a", exp).await.unwrap());
    assert!(!store.first_use("client_assertion", "b", exp).await.unwrap());
}
