//! Fuzzes JWT verification against a fixed JWK set (RFC 8037 A.2 Ed25519 key under two kids, a
//! P-256 key and the RFC 7638 RSA key). Nothing the fuzzer makes should verify, and nothing may
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::LazyLock;

static JWKS: LazyLock<Value> = LazyLock::new(|| {
    json!({"keys": [
        {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},
        {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty":"EC","crv":"P-256","kid":"ec","use":"sig",
         "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty":"RSA","kid":"rsa","alg":"PS256","e":"AQAB",
         "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    ]})
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let opts = shonin_jose::VerifyOptions::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    let _ = shonin_jose::verify_jwt(token, &JWKS, &opts);
    if let Some(key) = JWKS["keys"].get(0) {
        let _ = shonin_jose::verify_with_jwk(token, key, &opts);
        let _ = shonin_jose::verify_jws_with_jwk(token, key);
    }
});
