//! Export as JSON Lines for a SIEM.

use crate::support::{MemoryStore, fill};
use shonin_audit::{Annotate, Annotations, AuditError, SealedEntry, export, export_annotated};

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

/// Annotates every entry whose seq is a multiple of `every` with `{name: seq}`, and records the
/// pages it was shown.
struct EveryNth {
    every: u64,
    name: &'static str,
    pages: std::sync::Mutex<Vec<(u64, u64)>>,
}

#[async_trait::async_trait]
impl Annotate for EveryNth {
    async fn annotate(&self, page: &[SealedEntry]) -> Result<Annotations, AuditError> {
        if let (Some(first), Some(last)) = (page.first(), page.last()) {
            self.pages.lock().unwrap().push((first.seq, last.seq));
        }
        Ok(page
            .iter()
            .filter(|e| e.seq % self.every == 0)
            .map(|e| {
                let mut m = serde_json::Map::new();
                m.insert(self.name.into(), serde_json::json!(e.seq));
                (e.seq, m)
            })
            .collect())
    }
}

#[tokio::test]
async fn an_annotation_is_added_beside_the_entry_on_its_own_line_only() {
    let store = MemoryStore::new();
    let entries = fill(&store, 2345).await;
    let notes = EveryNth {
        every: 7,
        name: "receipt",
        pages: Default::default(),
    };
    let mut out = Vec::new();
    let n = export_annotated(store.as_ref(), 1, &mut out, &notes)
        .await
        .unwrap();
    assert_eq!(n, 2345);
    // Each page was shown to the annotator once, in order.
    assert_eq!(
        *notes.pages.lock().unwrap(),
        vec![(1, 1000), (1001, 2000), (2001, 2345)]
    );
    let text = String::from_utf8(out).unwrap();
    for (line, entry) in text.lines().zip(&entries) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if entry.seq % 7 == 0 {
            assert_eq!(v["receipt"], entry.seq, "{line}");
        } else {
            assert!(v.get("receipt").is_none(), "{line}");
        }
        // The entry itself reads back unchanged: readers that know nothing of annotations.
        assert_eq!(&serde_json::from_str::<SealedEntry>(line).unwrap(), entry);
    }
}

#[tokio::test]
async fn an_annotation_cannot_pass_for_a_member_of_the_entry() {
    let store = MemoryStore::new();
    fill(&store, 10).await;
    for name in ["reason", "hash", "seq"] {
        let notes = EveryNth {
            every: 5,
            name,
            pages: Default::default(),
        };
        let mut out = Vec::new();
        let err = export_annotated(store.as_ref(), 1, &mut out, &notes)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuditError::Annotation(m) if m.contains(name) && m.contains("entry 5")),
            "{err}"
        );
    }
}
