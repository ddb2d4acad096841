//! Fuzzes DPoP proof verification (`DpopVerifier::verify_proof`, RFC 9449 §4.3) with a fixed
//! configuration, an in-memory replay store and a fixed clock.
//!
//! Input: one flags byte, then `method\nuri\nbody` (UTF-8; an empty `uri` means
//! `https://as.example/token`, one `Htu::parse` refuses ends the run).
//! - bit 0: the verifier requires server nonces (`NonceKey`); otherwise no nonces.
//! - bit 1: an access token is presented (`ath` required).
//! - bit 2: the proof key must have the RFC 8037 key's thumbprint (`expected_jkt`).
//! - bit 3: the clock is RFC 9449's (2019-07-04T17:50:20Z, so its example proofs are fresh);
//!   otherwise 2026-03-01T12:00:00.5Z.
//! - bits 4–5: how `body` becomes the proof:
//!   0, 3: `body` is the proof as sent;
//!   1: `body` is the claims (JSON), signed with the RFC 8037 Ed25519 key under the header
//!      `{"typ":"dpop+jwt","alg":"EdDSA","jwk":<that key>}`;
//!   2: `body` is `header-overlay\nclaims`: the overlay's members replace or extend that header.
//!   In the claims, the string `"$nonce"` is replaced by a valid nonce, `"$ath"` by the access
//!   token's hash and `"$now"` by the clock's Unix time, so the fuzzer can reach every check.
//!
//! Nothing may panic; an accepted proof must be bound to the key it carries, be remembered in
//! the replay store until after the clock's time, and be refused as a replay the second time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use shonin_fuzz::{
    ED25519_JKT, block_on, ed25519_public_jwk, fields, flags_and_rest, merge_objects, sign_ed25519,
};
use shonin_oauth::dpop::access_token_hash;
use shonin_oauth::{DpopConfig, DpopRequest, DpopVerifier, Htu, NonceKey};
use shonin_types::SecretBytes;
use shonin_types::unit::UnitOfWork;
use std::sync::LazyLock;
use time::OffsetDateTime;
use time::macros::datetime;

const ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const DEFAULT_URI: &str = "https://as.example/token";

static PLAIN: LazyLock<DpopVerifier> =
    LazyLock::new(|| DpopVerifier::new(DpopConfig::default()).expect("default config is valid"));

static WITH_NONCE: LazyLock<DpopVerifier> = LazyLock::new(|| {
    let key = NonceKey::new(&SecretBytes::new(vec![0x42; 32]), NonceKey::DEFAULT_WINDOW)
        .expect("valid nonce key");
    DpopVerifier::new(DpopConfig {
        nonce: Some(key),
        ..DpopConfig::default()
    })
    .expect("valid config")
});

/// Replaces the placeholder strings of mode 1 and 2 claims.
fn fill_placeholders(claims: &mut Value, verifier: &DpopVerifier, now: OffsetDateTime) {
    let Value::Object(map) = claims else {
        return;
    };
    for value in map.values_mut() {
        match value.as_str() {
            Some("$nonce") => {
                if let Some(n) = verifier.issue_nonce(now) {
                    *value = Value::String(n);
                }
            }
            Some("$ath") => *value = Value::String(access_token_hash(ACCESS_TOKEN)),
            Some("$now") => *value = Value::from(now.unix_timestamp()),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = flags_and_rest(data);
    let [method, uri, body] = fields::<3>(rest);
    let (Ok(method), Ok(uri), Ok(body)) = (
        std::str::from_utf8(method),
        std::str::from_utf8(uri),
        std::str::from_utf8(body),
    ) else {
        return;
    };
    let uri = if uri.is_empty() { DEFAULT_URI } else { uri };
    let Ok(uri) = Htu::parse(uri) else {
        return;
    };
    let verifier: &DpopVerifier = if flags & 1 != 0 { &WITH_NONCE } else { &PLAIN };
    let now = if flags & 8 != 0 {
        datetime!(2019-07-04 17:50:20 UTC)
    } else {
        datetime!(2026-03-01 12:00:00.5 UTC)
    };
    let request = DpopRequest {
        method,
        uri: &uri,
        access_token: (flags & 2 != 0).then_some(ACCESS_TOKEN),
        expected_jkt: (flags & 4 != 0).then_some(ED25519_JKT),
    };

    let base_header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": ed25519_public_jwk()});
    let proof = match (flags >> 4) & 3 {
        1 | 2 => {
            let (header, claims) = if (flags >> 4) & 3 == 1 {
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
            let Ok(mut claims) = serde_json::from_str::<Value>(claims) else {
                return;
            };
            fill_placeholders(&mut claims, verifier, now);
            let Some(proof) = sign_ed25519(&header, &claims) else {
                return;
            };
            proof
        }
        _ => body.to_owned(),
    };

    let mut unit = UnitOfWork::new();
    let result = block_on(verifier.verify_proof(&proof, &request, now, &mut unit));
    if let Err(e) = &result {
        let _ = (e.oauth_error(), e.to_string());
    }
    let Ok(verified) = result else {
        assert!(unit.is_empty(), "a refused proof staged a write");
        return;
    };

    // Accepted: bound to its own key, remembered long enough, and only once.
    let jkt =
        shonin_jose::jwk_thumbprint_sha256(&verified.jwk).expect("accepted jwk has a thumbprint");
    assert_eq!(verified.jkt, jkt);
    if let Some(expected) = request.expected_jkt {
        assert_eq!(verified.jkt, expected);
    }
    assert!(!verified.jti.is_empty() && verified.jti.len() <= shonin_oauth::dpop::MAX_JTI_LEN);
    assert_eq!(unit.claims.len(), 1, "{unit:?}");
    let claim = unit.claims.remove(0);
    assert_eq!(claim.namespace, shonin_oauth::dpop::REPLAY_NAMESPACE);
    assert!(
        claim.expires_at > now,
        "jti forgotten at {} although accepted at {now}",
        claim.expires_at
    );
    // A second use stages the same key, which the commit refuses as a replay.
    let mut again = UnitOfWork::new();
    block_on(verifier.verify_proof(&proof, &request, now, &mut again)).expect("same proof again");
    assert_eq!(
        again.claims,
        [claim],
        "a second use must claim the same key"
    );
});
