//! A canonical JSON form of authorization details, hashed so the user can later sign exactly the
//! details the consent page showed (dynamic linking, PSD2 RTS Art. 5).
//!
//! The form follows RFC 8785 (JSON Canonicalization Scheme) for everything the shipped schemas
//! can produce, and is deterministic for everything else:
//! - no whitespace; object members sorted by their names' UTF-16 code units (RFC 8785 §3.2.3);
//! - strings escaped as RFC 8785 §3.2.2.2: `\"`, `\\`, `\b \t \n \f \r`, other U+0000–U+001F
//!   as `\u00xx` (lower-case hex), every other character literally, in UTF-8;
//! - non-integer numbers as ECMAScript `Number.prototype.toString` (shortest round-trip digits,
//!   positional between 1e-6 and 1e21, otherwise `d.ddde±x`), `-0` as `0` (RFC 8785 §3.2.2.3).
//!
//! The subset: integers that serde_json holds as `i64`/`u64` are written exactly. RFC 8785 would
//! first round integers beyond ±2^53 through an IEEE double; we do not, so such values (which no
//! shipped schema allows — amounts are decimal strings) hash differently from a strict JCS
//! implementation. The hash is computed and checked by Shonin alone, so it only needs to be
//! deterministic, which it is.

use serde_json::{Map, Value};
use std::borrow::Borrow;
use std::fmt::Write as _;

/// The canonical JSON text of the array `details`.
pub fn canonical_json<V: Borrow<Value>>(details: &[V]) -> String {
    let mut out = String::new();
    out.push('[');
    for (i, d) in details.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(&mut out, d.borrow());
    }
    out.push(']');
    out
}

/// SHA-256 of [`canonical_json`]`(details)`: what a passkey will sign to bind the user's approval
/// to these exact details.
pub fn canonical_sha256<V: Borrow<Value>>(details: &[V]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical_json(details).as_bytes(),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    // RFC 8785 §3.2.3: sort by UTF-16 code units, not by UTF-8 bytes or code points.
    members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push('{');
    for (i, (name, member)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_value(out, member);
    }
    out.push('}');
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    }
}

/// ECMAScript `Number.prototype.toString` for a finite double (JSON has no NaN or infinity).
fn write_f64(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    let magnitude = f.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's Display prints the shortest round-trip digits positionally, as ECMAScript does
        // in this range ("1", "0.1", "123.45", "0.000001").
        let _ = write!(out, "{f}");
    } else {
        // Rust prints "1e21" / "1.5e-7"; ECMAScript prints "1e+21" / "1.5e-7".
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_and_whitespace_removed() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(
            canonical_json(&[v]),
            r#"[{"a":{"c":"x","d":[true,null]},"b":1}]"#
        );
    }

    #[test]
    fn member_order_and_formatting_do_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"type":"t","x":1,"y":"z"}"#).unwrap();
        let b: Value =
            serde_json::from_str("{ \"y\" : \"z\",\n \"x\":1, \"type\":\"t\" }").unwrap();
        assert_eq!(
            canonical_sha256(std::slice::from_ref(&a)),
            canonical_sha256(&[b])
        );
        let c = json!({"type": "t", "x": 2, "y": "z"});
        assert_ne!(canonical_sha256(&[a]), canonical_sha256(&[c]));
    }

    #[test]
    fn array_order_matters() {
        let (a, b) = (json!({"type": "a"}), json!({"type": "b"}));
        assert_ne!(
            canonical_sha256(&[a.clone(), b.clone()]),
            canonical_sha256(&[b, a])
        );
    }

    #[test]
    fn rfc8785_sorting_uses_utf16_code_units() {
        // U+FB33 sorts before U+1D11E by UTF-8 bytes and by code point, but after it by UTF-16
        // code units (0xFB33 > 0xD834): the case RFC 8785 §3.2.3 warns about.
        let v = json!({"\u{fb33}": 1, "\u{1d11e}": 2, "\u{20ac}": 3, "\r": 4, "1": 5});
        assert_eq!(
            canonical_json(&[v]),
            "[{\"\\r\":4,\"1\":5,\"\u{20ac}\":3,\"\u{1d11e}\":2,\"\u{fb33}\":1}]"
        );
    }

    #[test]
    fn strings_are_escaped_as_rfc8785() {
        let v = json!("\u{0}\u{8}\t\n\u{c}\r\u{1f}\"\\/\u{7f}\u{e9}\u{2028}");
        assert_eq!(
            canonical_json(&[v]),
            "[\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\/\u{7f}\u{e9}\u{2028}\"]"
        );
    }

    #[test]
    fn numbers_follow_ecmascript_formatting() {
        let v: Value =
            serde_json::from_str("[0, -0.0, 1.0, 1.5, 123.45, 1e21, 1e-7, 0.000001, -42, 1e300]")
                .unwrap();
        assert_eq!(
            canonical_json(v.as_array().unwrap()),
            "[0,0,1,1.5,123.45,1e+21,1e-7,0.000001,-42,1e+300]"
        );
    }
}
