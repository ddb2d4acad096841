//! Fuzzes the browser challenge's form fields (`shonin_3ds::acs::creq`): `creq` as base64url
//! (with or without padding) holding a CReq, and `threeDSSessionData`.
//!
//! Nothing may panic. A CReq that is read, written back as a form field, reads the same; a
//! refusal's Erro is a valid Erro; accepted session data is base64url of at most 1024
//! characters, returned unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_3ds::acs::creq;
use shonin_3ds::{ErrorComponent, Message, Versions, check};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match creq::read(text, Versions::ALL) {
        Ok(read) => {
            let field = creq::encode(&read);
            assert!(!field.contains('='), "the field is written without padding");
            assert_eq!(
                creq::read(&field, Versions::ALL).expect("written back, valid"),
                read
            );
        }
        Err(refused) => {
            let erro = refused.erro(ErrorComponent::Acs, Versions::ALL);
            let bytes = serde_json::to_vec(&erro).expect("an Erro serialises");
            match check(&bytes, Versions::ALL) {
                Ok(Message::Erro(again)) => assert_eq!(again, erro),
                other => panic!("our Erro answer is not a valid Erro: {other:?}"),
            }
        }
    }
    if let Ok(Some(kept)) = creq::session_data(Some(text)) {
        assert_eq!(kept, text);
        assert!(kept.len() <= creq::MAX_SESSION_DATA);
        assert!(
            kept.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        );
    }
});
