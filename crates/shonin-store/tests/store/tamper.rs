//! Tampering with the stored log through raw SQL, on both engines: `shonin_audit::verify` must
//! name the first entry that no longer holds.

use crate::suite::{all_entries, allow_tampering, blob_literal, record};
use shonin_audit::{AuditStore, SealedEntry, VerifyFailure, VerifyReport, chain, verify};
use shonin_store::Store;
use shonin_store::testing::raw_execute;

contract_tests! {
    untouched_log_verifies_clean,
    edited_field_is_named,
    deleted_middle_entry_is_named,
    deleted_last_entry_is_named,
    appended_forged_entry_with_made_up_hash_is_named,
    appended_well_formed_forged_entry_is_named,
    inserted_entry_that_renumbers_the_rest_is_named,
    swapped_entries_are_named,
    undecodable_entry_fails_verification_naming_its_seq,
}

const LEN: u64 = 20;

async fn verified(store: &Store) -> VerifyReport {
    verify(store, &serde_json::json!({ "keys": [] }))
        .await
        .unwrap()
}

/// Appends 20 entries (in batches of mixed size) and lifts the append-only guard.
async fn tamperable_log(store: &Store) -> Vec<SealedEntry> {
    store.append((1..=7).map(record).collect()).await.unwrap();
    for i in 8..=LEN {
        store.append(vec![record(i)]).await.unwrap();
    }
    allow_tampering(store).await;
    all_entries(store).await
}

fn assert_first_bad(report: &VerifyReport, seq: u64) -> &VerifyFailure {
    let bad = report
        .first_bad
        .as_ref()
        .unwrap_or_else(|| panic!("not detected: {report:?}"));
    assert_eq!(bad.seq, seq, "first bad entry: {bad}");
    &bad.reason
}

fn sql_text(v: Option<&str>) -> String {
    v.map_or_else(
        || "NULL".to_owned(),
        |s| format!("'{}'", s.replace('\'', "''")),
    )
}

/// An INSERT of `e` exactly as given, in the engine's dialect.
fn insert_sql(store: &Store, e: &SealedEntry) -> String {
    let r = &e.record;
    let ip = r.source_ip.map(|ip| ip.to_string());
    format!(
        "INSERT INTO audit_entries (seq, time, actor_kind, actor_id, action, target, outcome, \
         reason, source_ip, request_id, prev_hash, hash) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, \
         {}, {}, {}, {})",
        e.seq,
        sql_text(Some(&chain::format_time(r.time))),
        sql_text(Some(r.actor.kind.as_str())),
        sql_text(Some(&r.actor.id)),
        sql_text(Some(&r.action)),
        sql_text(Some(&r.target)),
        sql_text(Some(r.outcome.as_str())),
        sql_text(r.reason.as_deref()),
        sql_text(ip.as_deref()),
        sql_text(r.request_id.as_deref()),
        blob_literal(store, &e.prev_hash),
        blob_literal(store, &e.hash),
    )
}

async fn untouched_log_verifies_clean(store: &Store) {
    tamperable_log(store).await;
    let report = verified(store).await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, LEN);
}

async fn edited_field_is_named(store: &Store) {
    tamperable_log(store).await;
    raw_execute(
        store,
        "UPDATE audit_entries SET target = 'rs-evil' WHERE seq = 7",
    )
    .await
    .unwrap();
    let report = verified(store).await;
    assert_eq!(assert_first_bad(&report, 7), &VerifyFailure::HashMismatch);
    assert_eq!(report.entries, 6);
}

async fn deleted_middle_entry_is_named(store: &Store) {
    tamperable_log(store).await;
    raw_execute(store, "DELETE FROM audit_entries WHERE seq = 7")
        .await
        .unwrap();
    let report = verified(store).await;
    assert_eq!(
        assert_first_bad(&report, 7),
        &VerifyFailure::GapBefore { next: 8 }
    );
}

async fn deleted_last_entry_is_named(store: &Store) {
    tamperable_log(store).await;
    raw_execute(
        store,
        &format!("DELETE FROM audit_entries WHERE seq = {LEN}"),
    )
    .await
    .unwrap();
    let report = verified(store).await;
    let reason = assert_first_bad(&report, LEN);
    assert_eq!(reason, &VerifyFailure::HeadMismatch { head_seq: LEN });
}

async fn appended_forged_entry_with_made_up_hash_is_named(store: &Store) {
    let entries = tamperable_log(store).await;
    let mut forged = chain::seal(LEN + 1, entries[19].hash, record(99));
    forged.hash = [0xab; 32];
    raw_execute(store, &insert_sql(store, &forged))
        .await
        .unwrap();
    let report = verified(store).await;
    assert_first_bad(&report, LEN + 1);
}

async fn appended_well_formed_forged_entry_is_named(store: &Store) {
    // The attacker computes a correct hash; the head, moved only by real appends, gives it away.
    let entries = tamperable_log(store).await;
    let forged = chain::seal(LEN + 1, entries[19].hash, record(99));
    raw_execute(store, &insert_sql(store, &forged))
        .await
        .unwrap();
    let report = verified(store).await;
    let reason = assert_first_bad(&report, LEN + 1);
    assert_eq!(reason, &VerifyFailure::HeadMismatch { head_seq: LEN });
}

async fn inserted_entry_that_renumbers_the_rest_is_named(store: &Store) {
    // Slip a well-formed entry in at 10 and shift 10..=20 to 11..=21 (in two steps, so the
    // primary key never collides mid-statement).
    let entries = tamperable_log(store).await;
    raw_execute(
        store,
        "UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 10; \
         UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1000;",
    )
    .await
    .unwrap();
    let forged = chain::seal(10, entries[8].hash, record(99));
    raw_execute(store, &insert_sql(store, &forged))
        .await
        .unwrap();
    let report = verified(store).await;
    // 10 itself links and hashes correctly; the old entry 10, now at 11, no longer links.
    assert_eq!(
        assert_first_bad(&report, 11),
        &VerifyFailure::PrevHashMismatch
    );
    assert_eq!(report.entries, 10);
}

async fn swapped_entries_are_named(store: &Store) {
    tamperable_log(store).await;
    let cols = "time, actor_kind, actor_id, action, target, outcome, reason, source_ip, \
                request_id, prev_hash, hash";
    raw_execute(
        store,
        &format!(
            "CREATE TEMP TABLE swap AS SELECT * FROM audit_entries WHERE seq IN (5, 6); \
             UPDATE audit_entries SET ({cols}) = \
                 (SELECT {cols} FROM swap WHERE swap.seq = 11 - audit_entries.seq) \
             WHERE seq IN (5, 6);"
        ),
    )
    .await
    .unwrap();
    let stored = all_entries(store).await;
    assert_eq!(stored[4].record.actor.id, "client-6", "the swap happened");
    let report = verified(store).await;
    assert_eq!(
        assert_first_bad(&report, 5),
        &VerifyFailure::PrevHashMismatch
    );
}

async fn undecodable_entry_fails_verification_naming_its_seq(store: &Store) {
    tamperable_log(store).await;
    raw_execute(
        store,
        "UPDATE audit_entries SET outcome = 'maybe' WHERE seq = 7",
    )
    .await
    .unwrap();
    let err = verify(store, &serde_json::json!({ "keys": [] }))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("audit entry 7"), "{err}");
    // Entries before it still read, so an operator can see where the damage starts.
    assert_eq!(store.entries(1, 6).await.unwrap().len(), 6);
}
