//! Fuzzes the strict form parser (`shonin_oauth::form::FormParams::parse`) with arbitrary bytes:
//! it returns parameters or a `FormError`, never panics. Accepted input must respect the
//! documented rules: every non-empty `&`-separated pair became exactly one parameter (so no name
//! was sent twice), the count and name length limits hold, every accessor works for every name,
//! and re-encoding the parameters parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_oauth::form::{FormParams, MAX_NAME_LEN, MAX_PARAMS};
use std::collections::HashSet;

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Accessors on an arbitrary name must not panic whatever the parse gave.
    let probe = String::from_utf8_lossy(data.get(..64).unwrap_or(data));
    let Ok(params) = FormParams::parse(data) else {
        return;
    };
    let _ = params.get(&probe);
    let _ = params.get_bounded(&probe, 3);

    let names: Vec<&str> = params.names().collect();
    let unique: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate parameter names");
    let raw_pairs = data.split(|&b| b == b'&').filter(|p| !p.is_empty()).count();
    assert_eq!(
        names.len(),
        raw_pairs,
        "every pair must be one parameter: a name sent twice is an error"
    );
    assert!(names.len() <= MAX_PARAMS);

    let mut pairs = Vec::with_capacity(names.len());
    let mut reencoded = String::new();
    for name in &names {
        assert!(name.len() <= MAX_NAME_LEN, "name longer than MAX_NAME_LEN");
        assert!(params.contains(name));
        let value = params.get(name);
        assert_ne!(value, Some(""), "an empty value counts as absent");
        match params.get_bounded(name, usize::MAX) {
            Ok(v) => assert_eq!(v, value),
            Err(e) => panic!("get_bounded without a bound failed: {e}"),
        }
        if let Some(v) = value {
            assert!(params.get_bounded(name, v.len()).is_ok());
            if !v.is_empty() {
                assert!(params.get_bounded(name, v.len() - 1).is_err());
            }
        }
        let value = value.unwrap_or_default();
        if !reencoded.is_empty() {
            reencoded.push('&');
        }
        encode(name, &mut reencoded);
        reencoded.push('=');
        encode(value, &mut reencoded);
        pairs.push((name.to_string(), value.to_owned()));
    }

    assert_eq!(
        FormParams::from_pairs(pairs).as_ref(),
        Ok(&params),
        "from_pairs of the parsed pairs"
    );
    assert_eq!(
        FormParams::parse(reencoded.as_bytes()).as_ref(),
        Ok(&params),
        "re-encoded parameters must parse back to the same value"
    );
});
