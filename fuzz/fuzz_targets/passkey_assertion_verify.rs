//! Fuzzes Shonin's own WebAuthn assertion check for a chosen challenge
//! (`shonin_passkeys::AssertionResponse::from_json` and `verify_assertion`; untrusted input when
//! a payment is approved).
//!
//! Input: one flags byte, then a payload.
//! - bit 0 clear: the payload is a browser's `AuthenticationResponseJSON`; if it is JSON, it goes
//!   through `AssertionResponse::from_json` and `verify_assertion`, and `from_jwk` reads it too.
//! - bit 0 set: the payload's first byte is the length of `authenticatorData`, which follows;
//!   the rest is `clientDataJSON`. Bit 1 set: the target signs
//!   `authenticatorData ‖ SHA-256(clientDataJSON)` with the RFC 8037 Ed25519 key, so the input
//!   reaches the checks after the signature; clear: the signature is empty.
//! - bits 2–3: the stored counter: 0, 1, 5 or `u32::MAX`.
//!
//! The key is the RFC 8037 Ed25519 key; the challenge is 32 bytes of 0x5a (`WlpaWlpa…`), the
//! origin `https://localhost:8443`, the RP ID `localhost`, the type `webauthn.get`.
//!
//! Each input is checked under both framings. Nothing may panic. An accepted assertion must
//! carry that type, challenge and origin, the RP ID's hash, UP and UV, BS only with BE, and a
//! counter above the stored one (or 0 after 0); under `SameOrigin` no cross-origin member, under
//! `AnyHttpsTop` a cross-origin one only with an https `topOrigin`.
#![no_main]

use aws_lc_rs::digest::{SHA256, digest};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shonin_fuzz::{ed25519_public_jwk, flags_and_rest, sign_ed25519_raw};
use shonin_passkeys::{
    AssertionResponse, CredentialPublicKey, Expected, Framing, verify_assertion,
};
use std::sync::LazyLock;

const CHALLENGE: [u8; 32] = [0x5a; 32];
const ORIGIN: &str = "https://localhost:8443";
const RP_ID: &str = "localhost";

static KEY: LazyLock<CredentialPublicKey> = LazyLock::new(|| {
    CredentialPublicKey::from_jwk(&ed25519_public_jwk()).expect("the RFC 8037 key is a valid JWK")
});

fn expected(framing: Framing) -> Expected<'static> {
    Expected {
        challenge: &CHALLENGE,
        origin: ORIGIN,
        rp_id: RP_ID,
        client_data_type: "webauthn.get",
        framing,
    }
}

fn check(response: &AssertionResponse, stored: u32) {
    for framing in [Framing::SameOrigin, Framing::AnyHttpsTop] {
        check_framed(response, stored, framing);
    }
}

fn check_framed(response: &AssertionResponse, stored: u32, framing: Framing) {
    match verify_assertion(response, &KEY, &expected(framing), stored) {
        Ok(verified) => {
            let c = &verified.client_data;
            assert_eq!(c["type"], "webauthn.get");
            assert_eq!(c["challenge"], shonin_jose::b64url_encode(&CHALLENGE));
            assert_eq!(c["origin"], ORIGIN);
            match (c.get("crossOrigin"), framing) {
                (None | Some(Value::Bool(false)), _) => assert!(c.get("topOrigin").is_none()),
                (Some(Value::Bool(true)), Framing::AnyHttpsTop) => assert!(
                    c["topOrigin"]
                        .as_str()
                        .is_some_and(|o| o.starts_with("https://") && o.len() > 8),
                    "a framed assertion names an https page"
                ),
                (other, _) => panic!("crossOrigin {other:?} accepted under {framing:?}"),
            }
            let data = &response.authenticator_data;
            assert!(data.len() >= 37);
            assert_eq!(&data[..32], digest(&SHA256, RP_ID.as_bytes()).as_ref());
            assert_eq!(data[32] & 0x05, 0x05, "UP and UV");
            assert_eq!(data[32] & 0x40, 0, "no attested credential data");
            assert!(!verified.backup_state || verified.backup_eligible);
            let count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
            assert_eq!(verified.sign_count, count);
            assert!(count > stored || (count == 0 && stored == 0));
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string(), e.is_refusal());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (flags, payload) = flags_and_rest(data);
    let stored = [0, 1, 5, u32::MAX][usize::from((flags >> 2) & 3)];
    if flags & 1 == 0 {
        let Ok(json) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        if let Ok(key) = CredentialPublicKey::from_jwk(&json) {
            assert_eq!(CredentialPublicKey::from_jwk(&key.to_jwk()).ok(), Some(key));
        }
        match AssertionResponse::from_json(&json) {
            Ok(response) => {
                assert_eq!(
                    json["id"].as_str(),
                    Some(response.credential_id_b64().as_str())
                );
                check(&response, stored);
            }
            Err(e) => {
                let _ = (e.reason(), e.to_string());
            }
        }
        return;
    }
    let Some((&len, rest)) = payload.split_first() else {
        return;
    };
    let (authenticator_data, client_data_json) = rest.split_at(usize::from(len).min(rest.len()));
    let signature = if flags & 2 != 0 {
        let mut message = authenticator_data.to_vec();
        message.extend_from_slice(digest(&SHA256, client_data_json).as_ref());
        sign_ed25519_raw(&message)
    } else {
        Vec::new()
    };
    let response = AssertionResponse {
        credential_id: vec![1; 16],
        authenticator_data: authenticator_data.to_vec(),
        client_data_json: client_data_json.to_vec(),
        signature,
        user_handle: None,
    };
    check(&response, stored);
});
