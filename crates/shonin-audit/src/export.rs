//! Export for a SIEM: one JSON object per line, in chain order.

use crate::{AuditError, AuditStore, SealedEntry};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// Entries read per store call.
const PAGE: u32 = 1000;

/// The members of an exported entry ([`SealedEntry`]'s serde form); an annotation may not reuse
/// them.
pub const ENTRY_MEMBERS: &[&str] = &[
    "seq",
    "time",
    "actor",
    "action",
    "target",
    "outcome",
    "reason",
    "source_ip",
    "request_id",
    "prev_hash",
    "hash",
];

/// Extra members for some exported lines, keyed by the entry's `seq`.
pub type Annotations = BTreeMap<u64, Map<String, Value>>;

/// Adds members to the lines of some entries, beside the entry's own members. They are not
/// part of the hashed entry, so the chain does not vouch for them: an annotation is worth
/// something only when the entry commits to it (a digest in its `reason`, say) and the reader
/// checks it against that.
#[async_trait]
pub trait Annotate: Send + Sync {
    /// The members to add for entries of `page` (one page of the export, in chain order).
    async fn annotate(&self, page: &[SealedEntry]) -> Result<Annotations, AuditError>;
}

/// No annotations: the plain export.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

#[async_trait]
impl Annotate for Plain {
    async fn annotate(&self, _page: &[SealedEntry]) -> Result<Annotations, AuditError> {
        Ok(Annotations::new())
    }
}

/// One exported line: the entry's members, then the annotation's.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    entry: &'a SealedEntry,
    #[serde(flatten)]
    extra: Option<&'a Map<String, Value>>,
}

/// Writes every entry with `seq >= from_seq` to `out` as JSON Lines (the [`crate::SealedEntry`]
/// serde form: `seq`, `time` (RFC 3339), `actor {kind, id}`, `action`, `target`, `outcome`,
/// `reason`, `source_ip`, `request_id`, `prev_hash`, `hash`) and returns how many were written.
///
/// The entries are exported as stored; run [`crate::verify`] to know whether they hold. `out`
/// is written synchronously: hand in a buffered writer, and a file or pipe rather than a socket
/// when called on a busy runtime.
pub async fn export(
    store: &dyn AuditStore,
    from_seq: u64,
    out: &mut (impl Write + Send),
) -> Result<u64, AuditError> {
    export_annotated(store, from_seq, out, &Plain).await
}

/// [`export`], with the members `annotate` gives for an entry added to its line. A member
/// named like one of the entry's ([`ENTRY_MEMBERS`]) is refused, so an annotation can never
/// pass for part of the entry.
pub async fn export_annotated(
    store: &dyn AuditStore,
    from_seq: u64,
    out: &mut (impl Write + Send),
    annotate: &dyn Annotate,
) -> Result<u64, AuditError> {
    let mut from = from_seq;
    let mut written = 0u64;
    loop {
        let page = store.entries(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        if last.seq < from {
            return Err(AuditError::StoreContract(
                "entries returned a seq below the one asked for",
            ));
        }
        let notes = annotate.annotate(&page).await?;
        for entry in &page {
            let extra = notes.get(&entry.seq);
            if let Some(name) = extra
                .into_iter()
                .flat_map(Map::keys)
                .find(|k| ENTRY_MEMBERS.contains(&k.as_str()))
            {
                return Err(AuditError::Annotation(format!(
                    "member `{name}` of entry {} is one of the entry's own",
                    entry.seq
                )));
            }
            serde_json::to_writer(&mut *out, &Line { entry, extra })?;
            out.write_all(b"\n")?;
            written += 1;
        }
        match last.seq.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, AuditRecord, Outcome};
    use time::OffsetDateTime;

    fn entry(seq: u64) -> SealedEntry {
        SealedEntry {
            seq,
            record: AuditRecord {
                time: OffsetDateTime::UNIX_EPOCH,
                actor: Actor::system(),
                action: "test.act".into(),
                target: "-".into(),
                outcome: Outcome::Success,
                reason: None,
                source_ip: None,
                request_id: None,
            },
            prev_hash: crate::GENESIS_HASH,
            hash: crate::GENESIS_HASH,
        }
    }

    #[test]
    fn the_reserved_names_are_exactly_the_entrys_members() {
        let Value::Object(members) = serde_json::to_value(entry(1)).unwrap() else {
            panic!("an entry is an object");
        };
        let mut names: Vec<&str> = members.keys().map(String::as_str).collect();
        let mut reserved = ENTRY_MEMBERS.to_vec();
        names.sort_unstable();
        reserved.sort_unstable();
        assert_eq!(names, reserved);
    }

    #[test]
    fn a_line_is_the_entry_then_its_annotation() {
        let e = entry(7);
        let plain = serde_json::to_string(&Line {
            entry: &e,
            extra: None,
        })
        .unwrap();
        assert_eq!(plain, serde_json::to_string(&e).unwrap());
        let mut extra = Map::new();
        extra.insert("receipt".into(), Value::String("a.b.c".into()));
        let annotated = serde_json::to_string(&Line {
            entry: &e,
            extra: Some(&extra),
        })
        .unwrap();
        assert_eq!(
            annotated,
            format!("{},\"receipt\":\"a.b.c\"}}", plain.trim_end_matches('}'))
        );
    }
}
