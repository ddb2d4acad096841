//! Segments: a written stretch verifies on its own and joins its neighbours; any byte changed in
//! it, and any input that is not a segment, is refused without a panic.

use crate::support::{MemoryStore, TestKeys, chained_checkpoint, fill};
use proptest::prelude::*;
use shonin_audit::archive::{check_joins, verify_segment, write_segment};
use shonin_audit::{AuditStore, GENESIS_HASH};
use shonin_keys::KeySource;

/// A store with 12 entries and chained checkpoints at 4, 8 and 12, as a segment file.
async fn segment_text() -> (String, std::sync::Arc<TestKeys>) {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let entries = fill(&store, 12).await;
    let mut prev = (0, GENESIS_HASH);
    for seq in [4u64, 8, 12] {
        let hash = entries[seq as usize - 1].hash;
        let cp = chained_checkpoint(&keys, seq, hash, prev).await;
        store.put_checkpoint(&cp).await.unwrap();
        prev = (seq, hash);
    }
    let mut out = Vec::new();
    assert_eq!(
        write_segment(store.as_ref(), 12, &mut out).await.unwrap(),
        (1, 12)
    );
    // A segment ends at a checkpoint.
    assert!(
        write_segment(store.as_ref(), 10, &mut Vec::new())
            .await
            .is_err()
    );
    (String::from_utf8(out).unwrap(), keys)
}

#[tokio::test]
async fn a_written_segment_verifies_and_joins_the_base_it_ends_at() {
    let (text, keys) = segment_text().await;
    let seg = verify_segment(text.as_bytes(), &keys.verification_jwks()).unwrap();
    assert_eq!(
        (seg.first_seq, seg.last_seq, seg.entries, seg.checkpoints),
        (1, 12, 12, 3)
    );
    assert_eq!(seg.first_checkpoint_follows, (0, GENESIS_HASH));
    assert!(check_joins(std::slice::from_ref(&seg), (12, seg.last_hash)).is_ok());
    assert!(check_joins(std::slice::from_ref(&seg), (11, seg.last_hash)).is_err());
    // Signed by another keyring: refused.
    let stranger = TestKeys::new();
    assert!(verify_segment(text.as_bytes(), &stranger.verification_jwks()).is_err());
    // Cut short, or with a line removed: refused.
    let lines: Vec<&str> = text.lines().collect();
    for skip in [1, 6, lines.len() - 1] {
        let cut: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert!(
            verify_segment(cut.as_bytes(), &keys.verification_jwks()).is_err(),
            "line {skip} removed"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any byte of the header or an entry line changed is refused. (In a checkpoint line the
    /// JWS is signed and the row must equal its claims; only `created_at` is informational —
    /// the signed time is the JWS's `iat`.)
    #[test]
    fn any_changed_byte_of_the_entries_is_refused(at in any::<prop::sample::Index>(), by in 1u8..=255) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (text, keys) = rt.block_on(segment_text());
        // The header line and the entry lines (the checkpoint lines sit between them).
        let header_end = text.find('\n').unwrap();
        let entries_start = text.find("{\"entry\"").unwrap();
        let mutable = header_end + (text.len() - entries_start);
        let mut bytes = text.into_bytes();
        let k = at.index(mutable);
        let i = if k < header_end { k } else { entries_start + (k - header_end) };
        bytes[i] ^= by;
        let result = verify_segment(&bytes[..], &keys.verification_jwks());
        prop_assert!(result.is_err(), "byte {} changed and still verified", i);
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let keys = serde_json::json!({"keys": []});
        let _ = verify_segment(&bytes[..], &keys);
    }

    #[test]
    fn headers_with_any_range_never_panic(
        first in prop_oneof![Just(0u64), Just(1), Just(u64::MAX), any::<u64>()],
        last in prop_oneof![Just(0u64), Just(1), Just(u64::MAX), any::<u64>()],
    ) {
        let text = format!(
            "{{\"format\":\"shonin-audit-segment-v1\",\"first_seq\":{first},\"last_seq\":{last},\"prev_hash\":\"{}\"}}\n",
            "00".repeat(32)
        );
        let keys = serde_json::json!({"keys": []});
        prop_assert!(verify_segment(text.as_bytes(), &keys).is_err());
    }
}
