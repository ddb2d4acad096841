//! Properties: any sequence of records seals into a chain that verifies, and changing one byte
//! of any text field of any entry is named at that entry.

use crate::support::{MemoryStore, T0};
use proptest::prelude::*;
use proptest::sample::Index;
use shonin_audit::{Actor, ActorKind, AuditRecord, Outcome, VerifyFailure, verify};
use std::net::IpAddr;

fn text(min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x20u8..0x7f, min..24).prop_map(|b| String::from_utf8(b).unwrap())
}

fn record() -> impl Strategy<Value = AuditRecord> {
    let kind = prop_oneof![
        Just(ActorKind::User),
        Just(ActorKind::Client),
        Just(ActorKind::Admin),
        Just(ActorKind::System)
    ];
    (
        0i64..10_000_000_000,
        kind,
        text(1),
        text(1),
        text(1),
        any::<bool>(),
        proptest::option::of(text(0)),
        proptest::option::of(any::<IpAddr>()),
        proptest::option::of(text(0)),
    )
        .prop_map(
            |(micros, kind, id, action, target, ok, reason, source_ip, request_id)| AuditRecord {
                time: T0 + time::Duration::microseconds(micros),
                actor: Actor { kind, id },
                action,
                target,
                outcome: if ok {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                reason,
                source_ip,
                request_id,
            },
        )
}

/// The text fields of a record that hold at least one byte.
fn text_fields(r: &mut AuditRecord) -> Vec<&mut String> {
    let mut fields = vec![&mut r.actor.id, &mut r.action, &mut r.target];
    fields.extend(r.reason.as_mut());
    fields.extend(r.request_id.as_mut());
    fields.retain(|f| !f.is_empty());
    fields
}

fn run<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(fut)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_sealed_sequence_verifies(records in proptest::collection::vec(record(), 0..40)) {
        let n = records.len() as u64;
        let report = run(async {
            let store = MemoryStore::new();
            // Several batches, as the writer would produce.
            for chunk in records.chunks(7) {
                shonin_audit::AuditStore::append(store.as_ref(), chunk.to_vec()).await.unwrap();
            }
            verify(store.as_ref(), &serde_json::json!({"keys": []})).await.unwrap()
        });
        prop_assert_eq!(report.first_bad, None);
        prop_assert_eq!(report.entries, n);
    }

    #[test]
    fn changing_one_byte_of_any_text_field_is_detected(
        records in proptest::collection::vec(record(), 1..30),
        which_entry in any::<Index>(),
        which_field in any::<Index>(),
        which_byte in any::<Index>(),
    ) {
        let target = which_entry.index(records.len());
        let report = run(async {
            let store = MemoryStore::new();
            shonin_audit::AuditStore::append(store.as_ref(), records).await.unwrap();
            store.tamper(|st| {
                let mut fields = text_fields(&mut st.entries[target].record);
                let field = which_field.get_mut(&mut fields);
                let i = which_byte.index(field.len());
                let mut bytes = std::mem::take(*field).into_bytes();
                // Another printable ASCII byte, so the field stays valid UTF-8.
                bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
                **field = String::from_utf8(bytes).unwrap();
            });
            verify(store.as_ref(), &serde_json::json!({"keys": []})).await.unwrap()
        });
        let bad = report.first_bad.unwrap();
        prop_assert_eq!(bad.seq, target as u64 + 1);
        prop_assert_eq!(bad.reason, VerifyFailure::HashMismatch);
    }
}
