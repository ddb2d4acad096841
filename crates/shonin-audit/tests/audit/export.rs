//! Export as JSON Lines for a SIEM.

use crate::support::{MemoryStore, fill};
use shonin_audit::{SealedEntry, export};

#[tokio::test]
async fn export_writes_one_line_per_entry_that_parses_back() {
    let store = MemoryStore::new();
    let entries = fill(&store, 2345).await;
    let mut out = Vec::new();
    assert_eq!(export(store.as_ref(), 1, &mut out).await.unwrap(), 2345);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2345);
    let parsed: Vec<SealedEntry> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed, entries);
}

#[tokio::test]
async fn export_line_has_the_documented_fields() {
    let store = MemoryStore::new();
    let entries = fill(&store, 5).await;
    let mut out = Vec::new();
    export(store.as_ref(), 5, &mut out).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let e = &entries[4];
    assert_eq!(v["seq"], 5);
    assert_eq!(v["time"], "2026-11-22T09:00:00.128456Z");
    assert_eq!(
        v["actor"],
        serde_json::json!({"kind": "client", "id": "client-5"})
    );
    assert_eq!(v["action"], "token.issue");
    assert_eq!(v["target"], "client-5");
    assert_eq!(v["outcome"], "failure");
    assert_eq!(v["reason"], "invalid_grant");
    assert_eq!(v["source_ip"], "192.0.2.5");
    assert_eq!(v["request_id"], "req-5");
    assert_eq!(v["prev_hash"], shonin_audit::chain::to_hex(&e.prev_hash));
    assert_eq!(v["hash"], shonin_audit::chain::to_hex(&e.hash));
}

#[tokio::test]
async fn export_from_a_later_seq_skips_earlier_entries() {
    let store = MemoryStore::new();
    fill(&store, 10).await;
    let mut out = Vec::new();
    assert_eq!(export(store.as_ref(), 8, &mut out).await.unwrap(), 3);
    let seqs: Vec<u64> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<SealedEntry>(l).unwrap().seq)
        .collect();
    assert_eq!(seqs, vec![8, 9, 10]);
    let mut empty = Vec::new();
    assert_eq!(export(store.as_ref(), 11, &mut empty).await.unwrap(), 0);
    assert!(empty.is_empty());
}
