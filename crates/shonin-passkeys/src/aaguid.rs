//! The authenticator model (AAGUID) of a new credential, and the operator's names for models.

use crate::error::PasskeyError;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Nesting deeper than this in an attestation object is refused (a `none` or `packed`
/// attestation nests three levels).
const MAX_DEPTH: usize = 8;

/// Offset of the AAGUID in authenticator data: rpIdHash (32) ‖ flags (1) ‖ signCount (4)
/// (WebAuthn L3 §6.1, §6.5.1).
const AAGUID_AT: usize = 37;
const FLAG_AT: u8 = 0x40;

/// The AAGUID in an attestation object (CBOR map with `fmt`, `attStmt`, `authData`).
pub fn aaguid_of_attestation(attestation_object: &[u8]) -> Result<Uuid, PasskeyError> {
    let bad = |why: &str| PasskeyError::Malformed(format!("attestation object: {why}"));
    let mut r = Reader::new(attestation_object);
    let (major, len) = r.head()?;
    if major != 5 {
        return Err(bad("not a CBOR map"));
    }
    let mut auth_data = None;
    for _ in 0..len {
        let key = r.text()?;
        if key == b"authData" {
            auth_data = Some(r.bytes()?);
        } else {
            r.skip(0)?;
        }
    }
    let auth_data = auth_data.ok_or_else(|| bad("authData is missing"))?;
    let flags = *auth_data
        .get(32)
        .ok_or_else(|| bad("authData is too short"))?;
    if flags & FLAG_AT == 0 {
        return Err(bad("authData has no attested credential data"));
    }
    let raw: [u8; 16] = auth_data
        .get(AAGUID_AT..AAGUID_AT + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("authData is too short"))?;
    Ok(Uuid::from_bytes(raw))
}

/// A minimal reader of definite-length CBOR (RFC 8949), enough to find `authData` (and to check
/// the authenticator extension outputs of an assertion, see `assertion`).
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// How many bytes have been read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    fn bad(why: &str) -> PasskeyError {
        PasskeyError::Malformed(format!("attestation object: {why}"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PasskeyError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| Self::bad("length overflows"))?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| Self::bad("truncated"))?;
        self.at = end;
        Ok(s)
    }

    /// Major type and argument of the next item.
    pub(crate) fn head(&mut self) -> Result<(u8, u64), PasskeyError> {
        let first = *self
            .take(1)?
            .first()
            .ok_or_else(|| Self::bad("truncated"))?;
        let major = first >> 5;
        let info = first & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                self.take(n)?
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            }
            _ => return Err(Self::bad("indefinite lengths are not allowed")),
        };
        Ok((major, arg))
    }

    fn len(arg: u64) -> Result<usize, PasskeyError> {
        usize::try_from(arg).map_err(|_| Self::bad("length too large"))
    }

    fn text(&mut self) -> Result<&'a [u8], PasskeyError> {
        match self.head()? {
            (3, n) => self.take(Self::len(n)?),
            _ => Err(Self::bad("a map key is not a text string")),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], PasskeyError> {
        match self.head()? {
            (2, n) => self.take(Self::len(n)?),
            _ => Err(Self::bad("authData is not a byte string")),
        }
    }

    pub(crate) fn skip(&mut self, depth: usize) -> Result<(), PasskeyError> {
        if depth > MAX_DEPTH {
            return Err(Self::bad("nested too deeply"));
        }
        let (major, arg) = self.head()?;
        match major {
            0 | 1 | 7 => Ok(()),
            2 | 3 => self.take(Self::len(arg)?).map(|_| ()),
            4 => (0..arg).try_for_each(|_| self.skip(depth + 1)),
            5 => (0..arg).try_for_each(|_| {
                self.skip(depth + 1)?;
                self.skip(depth + 1)
            }),
            6 => self.skip(depth + 1),
            _ => Err(Self::bad("unknown major type")),
        }
    }
}

/// Names of authenticator models by AAGUID, from an operator-provided file.
///
/// Two shapes are read: the community list (`{"<aaguid>": {"name": "…"}, …}`, as published by
/// the passkey-authenticator-aaguids project) and a decoded FIDO MDS3 payload
/// (`{"entries": [{"aaguid": "…", "metadataStatement": {"description": "…"}}]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AaguidNames(BTreeMap<Uuid, String>);

impl AaguidNames {
    /// The longest name kept; longer ones are cut.
    const MAX_NAME_CHARS: usize = 100;

    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let mut names = BTreeMap::new();
        let mut put = |aaguid: &str, name: &str| {
            if let Ok(id) = Uuid::parse_str(aaguid) {
                let clean: String = name
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_NAME_CHARS)
                    .collect();
                if !clean.trim().is_empty() {
                    names.insert(id, clean.trim().to_owned());
                }
            }
        };
        if let Some(entries) = value.get("entries").and_then(|e| e.as_array()) {
            for e in entries {
                let aaguid = e.get("aaguid").and_then(|v| v.as_str());
                let name = e
                    .get("metadataStatement")
                    .and_then(|m| m.get("description"))
                    .and_then(|v| v.as_str());
                if let (Some(a), Some(n)) = (aaguid, name) {
                    put(a, n);
                }
            }
        } else if let Some(map) = value.as_object() {
            for (aaguid, v) in map {
                let name = v.get("name").and_then(|n| n.as_str()).or(v.as_str());
                if let Some(n) = name {
                    put(aaguid, n);
                }
            }
        } else {
            return Err("expected an object of AAGUIDs or an MDS3 payload with entries".into());
        }
        Ok(Self(names))
    }

    pub fn name(&self, aaguid: &Uuid) -> Option<&str> {
        self.0.get(aaguid).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_both_shapes() {
        let community =
            br#"{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "Google Password Manager"}}"#;
        let n = AaguidNames::parse(community).unwrap();
        let id = Uuid::parse_str("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4").unwrap();
        assert_eq!(n.name(&id), Some("Google Password Manager"));
        let mds = br#"{"entries": [{"aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "metadataStatement": {"description": "GPM\u0007"}}]}"#;
        assert_eq!(AaguidNames::parse(mds).unwrap().name(&id), Some("GPM"));
        assert!(AaguidNames::parse(b"[1]").is_err());
    }

    #[test]
    fn attestation_object_edge_cases() {
        // Not a map, truncated, indefinite length, deep nesting: all Malformed, never a panic.
        for bad in [
            &[0x01u8][..],
            &[0xa1, 0x63],
            &[0xbf],
            &[
                0xa1, 0x61, b'x', 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x00,
            ],
        ] {
            assert!(matches!(
                aaguid_of_attestation(bad),
                Err(PasskeyError::Malformed(_))
            ));
        }
    }
}
