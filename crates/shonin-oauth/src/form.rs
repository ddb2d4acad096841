//! Strict `application/x-www-form-urlencoded` parsing for OAuth requests.
//!
//! Stricter than a browser: invalid percent-encoding or invalid UTF-8 is an error (never replaced
//! by U+FFFD), a parameter sent twice is an error (RFC 6749 §3.1: "Request and response
//! parameters MUST NOT be included more than once"), and the number and size of parameters are
//! bounded.

use shonin_types::ErrorCode;
use std::collections::BTreeMap;

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;
/// Longest parameter name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Why a form body was refused. All map to `invalid_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the request body is not valid form encoding")]
    BadEncoding,
    #[error("a parameter is not valid UTF-8")]
    NotUtf8,
    #[error("parameter `{0}` is included more than once")]
    Duplicate(String),
    #[error("too many parameters (at most {MAX_PARAMS})")]
    TooMany,
    #[error("a parameter name is longer than {MAX_NAME_LEN} bytes")]
    NameTooLong,
    #[error("parameter `{name}` is longer than {max} bytes")]
    ValueTooLong { name: String, max: usize },
    #[error("parameter `{0}` must not be empty")]
    Empty(String),
}

impl FormError {
    pub fn oauth_error(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// Parsed form parameters: each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams(BTreeMap<String, String>);

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or(FormError::BadEncoding)?;
                let s = std::str::from_utf8(hex).map_err(|_| FormError::BadEncoding)?;
                let v = u8::from_str_radix(s, 16).map_err(|_| FormError::BadEncoding)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(FormError::BadEncoding);
                }
                out.push(v);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

impl FormParams {
    /// Parses a request body or a query string.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut map = BTreeMap::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if map.len() >= MAX_PARAMS {
                return Err(FormError::TooMany);
            }
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or_default())?;
            let value = decode(halves.next().unwrap_or_default())?;
            if name.len() > MAX_NAME_LEN {
                return Err(FormError::NameTooLong);
            }
            if map.contains_key(&name) {
                return Err(FormError::Duplicate(name));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, refusing one longer than `max` bytes.
    pub fn get_bounded(&self, name: &str, max: usize) -> Result<Option<&str>, FormError> {
        match self.get(name) {
            Some(v) if v.len() > max => Err(FormError::ValueTooLong {
                name: name.to_owned(),
                max,
            }),
            other => Ok(other),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Parameter names present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Builds parameters from pairs (tests, and query strings already split by a framework).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, FormError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            let k = k.into();
            if map.len() >= MAX_PARAMS {
                return Err(FormError::TooMany);
            }
            if map.insert(k.clone(), v.into()).is_some() {
                return Err(FormError::Duplicate(k));
            }
        }
        Ok(Self(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let p = FormParams::parse(b"a=1+2&b=%C3%A9%26x&c=").unwrap();
        assert_eq!(p.get("a"), Some("1 2"));
        assert_eq!(p.get("b"), Some("é&x"));
        assert_eq!(p.get("c"), None, "empty counts as absent");
        assert!(p.contains("c"));
    }

    #[test]
    fn duplicate_parameter_is_refused() {
        assert_eq!(
            FormParams::parse(b"a=1&a=2"),
            Err(FormError::Duplicate("a".into()))
        );
    }

    #[test]
    fn invalid_utf8_and_bad_escapes_are_refused() {
        assert_eq!(FormParams::parse(b"a=%FF"), Err(FormError::NotUtf8));
        assert_eq!(FormParams::parse(b"a=\xff"), Err(FormError::NotUtf8));
        assert_eq!(FormParams::parse(b"a=%G1"), Err(FormError::BadEncoding));
        assert_eq!(FormParams::parse(b"a=%4"), Err(FormError::BadEncoding));
        assert_eq!(FormParams::parse(b"a=%+1"), Err(FormError::BadEncoding));
    }

    #[test]
    fn limits_hold() {
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            FormParams::parse(many.join("&").as_bytes()),
            Err(FormError::TooMany)
        );
        let long = format!("{}=1", "n".repeat(MAX_NAME_LEN + 1));
        assert_eq!(
            FormParams::parse(long.as_bytes()),
            Err(FormError::NameTooLong)
        );
        let p = FormParams::parse(b"state=abcdef").unwrap();
        assert!(p.get_bounded("state", 3).is_err());
        assert_eq!(p.get_bounded("state", 6).unwrap(), Some("abcdef"));
    }
}
