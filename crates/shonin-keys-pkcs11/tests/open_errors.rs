//! Opening a token that is not there, with a wrong PIN, or without the configured key. In a test
//! binary of its own: the PKCS#11 login belongs to the whole process, so a wrong PIN is only
//! noticed before any other test has logged in.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use secrecy::SecretString;
use shonin_keys_pkcs11::{Hsm, HsmSettings};
use shonin_testkit::softhsm;

#[test]
fn opening_names_the_module_the_token_the_pin_and_the_key() {
    let t = softhsm::token().expect("a SoftHSM2 token");
    let s = HsmSettings {
        module: t.module,
        token_label: t.token_label,
        pin: SecretString::from(softhsm::PIN),
        signing_key_label: Some("errors-signing".into()),
        kek_label: None,
        mac_key_label: None,
        sessions: 1,
        serialize_calls: true,
    };
    let err = |s: HsmSettings| Hsm::open(s).unwrap_err().to_string();
    let e = err(HsmSettings {
        module: "/nonexistent/libpkcs11.so".into(),
        ..s.clone()
    });
    assert!(
        e.contains("/nonexistent/libpkcs11.so") && e.contains("no such file"),
        "{e}"
    );
    let e = err(HsmSettings {
        token_label: "no-such-token".into(),
        ..s.clone()
    });
    assert!(e.contains("no token labelled \"no-such-token\""), "{e}");
    assert!(e.contains(&s.token_label), "lists the tokens present: {e}");
    let e = err(HsmSettings {
        pin: SecretString::from("wrong-pin"),
        ..s.clone()
    });
    assert!(e.contains("PIN was refused"), "{e}");
    assert!(!e.contains("wrong-pin"), "{e}");
    let e = err(s.clone());
    assert!(
        e.contains("no EC P-256 key pair labelled \"errors-signing\""),
        "{e}"
    );
}
