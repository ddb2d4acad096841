//! Fuzzes `private_key_jwt` client authentication: `ClientAssertionVerifier::verify` against a
//! fixed client JWK set, and `ClientAssertionParams::claimed_client_id` (which reads the
//! unverified assertion to find the client's keys).
//!
//! Input: one flags byte, then `client_assertion_type\nclient_id\nbody` (UTF-8).
//! - bit 0: `client_assertion_type` is the JWT bearer type, whatever the field says.
//! - bit 1: the `client_id` parameter is sent (the field's value); otherwise absent.
//! - bits 2–3: how `body` becomes the assertion:
//!   0, 3: `body` is the assertion as sent;
//!   1: `body` is the claims (JSON), signed with the RFC 8037 Ed25519 key (registered as `ed`)
//!      under `{"alg":"EdDSA","kid":"ed"}`;
//!   2: `body` is `header-overlay\nclaims`: the overlay's members replace or extend that header.
//!
//! The registered client is `client-1`; the server's issuer is `https://as.example`; the clock is
//! 2026-03-01T12:00:00Z (Unix 1772366400).
//!
//! Nothing may panic. An accepted assertion must name `client-1`, the unverified lookup must
//! agree with it, its `aud` must be the issuer as a JSON string (FAPI 2.0 §5.3.2.1 item 8), its
//! `jti` must be remembered until after now, and a second use is a replay.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use shonin_fuzz::{ED25519_X, block_on, fields, flags_and_rest, merge_objects, sign_ed25519};
use shonin_oauth::{
    ClientAssertionParams, ClientAssertionVerifier, ClientJwks, JWT_BEARER_ASSERTION_TYPE,
};
use shonin_types::unit::UnitOfWork;
use std::sync::LazyLock;
use time::macros::datetime;

const CLIENT_ID: &str = "client-1";
const ISSUER: &str = "https://as.example";

static JWKS: LazyLock<Value> = LazyLock::new(|| {
    json!({"keys": [
        {"kty":"OKP","crv":"Ed25519","x":ED25519_X,"kid":"ed","use":"sig"},
        {"kty":"EC","crv":"P-256","kid":"ec","use":"sig",
         "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty":"RSA","kid":"rsa","alg":"PS256","e":"AQAB",
         "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    ]})
});

static VERIFIER: LazyLock<ClientAssertionVerifier> =
    LazyLock::new(|| ClientAssertionVerifier::new(ISSUER));

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = flags_and_rest(data);
    let [assertion_type, client_id, body] = fields::<3>(rest);
    let (Ok(assertion_type), Ok(client_id), Ok(body)) = (
        std::str::from_utf8(assertion_type),
        std::str::from_utf8(client_id),
        std::str::from_utf8(body),
    ) else {
        return;
    };
    let now = datetime!(2026-03-01 12:00:00 UTC);

    let base_header = json!({"alg": "EdDSA", "kid": "ed"});
    let assertion = match (flags >> 2) & 3 {
        1 | 2 => {
            let (header, claims) = if (flags >> 2) & 3 == 1 {
                (base_header, body)
            } else {
                let [overlay, claims] = fields::<2>(body.as_bytes());
                let Ok(overlay) = serde_json::from_slice::<Value>(overlay) else {
                    return;
                };
                let Ok(claims) = std::str::from_utf8(claims) else {
                    return;
                };
                (merge_objects(base_header, &overlay), claims)
            };
            let Ok(claims) = serde_json::from_str::<Value>(claims) else {
                return;
            };
            let Some(token) = sign_ed25519(&header, &claims) else {
                return;
            };
            token
        }
        _ => body.to_owned(),
    };

    let params = ClientAssertionParams {
        client_assertion: &assertion,
        client_assertion_type: if flags & 1 != 0 {
            JWT_BEARER_ASSERTION_TYPE
        } else {
            assertion_type
        },
        client_id: (flags & 2 != 0).then_some(client_id),
    };

    let claimed = params.claimed_client_id();
    match (&claimed, params.client_id) {
        (Ok(id), Some(sent)) => assert_eq!(id, sent),
        (Err(_), Some(_)) => panic!("claimed_client_id failed although client_id was sent"),
        (Ok(id), None) => assert!(!id.is_empty()),
        (Err(e), None) => {
            let _ = (e.oauth_error(), e.to_string());
        }
    }

    let client = ClientJwks {
        client_id: CLIENT_ID,
        jwks: &JWKS,
    };
    let mut unit = UnitOfWork::new();
    let result = block_on(VERIFIER.verify(&params, client, now, &mut unit));
    let authenticated = match result {
        Ok(id) => id,
        Err(e) => {
            let _ = (e.oauth_error(), e.to_string());
            assert!(unit.is_empty(), "a refused assertion staged a write");
            return;
        }
    };

    assert_eq!(authenticated.as_str(), CLIENT_ID);
    // The unverified lookup must find the client that was then authenticated.
    assert_eq!(claimed.ok().as_deref(), Some(CLIENT_ID));
    // Only the issuer identifier, as a string, is an acceptable audience.
    let aud = shonin_fuzz::unverified_claims(&assertion).and_then(|c| c.get("aud").cloned());
    assert_eq!(
        aud,
        Some(Value::String(ISSUER.to_owned())),
        "accepted aud {aud:?}"
    );
    // Accepted: its jti is staged once, remembered for as long as it could be accepted, and
    // a second use stages the same key, which the commit refuses as a replay.
    assert_eq!(unit.claims.len(), 1, "{unit:?}");
    let claim = unit.claims.remove(0);
    assert_eq!(
        claim.namespace,
        shonin_oauth::client_assertion::REPLAY_NAMESPACE
    );
    assert!(
        claim.expires_at > now,
        "jti forgotten at {} although accepted at {now}",
        claim.expires_at
    );
    let mut again = UnitOfWork::new();
    block_on(VERIFIER.verify(&params, client, now, &mut again)).expect("same assertion again");
    assert_eq!(
        again.claims,
        [claim],
        "a second use must claim the same key"
    );
});
