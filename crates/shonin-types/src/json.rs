//! JSON with unique member names. RFC 8259 §4 says names "SHOULD be unique" and leaves the
//! meaning of duplicates to each parser; serde_json keeps the last. Two parsers that pick
//! different duplicates read different documents from the same bytes, so everything Shonin
//! signs, shows or verifies (authorization details, JOSE headers and claims, JWK sets, client
//! metadata, WebAuthn responses) is parsed here and a duplicate name is refused.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
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
/// unescaping, so `"a"` and `"\u0061"` are the same name). Depth limits are the caller's: run
/// `shonin_jose::json_depth_exceeds` first on untrusted input.
pub fn from_slice(bytes: &[u8]) -> Result<Value, JsonError> {
    let classify = |e: serde_json::Error| {
        let text = e.to_string();
        match text.strip_prefix(DUPLICATE) {
            Some(rest) => {
                let name = rest.rsplit_once(" at line ").map_or(rest, |(n, _)| n);
                JsonError::DuplicateName(name.chars().take(64).collect())
            }
            None => JsonError::Syntax(text),
        }
    };
    serde_json::from_slice::<UniqueNames>(bytes).map_err(classify)?;
    serde_json::from_slice(bytes).map_err(classify)
}

/// [`from_slice`] for text.
pub fn from_str(text: &str) -> Result<Value, JsonError> {
    from_slice(text.as_bytes())
}

/// Walks a document and fails on the first repeated member name; builds nothing.
struct UniqueNames;

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

    fn visit_bool<E>(self, _: bool) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_unit<E>(self) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueNames, A::Error> {
        while seq.next_element::<UniqueNames>()?.is_some() {}
        Ok(UniqueNames)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueNames, A::Error> {
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if seen.contains(&name) {
                return Err(de::Error::custom(format!("{DUPLICATE}{name}")));
            }
            seen.insert(name);
            map.next_value::<UniqueNames>()?;
        }
        Ok(UniqueNames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unique_names_parse_like_serde_json() {
        let text = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"10.00"}},1,2.5,-3,null,true,"s",[]]"#;
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
