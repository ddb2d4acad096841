//! The verifier names the first bad entry for every kind of tampering.

use crate::support::{MemoryStore, TestKeys, chained_checkpoint, fill, record, signed_checkpoint};
use shonin_audit::chain::{seal, to_hex};
use shonin_audit::{
    Anchor, AnchorError, BadEntry, GENESIS_HASH, VerifyFailure, VerifyReport, verify,
    verify_anchored,
};
use shonin_keys::KeySource;

/// A store with `n` entries and signed checkpoints at each seq in `at`.
async fn log_with(n: usize, at: &[u64]) -> (std::sync::Arc<MemoryStore>, std::sync::Arc<TestKeys>) {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let entries = fill(&store, n).await;
    for &seq in at {
        let hash = entries[seq as usize - 1].hash;
        let cp = signed_checkpoint(&keys, seq, hash).await;
        store.tamper(|st| st.checkpoints.push(cp));
    }
    (store, keys)
}

async fn check(store: &MemoryStore, keys: &TestKeys) -> VerifyReport {
    verify(store, &keys.verification_jwks()).await.unwrap()
}

fn bad(seq: u64, reason: VerifyFailure) -> Option<BadEntry> {
    Some(BadEntry { seq, reason })
}

#[tokio::test]
async fn intact_log_verifies_with_its_checkpoints() {
    let (store, keys) = log_with(10, &[4, 10]).await;
    let report = check(&store, &keys).await;
    assert_eq!(
        report,
        VerifyReport {
            entries: 10,
            checkpoints: 2,
            first_bad: None
        }
    );
}

#[tokio::test]
async fn empty_log_verifies() {
    let (store, keys) = log_with(0, &[]).await;
    assert_eq!(
        check(&store, &keys).await,
        VerifyReport {
            entries: 0,
            checkpoints: 0,
            first_bad: None
        }
    );
}

#[tokio::test]
async fn edited_field_is_named() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| st.entry(6).record.outcome = shonin_audit::Outcome::Success);
    store.tamper(|st| st.entry(6).record.target = "someone-else".into());
    let report = check(&store, &keys).await;
    assert_eq!(report.first_bad, bad(6, VerifyFailure::HashMismatch));
    assert_eq!(report.entries, 5);
}

#[tokio::test]
async fn the_first_of_several_edits_is_named() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| st.entry(8).record.action = "x".into());
    store.tamper(|st| st.entry(3).record.reason = Some("covered up".into()));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(3, VerifyFailure::HashMismatch)
    );
}

#[tokio::test]
async fn deleted_middle_row_is_named_by_its_missing_seq() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| st.remove(4));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(4, VerifyFailure::GapBefore { next: 5 })
    );
}

#[tokio::test]
async fn deleted_first_row_is_named() {
    let (store, keys) = log_with(3, &[]).await;
    store.tamper(|st| st.remove(1));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(1, VerifyFailure::GapBefore { next: 2 })
    );
}

#[tokio::test]
async fn deleted_last_row_disagrees_with_the_head() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| st.remove(10));
    let report = check(&store, &keys).await;
    assert_eq!(
        report.first_bad,
        bad(10, VerifyFailure::HeadMismatch { head_seq: 10 })
    );
    assert_eq!(report.entries, 9);
}

#[tokio::test]
async fn every_row_deleted_disagrees_with_the_head() {
    let (store, keys) = log_with(3, &[]).await;
    store.tamper(|st| st.entries.clear());
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(1, VerifyFailure::HeadMismatch { head_seq: 3 })
    );
}

#[tokio::test]
async fn deleted_last_row_with_the_head_moved_back_is_caught_by_the_checkpoint() {
    let (store, keys) = log_with(10, &[10]).await;
    store.tamper(|st| {
        st.remove(10);
        st.head = Some((9, st.entry(9).hash));
    });
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(10, VerifyFailure::CheckpointWithoutEntry)
    );
}

#[tokio::test]
async fn inserted_tail_row_disagrees_with_the_head() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| {
        let forged = seal(11, st.entry(10).hash, record(99));
        st.entries.push(forged);
    });
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(11, VerifyFailure::HeadMismatch { head_seq: 10 })
    );
}

#[tokio::test]
async fn changed_head_hash_is_named() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| st.head = Some((10, [7u8; 32])));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(10, VerifyFailure::HeadMismatch { head_seq: 10 })
    );
}

#[tokio::test]
async fn inserted_middle_row_breaks_the_chain_at_the_row_after_it() {
    // The forger renumbers the later rows and seals the new one correctly; the forged row itself
    // is indistinguishable, but the row after it no longer links to it.
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| {
        let forged = seal(5, st.entry(4).hash, record(99));
        for e in st.entries.iter_mut().filter(|e| e.seq >= 5) {
            e.seq += 1;
        }
        st.entries.push(forged);
        st.head = Some((11, st.entry(11).hash));
    });
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(6, VerifyFailure::PrevHashMismatch)
    );
}

#[tokio::test]
async fn swapped_rows_are_named_at_the_first_of_them() {
    let (store, keys) = log_with(10, &[]).await;
    // Swap everything but the primary key, as an UPDATE of two rows would.
    store.tamper(|st| {
        let a = st.entry(4).clone();
        let b = st.entry(5).clone();
        *st.entry(4) = shonin_audit::SealedEntry { seq: 4, ..b };
        *st.entry(5) = shonin_audit::SealedEntry { seq: 5, ..a };
    });
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(4, VerifyFailure::PrevHashMismatch)
    );
}

#[tokio::test]
async fn swapped_contents_with_hashes_left_in_place_are_named() {
    let (store, keys) = log_with(10, &[]).await;
    store.tamper(|st| {
        let a = st.entry(4).record.clone();
        let b = st.entry(5).record.clone();
        st.entry(4).record = b;
        st.entry(5).record = a;
    });
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(4, VerifyFailure::HashMismatch)
    );
}

#[tokio::test]
async fn rewritten_chain_is_caught_by_the_signed_checkpoint() {
    // An attacker with database access edits entry 3 and re-seals everything after it, head
    // included: only the signed checkpoint still remembers the original chain.
    let (store, keys) = log_with(10, &[2, 6]).await;
    store.tamper(|st| {
        let mut prev = st.entry(2).hash;
        for seq in 3..=10 {
            let mut r = st.entry(seq).record.clone();
            if seq == 3 {
                r.target = "another-client".into();
            }
            let e = seal(seq, prev, r);
            prev = e.hash;
            *st.entry(seq) = e;
        }
        st.head = Some((10, prev));
    });
    let report = check(&store, &keys).await;
    assert_eq!(report.first_bad, bad(6, VerifyFailure::CheckpointMismatch));
    assert_eq!((report.entries, report.checkpoints), (5, 1));
}

#[tokio::test]
async fn checkpoint_with_a_forged_signature_is_named() {
    let (store, keys) = log_with(10, &[3, 7]).await;
    store.tamper(|st| {
        let cp = st.checkpoints.iter_mut().find(|c| c.seq == 7).unwrap();
        // Keep the header and signature, claim another hash.
        let mut parts: Vec<String> = cp.jws.split('.').map(str::to_owned).collect();
        let forged = serde_json::json!({"seq": 7, "hash": to_hex(&[9u8; 32]), "iat": 0});
        parts[1] = shonin_jose::b64url_encode(forged.to_string().as_bytes());
        cp.jws = parts.join(".");
        cp.hash = [9u8; 32];
    });
    let report = check(&store, &keys).await;
    assert!(
        matches!(
            &report.first_bad,
            Some(BadEntry {
                seq: 7,
                reason: VerifyFailure::CheckpointSignature(_)
            })
        ),
        "{report:?}"
    );
    assert_eq!(report.checkpoints, 1);
}

#[tokio::test]
async fn checkpoint_signed_by_a_key_outside_the_keyring_is_named() {
    let (store, keys) = log_with(5, &[]).await;
    let stranger = TestKeys::new();
    let hash = store.snapshot().entries[4].hash;
    let cp = signed_checkpoint(&stranger, 5, hash).await;
    store.tamper(|st| st.checkpoints.push(cp));
    assert!(matches!(
        check(&store, &keys).await.first_bad,
        Some(BadEntry {
            seq: 5,
            reason: VerifyFailure::CheckpointSignature(_)
        })
    ));
}

#[tokio::test]
async fn validly_signed_checkpoint_for_another_hash_is_named() {
    let (store, keys) = log_with(10, &[]).await;
    let wrong = store.snapshot().entries[3].hash; // entry 4's hash, claimed for seq 5
    let cp = signed_checkpoint(&keys, 5, wrong).await;
    store.tamper(|st| st.checkpoints.push(cp));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(5, VerifyFailure::CheckpointMismatch)
    );
}

#[tokio::test]
async fn checkpoint_row_that_differs_from_its_signed_claims_is_named() {
    let (store, keys) = log_with(10, &[5]).await;
    store.tamper(|st| st.checkpoints[0].seq = 6);
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(6, VerifyFailure::CheckpointClaims)
    );
}

#[tokio::test]
async fn a_bad_checkpoint_before_a_chain_break_is_named_first() {
    let (store, keys) = log_with(10, &[4]).await;
    store.tamper(|st| {
        st.checkpoints[0].jws.push('x');
        st.entry(8).record.action = "x".into();
    });
    assert!(matches!(
        check(&store, &keys).await.first_bad,
        Some(BadEntry {
            seq: 4,
            reason: VerifyFailure::CheckpointSignature(_)
        })
    ));
}

#[tokio::test]
async fn verification_spans_pages() {
    let (store, keys) = log_with(2500, &[1000, 1001, 2500]).await;
    let report = check(&store, &keys).await;
    assert_eq!(
        report,
        VerifyReport {
            entries: 2500,
            checkpoints: 3,
            first_bad: None
        }
    );
    store.tamper(|st| st.entry(2001).record.actor.id = "root".into());
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(2001, VerifyFailure::HashMismatch)
    );
    store.tamper(|st| st.remove(1001));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(1001, VerifyFailure::GapBefore { next: 1002 })
    );
}

#[tokio::test]
async fn bad_entry_reads_as_a_sentence() {
    let b = BadEntry {
        seq: 4,
        reason: VerifyFailure::GapBefore { next: 5 },
    };
    assert_eq!(
        b.to_string(),
        "audit entry 4: entry is missing (the next stored entry is 5)"
    );
}

/// A store with `n` entries and chained checkpoints at each seq in `at`; also returns them.
async fn chained_log(
    n: usize,
    at: &[u64],
) -> (
    std::sync::Arc<MemoryStore>,
    std::sync::Arc<TestKeys>,
    Vec<shonin_audit::Checkpoint>,
) {
    let store = MemoryStore::new();
    let keys = TestKeys::new();
    let entries = fill(&store, n).await;
    let mut prev = (0, GENESIS_HASH);
    let mut cps = Vec::new();
    for &seq in at {
        let hash = entries[seq as usize - 1].hash;
        let cp = chained_checkpoint(&keys, seq, hash, prev).await;
        store.tamper(|st| st.checkpoints.push(cp.clone()));
        prev = (seq, hash);
        cps.push(cp);
    }
    (store, keys, cps)
}

fn anchor_of(cp: &shonin_audit::Checkpoint, keys: &TestKeys) -> Anchor {
    Anchor::parse(
        &serde_json::to_string(cp).unwrap(),
        &keys.verification_jwks(),
    )
    .unwrap()
}

#[tokio::test]
async fn chained_checkpoints_verify_after_legacy_ones() {
    let (store, keys, _) = chained_log(12, &[6, 9, 12]).await;
    let report = check(&store, &keys).await;
    assert_eq!(
        (report.entries, report.checkpoints, report.first_bad),
        (12, 3, None)
    );
    // A checkpoint from before chaining may precede the chain; the first chained one follows
    // it.
    let (store, keys) = log_with(12, &[3]).await;
    let (mut hash3, mut hash6) = ([0; 32], [0; 32]);
    store.tamper(|st| (hash3, hash6) = (st.entry(3).hash, st.entry(6).hash));
    let cp6 = chained_checkpoint(&keys, 6, hash6, (3, hash3)).await;
    store.tamper(|st| st.checkpoints.push(cp6));
    let report = check(&store, &keys).await;
    assert_eq!((report.checkpoints, report.first_bad), (2, None));
}

#[tokio::test]
async fn a_checkpoint_deleted_from_the_middle_breaks_the_checkpoint_chain() {
    let (store, keys, _) = chained_log(12, &[4, 8, 12]).await;
    store.tamper(|st| st.checkpoints.retain(|c| c.seq != 8));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(
            12,
            VerifyFailure::CheckpointChainBroken {
                signed_prev: 8,
                stored_prev: 4
            }
        )
    );
}

#[tokio::test]
async fn an_unchained_checkpoint_after_chained_ones_is_named() {
    let (store, keys, _) = chained_log(12, &[4]).await;
    let mut hash = [0; 32];
    store.tamper(|st| hash = st.entry(8).hash);
    let legacy = signed_checkpoint(&keys, 8, hash).await;
    store.tamper(|st| st.checkpoints.push(legacy));
    assert_eq!(
        check(&store, &keys).await.first_bad,
        bad(8, VerifyFailure::UnchainedCheckpoint)
    );
}

/// The attack of the hardening issue: with the append-only triggers dropped, delete the
/// checkpoints after seq N, the entries after N, and move the head back to N.
fn truncate_to(st: &mut crate::support::State, n: u64) {
    st.checkpoints.retain(|c| c.seq <= n);
    st.entries.retain(|e| e.seq <= n);
    st.head = Some((n, st.entry(n).hash));
}

#[tokio::test]
async fn truncation_holds_without_an_anchor_and_is_named_with_one() {
    let (store, keys, cps) = chained_log(20, &[5, 10, 15, 20]).await;
    let anchor = anchor_of(&cps[3], &keys);
    store.tamper(|st| truncate_to(st, 10));
    // What the database alone says: a shorter log that holds.
    let alone = check(&store, &keys).await;
    assert_eq!((alone.entries, alone.first_bad), (10, None));
    // The anchor kept elsewhere says the log reached 20.
    let report = verify_anchored(store.as_ref(), &keys.verification_jwks(), Some(&anchor))
        .await
        .unwrap();
    assert_eq!(
        report.first_bad,
        bad(
            11,
            VerifyFailure::Truncated {
                anchor_seq: 20,
                last: 10
            }
        )
    );
}

#[tokio::test]
async fn an_anchor_is_checked_against_its_entry_and_its_checkpoint() {
    let (store, keys, cps) = chained_log(20, &[5, 10, 15, 20]).await;
    let at_15 = anchor_of(&cps[2], &keys);
    let jwks = keys.verification_jwks();
    let run = |anchor: Anchor| {
        let store = store.clone();
        let jwks = jwks.clone();
        async move {
            verify_anchored(store.as_ref(), &jwks, Some(&anchor))
                .await
                .unwrap()
                .first_bad
        }
    };
    assert_eq!(run(at_15.clone()).await, None);
    // Only the newest checkpoints deleted (entries kept): the anchored one is missing.
    store.tamper(|st| st.checkpoints.retain(|c| c.seq < 15));
    assert_eq!(
        run(at_15.clone()).await,
        bad(15, VerifyFailure::AnchoredCheckpointMissing)
    );
    // An anchor for another hash at that seq: the log there is not what was anchored.
    let other = Anchor {
        seq: 15,
        hash: [7; 32],
    };
    assert_eq!(run(other).await, bad(15, VerifyFailure::AnchorMismatch));
}

#[tokio::test]
async fn an_anchor_must_be_signed_by_the_keyring() {
    let (_, keys, cps) = chained_log(5, &[5]).await;
    let stranger = TestKeys::new();
    let json = serde_json::to_string(&cps[0]).unwrap();
    assert!(matches!(
        Anchor::parse(&json, &stranger.verification_jwks()),
        Err(AnchorError::Signature(_))
    ));
    // The bare JWS works as well as the JSON form.
    let bare = Anchor::parse(&cps[0].jws, &keys.verification_jwks()).unwrap();
    assert_eq!((bare.seq, bare.hash), (5, cps[0].hash));
    // JSON whose row fields disagree with the signed claims is refused.
    let mut edited = cps[0].clone();
    edited.seq = 4;
    assert!(matches!(
        Anchor::parse(
            &serde_json::to_string(&edited).unwrap(),
            &keys.verification_jwks()
        ),
        Err(AnchorError::Claims)
    ));
    assert!(matches!(
        Anchor::parse("not an anchor", &keys.verification_jwks()),
        Err(AnchorError::Signature(_) | AnchorError::Format)
    ));
}
