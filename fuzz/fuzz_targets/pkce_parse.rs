//! Fuzzes PKCE parameter parsing (`CodeChallenge::parse`, `CodeChallenge::from_s256`,
//! `CodeVerifier::parse`, `pkce::verify`).
//!
//! Input: one flags byte, then `challenge\nmethod\nverifier`. Flag bits 0, 1 and 2 say whether the
//! challenge, the method and the verifier are present (`Some`); a field that is not UTF-8 ends
//! the run.
//!
//! Accepted values must be canonical: a challenge is the one strict base64url encoding of 32
//! bytes with method `S256`, a verifier's own S256 challenge parses and verifies, and `verify`
//! agrees with a plain comparison of the challenges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_fuzz::{fields, flags_and_rest};
use shonin_oauth::pkce::{self, CodeChallenge, CodeVerifier, PkceError};

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = flags_and_rest(data);
    let [c, m, v] = fields::<3>(rest);
    let (Ok(c), Ok(m), Ok(v)) = (
        std::str::from_utf8(c),
        std::str::from_utf8(m),
        std::str::from_utf8(v),
    ) else {
        return;
    };
    let challenge_param = (flags & 1 != 0).then_some(c);
    let method_param = (flags & 2 != 0).then_some(m);
    let verifier_param = (flags & 4 != 0).then_some(v);

    let challenge = CodeChallenge::parse(challenge_param, method_param);
    let stored = CodeChallenge::from_s256(c);
    if let Ok(ch) = &challenge {
        assert_eq!(method_param, Some("S256"));
        assert_eq!(ch.as_str(), c);
        assert_eq!(stored.as_ref(), Ok(ch));
    }
    if let Ok(ch) = &stored {
        assert_eq!(ch.method(), "S256");
        assert_eq!(ch.as_str().len(), 43);
        // Strict base64url: exactly one accepted encoding per digest.
        let bytes = shonin_jose::b64url_decode(ch.as_str()).expect("accepted challenge decodes");
        assert_eq!(bytes.len(), 32);
        assert_eq!(shonin_jose::b64url_encode(&bytes), ch.as_str());
        let json = serde_json::to_string(ch).expect("serialises");
        let back: CodeChallenge = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(&back, ch);
    } else {
        assert!(challenge.is_err());
        // A refused stored challenge must not come back through serde either.
        assert!(serde_json::from_value::<CodeChallenge>(serde_json::Value::from(c)).is_err());
    }

    let verifier = CodeVerifier::parse(verifier_param);
    if let Ok(ver) = &verifier {
        assert!((43..=128).contains(&v.len()));
        let own = ver.s256_challenge();
        let own = CodeChallenge::from_s256(&own).expect("a verifier's S256 challenge is valid");
        assert_eq!(pkce::verify(&own, ver), Ok(()));
        if let Ok(ch) = &stored {
            let expected = if own == *ch {
                Ok(())
            } else {
                Err(PkceError::Mismatch)
            };
            assert_eq!(pkce::verify(ch, ver), expected);
        }
        assert!(!format!("{ver:?}").contains(v), "verifier leaks into Debug");
    } else {
        assert!(verifier_param.is_none_or(|v| CodeVerifier::try_from(v).is_err()));
    }
});
