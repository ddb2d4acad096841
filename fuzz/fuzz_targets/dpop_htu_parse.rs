//! Fuzzes `Htu::parse` (the RFC 9449 §4.3 (9) normalisation) with arbitrary strings. It must
//! never panic, and what it accepts must be in normal form: printable ASCII, `http`/`https`, no
//! query or fragment, and parsing `as_str()` again gives an equal value (idempotence: the server's
//! own URI and a proof's `htu` are both normalised, so a non-idempotent form could make two
//! spellings of one resource compare unequal, or two resources equal).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_oauth::Htu;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(htu) = Htu::parse(uri) else {
        return;
    };
    let s = htu.as_str();
    assert!(
        s.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "not printable ASCII: {s:?}"
    );
    assert!(
        s.starts_with("https://") || s.starts_with("http://"),
        "not http(s): {s:?}"
    );
    assert!(
        !s.contains('?') && !s.contains('#'),
        "query or fragment kept: {s:?}"
    );
    assert_eq!(htu.to_string(), s);
    match Htu::parse(s) {
        Ok(again) => assert_eq!(again, htu, "not idempotent: {uri:?} -> {s:?}"),
        Err(e) => panic!("normal form {s:?} of {uri:?} does not parse: {e}"),
    }
    assert_eq!(Htu::try_from(uri).ok().as_ref(), Some(&htu));
});
