//! Reading a message's JSON strictly: a size and depth bound, and a duplicate element is an error
//! (Erro 204) instead of serde_json's "the last one wins".

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::{ErrorCode, Rejection};

/// The largest message accepted, in bytes. An AReq's `sdkEncData` may hold 64,000 characters and
/// its message extensions 81,920 bytes; this leaves room for both and the rest of the message.
pub const MAX_MESSAGE_BYTES: usize = 192 * 1024;

/// The deepest nesting of objects and arrays accepted. The deepest element the specification
/// defines (`messageExtension[].data` of an extension) sits at depth 3; extensions get room.
pub const MAX_DEPTH: usize = 16;

/// Parses a message body into its top-level object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Rejection> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Rejection::new(
            ErrorCode::MessageReceivedInvalid,
            format!("the message is larger than {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let fault = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node {
        depth: 0,
        at: &Segment::Root,
        fault: &fault,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    if let Some(rejection) = fault.into_inner() {
        return Err(rejection);
    }
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Rejection::new(
            ErrorCode::MessageReceivedInvalid,
            "the message is not a JSON object",
        )),
        Err(e) => Err(Rejection::new(
            ErrorCode::MessageReceivedInvalid,
            format!(
                "the message is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// Where a value sits in the message, as a chain of borrowed steps: written out only when an
/// error names it, so reading a valid message allocates no paths.
enum Segment<'a> {
    Root,
    Member(&'a Segment<'a>, &'a str),
    Entry(&'a Segment<'a>, usize),
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Root => Ok(()),
            Segment::Member(Segment::Root, key) => f.write_str(key),
            Segment::Member(parent, key) => write!(f, "{parent}.{key}"),
            Segment::Entry(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Node<'a> {
    depth: usize,
    at: &'a Segment<'a>,
    fault: &'a RefCell<Option<Rejection>>,
}

impl<'a> Node<'a> {
    fn child<'b>(&self, at: &'b Segment<'b>) -> Result<Node<'b>, Rejection>
    where
        'a: 'b,
    {
        if self.depth + 1 > MAX_DEPTH {
            return Err(Rejection::new(
                ErrorCode::MessageReceivedInvalid,
                format!("the message nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(Node {
            depth: self.depth + 1,
            at,
            fault: self.fault,
        })
    }

    fn fail<E: serde::de::Error>(&self, rejection: Rejection) -> E {
        let text = rejection.detail.clone();
        self.fault.borrow_mut().get_or_insert(rejection);
        E::custom(text)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let at = Segment::Entry(self.at, items.len());
            let child = self.child(&at).map_err(|r| self.fail(r))?;
            match seq.next_element_seed(child)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                // Annex A: a data element present more than once answers 204.
                return Err(self.fail(Rejection::element(
                    ErrorCode::DuplicateElement,
                    Segment::Member(self.at, &key).to_string(),
                    "the element appears more than once",
                )));
            }
            let value = {
                let at = Segment::Member(self.at, &key);
                let child = self.child(&at).map_err(|r| self.fail(r))?;
                access.next_value_seed(child)?
            };
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_element_is_204_and_named() {
        let e = parse_object(br#"{"messageType":"AReq","a":{"b":1,"b":2}}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::DuplicateElement);
        assert_eq!(e.element.as_deref(), Some("a.b"));
        let e = parse_object(br#"{"x":1,"x":1}"#).unwrap_err();
        assert_eq!(e.element.as_deref(), Some("x"));
    }

    #[test]
    fn not_an_object_or_not_json_is_101() {
        for body in [&b"[]"[..], b"\"AReq\"", b"{", b"{}x", b"", b"\xff"] {
            let e = parse_object(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::MessageReceivedInvalid, "{body:?}");
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let e = parse_object(format!("{{\"a\":{deep}}}").as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MessageReceivedInvalid);
        assert!(e.detail.contains("deeper"), "{e:?}");
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        parse_object(format!("{{\"a\":{ok}}}").as_bytes()).unwrap();
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_MESSAGE_BYTES));
        assert!(
            parse_object(big.as_bytes())
                .unwrap_err()
                .detail
                .contains("larger")
        );
    }
}
