//! JSON with unique member names. RFC 8259 §4 says names "SHOULD be unique" and leaves the
//! meaning of duplicates to each parser; serde_json keeps the last. Two parsers that pick
//! different duplicates read different documents from the same bytes, so everything Shonin
//! signs, shows or verifies (authorization details, JOSE headers and claims, JWK sets, client
//! metadata, WebAuthn responses) is parsed here and a duplicate name is refused.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Why [`from_slice`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// An object names a member twice; the name, cut to 64 characters.
    #[error("duplicate member name {0:?}")]
    DuplicateName(String),
    /// Not JSON (the parser's reason).
    #[error("not JSON: {0}")]
    Syntax(String),
}

const DUPLICATE: &str = "\u{0}duplicate:";

/// Parses `bytes` as JSON, refusing any object with a repeated member name (compared after
/// unescaping, so `"a"` and `"\u0061"` are the same name). One pass: the value is built as the
/// names are checked. Depth limits are the caller's: run `shonin_jose::json_depth_exceeds` first
/// on untrusted input.
pub fn from_slice(bytes: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice::<UniqueNames>(bytes)
        .map(|v| v.0)
        .map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix(DUPLICATE) {
                Some(rest) => {
                    let name = rest.rsplit_once(" at line ").map_or(rest, |(n, _)| n);
                    JsonError::DuplicateName(name.chars().take(64).collect())
                }
                None => JsonError::Syntax(text),
            }
        })
}

/// [`from_slice`] for text.
pub fn from_str(text: &str) -> Result<Value, JsonError> {
    from_slice(text.as_bytes())
}

/// A value whose objects have unique member names. Built like `serde_json::Value`'s own
/// visitor (the tests compare the two), with the duplicate check in `visit_map`.
struct UniqueNames(Value);

impl<'de> Deserialize<'de> for UniqueNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueNamesVisitor)
    }
}

struct UniqueNamesVisitor;

impl<'de> Visitor<'de> for UniqueNamesVisitor {
    type Value = UniqueNames;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<UniqueNames, E> {
        // JSON has no NaN or infinity; serde_json's own visitor maps them to null the same way.
        Ok(UniqueNames(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<UniqueNames, E> {
        Ok(UniqueNames(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueNames, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(UniqueNames(v)) = seq.next_element::<UniqueNames>()? {
            items.push(v);
        }
        Ok(UniqueNames(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueNames, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format!("{DUPLICATE}{name}")));
            }
            let UniqueNames(value) = map.next_value::<UniqueNames>()?;
            members.insert(name, value);
        }
        Ok(UniqueNames(Value::Object(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unique_names_parse_like_serde_json() {
        let text = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"10.00"}},1,2.5,-3,null,true,"s",[],{},1e300,-0.0,18446744073709551615,-9223372036854775808,0.1,"\u00e9\ud83d\ude00"]"#;
        assert_eq!(
            from_str(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        // The same name in different objects is not a duplicate.
        assert_eq!(
            from_str(r#"{"a":{"a":1},"b":{"a":2}}"#).unwrap(),
            json!({"a":{"a":1},"b":{"a":2}})
        );
    }

    #[test]
    fn a_repeated_name_is_refused_at_any_depth_and_after_unescaping() {
        for text in [
            r#"{"amount":"1.00","amount":"1000000.00"}"#,
            r#"[{"x":[{"k":1,"k":2}]}]"#,
            r#"{"a":1,"\u0061":2}"#,
        ] {
            assert!(
                matches!(from_str(text), Err(JsonError::DuplicateName(_))),
                "{text}"
            );
        }
        assert_eq!(
            from_str(r#"{"amount":"1","amount":"2"}"#),
            Err(JsonError::DuplicateName("amount".into()))
        );
    }

    #[test]
    fn malformed_json_is_a_syntax_error() {
        assert!(matches!(from_str("{"), Err(JsonError::Syntax(_))));
        assert!(matches!(from_str(""), Err(JsonError::Syntax(_))));
    }
}
