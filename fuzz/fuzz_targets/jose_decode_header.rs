//! Fuzzes the parsers that see compact tokens as presented by anyone: the strict compact-JWS
//! header decoder must return an error, never panic, on any input; the token-record key
//! (`shonin_oauth::token_hash`, which reads a JWT's `iat` without verifying it) must be total,
//! deterministic and end with the token's SHA-256 prefix.
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
        let key = shonin_oauth::token_hash(token);
        assert_eq!(key, shonin_oauth::token_hash(token));
        let sha = shonin_oauth::token_record::sha256_hex(token);
        let tail: String = key.iter().skip(8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha.get(..48), Some(tail.as_str()));
        // A token without three segments has no iat to read.
        if token.split('.').count() != 3 {
            assert_eq!(key.get(..8), Some(&[0u8; 8][..]));
        }
    }
});
