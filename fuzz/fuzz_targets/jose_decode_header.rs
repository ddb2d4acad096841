//! Fuzzes the strict compact-JWS header decoder: it must return an error, never panic, on any
//! input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(header) = shonin_jose::decode_header(token) {
            // Whatever was accepted is inside the policy.
            assert!(matches!(
                header.alg,
                shonin_jose::Alg::ES256 | shonin_jose::Alg::PS256 | shonin_jose::Alg::EdDSA
            ));
        }
    }
});
