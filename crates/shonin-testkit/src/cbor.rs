//! Just enough CBOR (RFC 8949) to write an attestation object and a COSE key: unsigned and
//! negative integers, byte strings, text strings and maps (major types 0, 1, 2, 3 and 5), always
//! with the shortest length header (RFC 8949 §4.2.1, which CTAP2 canonical encoding requires).
//!
//! It only writes. Map entries are emitted in the order given; callers list them in CTAP2
//! canonical order themselves.

/// A CBOR data item that borrows its strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Major type 0 when non-negative, 1 when negative.
    Int(i64),
    /// Major type 2.
    Bytes(&'a [u8]),
    /// Major type 3.
    Text(&'a str),
    /// Major type 5, entries in the order they are written.
    Map(Vec<(Value<'a>, Value<'a>)>),
}

const UNSIGNED: u8 = 0;
const NEGATIVE: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const MAP: u8 = 5;

impl Value<'_> {
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) if *n >= 0 => header(out, UNSIGNED, n.unsigned_abs()),
            // RFC 8949 §3.1: major type 1 carries -1 - n; |n| >= 1 here, so this cannot wrap.
            Value::Int(n) => header(out, NEGATIVE, n.unsigned_abs() - 1),
            Value::Bytes(bytes) => {
                header(out, BYTES, bytes.len() as u64);
                out.extend_from_slice(bytes);
            }
            Value::Text(text) => {
                header(out, TEXT, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
            Value::Map(entries) => {
                header(out, MAP, entries.len() as u64);
                for (key, value) in entries {
                    key.encode(out);
                    value.encode(out);
                }
            }
        }
    }
}

/// RFC 8949 §3: the initial byte holds the major type in its top three bits and either the
/// argument itself (< 24) or 24..=27 for a 1, 2, 4 or 8 byte big-endian argument that follows.
fn header(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    match u8::try_from(argument) {
        Ok(small) if small < 24 => out.push(major | small),
        Ok(byte) => out.extend_from_slice(&[major | 24, byte]),
        Err(_) => {
            if let Ok(short) = u16::try_from(argument) {
                out.push(major | 25);
                out.extend_from_slice(&short.to_be_bytes());
            } else if let Ok(word) = u32::try_from(argument) {
                out.push(major | 26);
                out.extend_from_slice(&word.to_be_bytes());
            } else {
                out.push(major | 27);
                out.extend_from_slice(&argument.to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Value;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // RFC 8949 Appendix A, "Examples of Encoded CBOR Data Items".
    #[test]
    fn integers_match_rfc_8949_appendix_a() {
        let vectors: &[(i64, &str)] = &[
            (0, "00"),
            (1, "01"),
            (10, "0a"),
            (23, "17"),
            (24, "1818"),
            (25, "1819"),
            (100, "1864"),
            (1000, "1903e8"),
            (1_000_000, "1a000f4240"),
            (1_000_000_000_000, "1b000000e8d4a51000"),
            (-1, "20"),
            (-10, "29"),
            (-100, "3863"),
            (-1000, "3903e7"),
            (i64::MIN, "3b7fffffffffffffff"),
        ];
        for (n, expected) in vectors {
            assert_eq!(hex(&Value::Int(*n).to_vec()), *expected, "{n}");
        }
    }

    #[test]
    fn strings_and_maps_match_rfc_8949_appendix_a() {
        assert_eq!(hex(&Value::Bytes(&[]).to_vec()), "40");
        assert_eq!(hex(&Value::Bytes(&[1, 2, 3, 4]).to_vec()), "4401020304");
        assert_eq!(hex(&Value::Text("").to_vec()), "60");
        assert_eq!(hex(&Value::Text("a").to_vec()), "6161");
        assert_eq!(hex(&Value::Text("IETF").to_vec()), "6449455446");
        assert_eq!(hex(&Value::Text("\u{00fc}").to_vec()), "62c3bc");
        assert_eq!(hex(&Value::Map(vec![]).to_vec()), "a0");
        let map = Value::Map(vec![
            (Value::Int(1), Value::Int(2)),
            (Value::Int(3), Value::Int(4)),
        ]);
        assert_eq!(hex(&map.to_vec()), "a201020304");
    }

    #[test]
    fn long_byte_strings_get_two_and_four_byte_length_headers() {
        let kib = vec![0u8; 300];
        let encoded = Value::Bytes(&kib).to_vec();
        assert_eq!(encoded.get(..3), Some(&[0x59, 0x01, 0x2c][..]));
        assert_eq!(encoded.len(), 303);

        let big = vec![0u8; 70_000];
        let encoded = Value::Bytes(&big).to_vec();
        assert_eq!(encoded.get(..5), Some(&[0x5a, 0x00, 0x01, 0x11, 0x70][..]));
    }
}
