//! The hash chain: canonical encoding and sealing.
//!
//! `hash(n) = SHA-256("shonin-audit-v1" ‖ prev_hash ‖ canonical(entry n))`, where `canonical` is
//! the sequence number as 8 big-endian bytes followed by each field as a 4-byte big-endian length
//! and its UTF-8 bytes, in a fixed order. Absent optional fields are encoded as length
//! `0xFFFF_FFFF` so that "absent" and "empty" differ. The first entry's `prev_hash` is
//! [`GENESIS_HASH`].

use crate::record::{AuditRecord, SealedEntry};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: Hash = [0u8; 32];

const DOMAIN: &[u8] = b"shonin-audit-v1";
const ABSENT: u32 = u32::MAX;

/// Truncates a time to whole microseconds in UTC, the precision both engines store exactly.
pub fn normalize_time(t: OffsetDateTime) -> OffsetDateTime {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let micros = utc.microsecond();
    utc.replace_nanosecond(micros * 1_000).unwrap_or(utc)
}

/// The fixed text form of an entry time: RFC 3339, UTC, six fractional digits.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = normalize_time(t);
    let base = t
        .replace_nanosecond(0)
        .ok()
        .and_then(|s| s.format(&Rfc3339).ok())
        .unwrap_or_default();
    // `base` ends in "Z"; insert the fixed six-digit fraction before it.
    let stem = base.strip_suffix('Z').unwrap_or(&base);
    format!("{stem}.{:06}Z", t.microsecond())
}

/// Parses the text form written by [`format_time`].
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(normalize_time)
}

fn put(buf: &mut Vec<u8>, field: Option<&str>) {
    match field {
        Some(s) => {
            let len = u32::try_from(s.len()).unwrap_or(ABSENT - 1);
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        None => buf.extend_from_slice(&ABSENT.to_be_bytes()),
    }
}

/// The canonical bytes of entry `seq` (without `prev_hash`).
pub fn canonical_bytes(seq: u64, r: &AuditRecord) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&seq.to_be_bytes());
    put(&mut buf, Some(&format_time(r.time)));
    put(&mut buf, Some(r.actor.kind.as_str()));
    put(&mut buf, Some(&r.actor.id));
    put(&mut buf, Some(&r.action));
    put(&mut buf, Some(&r.target));
    put(&mut buf, Some(r.outcome.as_str()));
    put(&mut buf, r.reason.as_deref());
    put(&mut buf, r.source_ip.map(|ip| ip.to_string()).as_deref());
    put(&mut buf, r.request_id.as_deref());
    buf
}

/// The hash of entry `seq` given its predecessor's hash.
pub fn entry_hash(seq: u64, prev_hash: &Hash, r: &AuditRecord) -> Hash {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(prev_hash);
    ctx.update(&canonical_bytes(seq, r));
    let digest = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Places `record` in the chain as entry `seq` after an entry whose hash is `prev_hash`.
pub fn seal(seq: u64, prev_hash: Hash, mut record: AuditRecord) -> SealedEntry {
    record.time = normalize_time(record.time);
    let hash = entry_hash(seq, &prev_hash, &record);
    SealedEntry {
        seq,
        record,
        prev_hash,
        hash,
    }
}

/// Lower-case hex of a hash.
pub fn to_hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn from_hex(s: &str) -> Option<Hash> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = s.get(i * 2..i * 2 + 2)?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Serde helper: hashes as hex strings.
pub mod hex_hash {
    use super::{Hash, from_hex, to_hex};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Actor, Outcome};
    use time::macros::datetime;

    fn record() -> AuditRecord {
        AuditRecord {
            time: datetime!(2026-11-22 01:02:03.123456789 UTC),
            actor: Actor::system(),
            action: "keys.rotate".into(),
            target: "kid-1".into(),
            outcome: Outcome::Success,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[test]
    fn time_is_fixed_width_microseconds() {
        assert_eq!(format_time(record().time), "2026-11-22T01:02:03.123456Z");
        assert_eq!(
            format_time(datetime!(2026-01-01 00:00:00 UTC)),
            "2026-01-01T00:00:00.000000Z"
        );
        let t = parse_time("2026-11-22T01:02:03.123456Z").unwrap();
        assert_eq!(format_time(t), "2026-11-22T01:02:03.123456Z");
    }

    #[test]
    fn absent_and_empty_reason_hash_differently() {
        let a = record();
        let mut b = record();
        b.reason = Some(String::new());
        assert_ne!(
            entry_hash(1, &GENESIS_HASH, &a),
            entry_hash(1, &GENESIS_HASH, &b)
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = entry_hash(7, &GENESIS_HASH, &record());
        let mut changed = Vec::new();
        let mut r = record();
        r.action.push('x');
        changed.push(r);
        let mut r = record();
        r.target.push('x');
        changed.push(r);
        let mut r = record();
        r.outcome = Outcome::Failure;
        changed.push(r);
        let mut r = record();
        r.actor.id.push('x');
        changed.push(r);
        let mut r = record();
        r.source_ip = Some("127.0.0.1".parse().unwrap());
        changed.push(r);
        let mut r = record();
        r.request_id = Some("x".into());
        changed.push(r);
        let mut r = record();
        r.time += time::Duration::microseconds(1);
        changed.push(r);
        for r in changed {
            assert_ne!(entry_hash(7, &GENESIS_HASH, &r), base, "{r:?}");
        }
        assert_ne!(entry_hash(8, &GENESIS_HASH, &record()), base);
        assert_ne!(entry_hash(7, &[1u8; 32], &record()), base);
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let mut a = record();
        a.action = "ab".into();
        a.target = "c".into();
        let mut b = record();
        b.action = "a".into();
        b.target = "bc".into();
        assert_ne!(
            entry_hash(1, &GENESIS_HASH, &a),
            entry_hash(1, &GENESIS_HASH, &b)
        );
    }

    #[test]
    fn hex_round_trips() {
        let h = entry_hash(1, &GENESIS_HASH, &record());
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex("zz"), None);
    }
}
