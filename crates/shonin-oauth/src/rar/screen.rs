//! Screening before schema validation: the nesting-depth scan over the raw text, the
//! character rules for member names and strings, and the bounds on what errors repeat.

use serde_json::{Map, Value};

/// Longest type name an error message repeats.
pub const MAX_ECHOED_TYPE_LEN: usize = 64;
/// Longest type name an operator may define.
const MAX_TYPE_NAME_LEN: usize = 128;
/// Longest schema path or reason an error carries.
const MAX_REASON_LEN: usize = 200;

/// Characters refused anywhere in a member name or string value: the displayed-text rule
/// (`shonin_types::text`), since the consent page shows them.
pub fn is_forbidden_char(c: char) -> bool {
    shonin_types::text::refused_in_display(c)
}

fn has_forbidden_char(s: &str) -> bool {
    s.chars().any(is_forbidden_char)
}

/// The JSON Pointer (RFC 6901) of the first member name or string with a forbidden character.
pub(super) fn find_forbidden_char_in_object(
    object: &Map<String, Value>,
    base: &str,
) -> Option<String> {
    object.iter().find_map(|(name, value)| {
        let path = format!("{base}/{}", escape_pointer(name));
        if has_forbidden_char(name) {
            // Report the parent: the name itself is what is wrong and must not be echoed raw.
            return Some(if base.is_empty() {
                "/".to_owned()
            } else {
                base.to_owned()
            });
        }
        find_forbidden_char(value, &path)
    })
}

fn find_forbidden_char(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if has_forbidden_char(s) => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_forbidden_char(item, &format!("{path}/{i}"))),
        Value::Object(map) => find_forbidden_char_in_object(map, path),
        _ => None,
    }
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// RFC 9396 leaves type names open (often URIs); operators get a conservative alphabet so names
/// are safe in logs, metrics labels and file names.
pub(super) fn is_valid_type_name(name: &str) -> bool {
    (1..=MAX_TYPE_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'~' | b'-')
        })
}

/// `s` cut to [`MAX_REASON_LEN`] characters, marked with `…` if cut.
pub(super) fn bounded(mut s: String) -> String {
    if let Some((cut, _)) = s.char_indices().nth(MAX_REASON_LEN) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A client-chosen type name made safe to repeat: at most [`MAX_ECHOED_TYPE_LEN`] characters,
/// forbidden characters replaced by U+FFFD.
pub(super) fn truncate(s: &str) -> String {
    s.chars()
        .take(MAX_ECHOED_TYPE_LEN)
        .map(|c| if is_forbidden_char(c) { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_restricted() {
        for ok in [
            "payment_initiation",
            "https://bank.example/types/x-1",
            "urn:a:b~c",
        ] {
            assert!(is_valid_type_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "<script>", "é", &"a".repeat(129)] {
            assert!(!is_valid_type_name(bad), "{bad}");
        }
    }

    #[test]
    fn echoed_type_names_are_bounded_and_defanged() {
        let long = "x".repeat(1000);
        assert_eq!(truncate(&long).chars().count(), MAX_ECHOED_TYPE_LEN);
        assert_eq!(truncate("a\u{202e}b\n"), "a\u{fffd}b\u{fffd}");
    }
}
