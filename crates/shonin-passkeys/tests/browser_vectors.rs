#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Real browser output, recorded once by `tests/vectors/record.mjs` (Chromium with a virtual
//! authenticator): the assertion check must accept what a browser really sends, not only what
//! Shonin's own software authenticator writes. No browser runs here; only the fixture is read.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use shonin_passkeys::{
    AssertionResponse, CredentialPublicKey, Expected, PasskeyError, verify_assertion,
};

const CHROMIUM_ES256: &str = include_str!("vectors/chromium-es256.json");

fn b64(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap()
}

/// Just enough definite-length CBOR (RFC 8949) to read an attestation object and a COSE key.
#[derive(Debug, Clone, PartialEq)]
enum Cbor {
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Simple(u64),
}

impl Cbor {
    fn get(&self, key: &Cbor) -> &Cbor {
        let Cbor::Map(entries) = self else {
            panic!("not a map: {self:?}")
        };
        &entries
            .iter()
            .find(|(k, _)| k == key)
            .expect("key present")
            .1
    }

    fn bytes(&self) -> &[u8] {
        let Cbor::Bytes(b) = self else {
            panic!("not bytes: {self:?}")
        };
        b
    }
}

/// One item from `input` at `*at`, advancing `*at` past it.
fn cbor(input: &[u8], at: &mut usize) -> Cbor {
    let first = input[*at];
    *at += 1;
    let info = first & 0x1f;
    let arg = match info {
        0..=23 => u64::from(info),
        24..=27 => {
            let n = 1 << (info - 24);
            let v = input[*at..*at + n]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            *at += n;
            v
        }
        _ => panic!("indefinite length"),
    };
    let mut take = |n: u64| {
        let s = input[*at..*at + n as usize].to_vec();
        *at += n as usize;
        s
    };
    match first >> 5 {
        0 => Cbor::Int(i128::from(arg)),
        1 => Cbor::Int(-1 - i128::from(arg)),
        2 => Cbor::Bytes(take(arg)),
        3 => Cbor::Text(String::from_utf8(take(arg)).unwrap()),
        4 => Cbor::Array((0..arg).map(|_| cbor(input, at)).collect()),
        5 => Cbor::Map(
            (0..arg)
                .map(|_| (cbor(input, at), cbor(input, at)))
                .collect(),
        ),
        7 => Cbor::Simple(arg),
        other => panic!("major type {other}"),
    }
}

/// The credential id, public key and counter in a registration's attestation object (WebAuthn
/// L3 §6.5.4: authData's attested credential data, §6.5.2, holds the COSE key).
fn registered_key(attestation_object: &[u8]) -> (Vec<u8>, CredentialPublicKey, u32) {
    let mut at = 0;
    let object = cbor(attestation_object, &mut at);
    assert_eq!(at, attestation_object.len());
    assert_eq!(
        object.get(&Cbor::Text("fmt".into())),
        &Cbor::Text("none".into())
    );
    let auth_data = object.get(&Cbor::Text("authData".into())).bytes();
    assert_eq!(auth_data[32] & 0x40, 0x40, "AT: attested credential data");
    let sign_count = u32::from_be_bytes(auth_data[33..37].try_into().unwrap());
    let id_len = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    let credential_id = auth_data[55..55 + id_len].to_vec();
    let mut at = 55 + id_len;
    let cose = cbor(auth_data, &mut at);
    assert_eq!(at, auth_data.len(), "no extensions after the key");
    assert_eq!(cose.get(&Cbor::Int(1)), &Cbor::Int(2), "kty EC2");
    assert_eq!(cose.get(&Cbor::Int(3)), &Cbor::Int(-7), "alg ES256");
    assert_eq!(cose.get(&Cbor::Int(-1)), &Cbor::Int(1), "crv P-256");
    let key = CredentialPublicKey::Es256 {
        x: cose.get(&Cbor::Int(-2)).bytes().try_into().unwrap(),
        y: cose.get(&Cbor::Int(-3)).bytes().try_into().unwrap(),
    };
    (credential_id, key, sign_count)
}

struct Vector {
    fixture: Value,
    key: CredentialPublicKey,
    stored_count: u32,
    challenge: Vec<u8>,
    response: AssertionResponse,
}

impl Vector {
    fn load() -> Self {
        let fixture: Value = serde_json::from_str(CHROMIUM_ES256).unwrap();
        let challenge = b64(&fixture["challenge"]);
        let preimage = fixture["challenge_preimage"].as_str().unwrap();
        assert_eq!(challenge, digest(&SHA256, preimage.as_bytes()).as_ref());
        let (credential_id, key, stored_count) = registered_key(&b64(
            &fixture["registration"]["response"]["attestationObject"],
        ));
        let response = AssertionResponse::from_json(&fixture["assertion"]).unwrap();
        assert_eq!(response.credential_id, credential_id);
        Self {
            fixture,
            key,
            stored_count,
            challenge,
            response,
        }
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            challenge: &self.challenge,
            origin: self.fixture["origin"].as_str().unwrap(),
            rp_id: self.fixture["rp_id"].as_str().unwrap(),
            client_data_type: "webauthn.get",
            framing: shonin_passkeys::Framing::SameOrigin,
        }
    }
}

#[test]
fn the_recorded_chromium_assertion_verifies() {
    let v = Vector::load();
    // The key from the attestation object is the one WebCrypto exported from getPublicKey().
    let jwk_key = CredentialPublicKey::from_jwk(&v.fixture["public_key_jwk"]).unwrap();
    assert_eq!(jwk_key, v.key);

    let verified = verify_assertion(&v.response, &v.key, &v.expected(), v.stored_count).unwrap();
    assert!(verified.sign_count > v.stored_count || verified.sign_count == 0);
    assert_eq!(verified.client_data["type"], "webauthn.get");
    assert_eq!(verified.client_data["origin"], v.fixture["origin"]);
    assert_eq!(
        v.response.user_handle.as_deref(),
        Some(&[7u8; 16][..]),
        "the user.id given at creation"
    );
    verify_assertion(&v.response, &jwk_key, &v.expected(), v.stored_count).unwrap();
}

#[test]
fn the_recorded_assertion_with_one_byte_changed_is_refused() {
    let v = Vector::load();

    let mut bad = v.response.clone();
    let last = bad.signature.len() - 1;
    bad.signature[last] ^= 0x01;
    let err = verify_assertion(&bad, &v.key, &v.expected(), v.stored_count).unwrap_err();
    assert!(matches!(err, PasskeyError::BadSignature), "{err:?}");

    // Another expected challenge (one byte of the transaction hash differs).
    let mut challenge = v.challenge.clone();
    challenge[0] ^= 0x01;
    let other = Expected {
        challenge: &challenge,
        ..v.expected()
    };
    let err = verify_assertion(&v.response, &v.key, &other, v.stored_count).unwrap_err();
    assert!(matches!(err, PasskeyError::ChallengeMismatch), "{err:?}");

    // The challenge in clientDataJSON rewritten to that one: the signature no longer covers it.
    let client_data = String::from_utf8(v.response.client_data_json.clone()).unwrap();
    let text = URL_SAFE_NO_PAD.encode(&v.challenge);
    assert_eq!(client_data.matches(&text).count(), 1);
    let mut bad = v.response.clone();
    bad.client_data_json = client_data
        .replace(&text, &URL_SAFE_NO_PAD.encode(&challenge))
        .into_bytes();
    let err = verify_assertion(&bad, &v.key, &other, v.stored_count).unwrap_err();
    assert!(matches!(err, PasskeyError::BadSignature), "{err:?}");

    // Another origin and another RP ID.
    let err = verify_assertion(
        &v.response,
        &v.key,
        &Expected {
            origin: "https://localhost:8443",
            ..v.expected()
        },
        v.stored_count,
    )
    .unwrap_err();
    assert!(matches!(err, PasskeyError::OriginMismatch), "{err:?}");
    let err = verify_assertion(
        &v.response,
        &v.key,
        &Expected {
            rp_id: "example.com",
            ..v.expected()
        },
        v.stored_count,
    )
    .unwrap_err();
    assert!(matches!(err, PasskeyError::RpIdMismatch), "{err:?}");
}
