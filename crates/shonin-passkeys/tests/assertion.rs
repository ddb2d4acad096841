#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Shonin's assertion check for a chosen challenge, against the software authenticator (through
//! webauthn-rs enrolment, as the server stores passkeys) and against assertions signed here
//! byte by byte, so each §7.2 check is shown to refuse exactly what it should.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use shonin_passkeys::{
    AssertionResponse, CredentialPublicKey, Expected, PasskeyError, StoredPasskey,
    VerifiedAssertion, request_options, verify_assertion, verify_passkey_assertion,
};
use shonin_testkit::Authenticator;
use std::time::Duration;
use webauthn_rs::prelude::{Url, Uuid, WebauthnBuilder};

const RP_ID: &str = "localhost";
const ORIGIN: &str = "https://localhost:8443";
/// A transaction challenge: SHA-256 over some payment data, as the transaction crate makes it.
fn challenge() -> Vec<u8> {
    digest(&SHA256, b"pay 10.00 EUR to DE89370400440532013000")
        .as_ref()
        .to_vec()
}

fn expected(challenge: &[u8]) -> Expected<'_> {
    Expected {
        challenge,
        origin: ORIGIN,
        rp_id: RP_ID,
        client_data_type: "webauthn.get",
        framing: shonin_passkeys::Framing::SameOrigin,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// The software authenticator, enrolled through webauthn-rs as `Passkeys` does.

/// Enrols a new passkey on `authenticator` with webauthn-rs and returns it as Shonin stores it.
fn enrol(authenticator: &mut Authenticator) -> StoredPasskey {
    let webauthn = WebauthnBuilder::new(RP_ID, &Url::parse(ORIGIN).unwrap())
        .unwrap()
        .rp_name("Shonin")
        .build()
        .unwrap();
    let user = Uuid::new_v4();
    let (options, state) = webauthn
        .start_passkey_registration(user, "alice", "Alice", None)
        .unwrap();
    let response = authenticator
        .register(&serde_json::to_value(&options).unwrap(), ORIGIN)
        .unwrap();
    let passkey = webauthn
        .finish_passkey_registration(&serde_json::from_value(response.clone()).unwrap(), &state)
        .unwrap();
    StoredPasskey {
        credential_id: response["id"].as_str().unwrap().to_owned(),
        user_id: user.to_string(),
        name: "test".into(),
        credential: serde_json::to_string(&passkey).unwrap(),
        aaguid: Uuid::nil(),
        backup_eligible: false,
        backup_state: false,
        transports: vec!["internal".into()],
        sign_count: 0,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        last_used_at: None,
    }
}

/// The authenticator's answer to [`request_options`] for `challenge`, as the browser posts it.
fn sign(authenticator: &mut Authenticator, passkey: &StoredPasskey, challenge: &[u8]) -> Value {
    sign_at(authenticator, passkey, challenge, ORIGIN)
}

fn sign_at(
    authenticator: &mut Authenticator,
    passkey: &StoredPasskey,
    challenge: &[u8],
    origin: &str,
) -> Value {
    let options = request_options(
        challenge,
        RP_ID,
        std::slice::from_ref(passkey),
        Duration::from_secs(120),
    );
    authenticator.authenticate(&options, origin).unwrap()
}

fn verify_json(
    json: &Value,
    passkey: &StoredPasskey,
    expected: &Expected<'_>,
) -> Result<VerifiedAssertion, PasskeyError> {
    let response = AssertionResponse::from_json(json)?;
    let key = CredentialPublicKey::of_passkey(passkey)?;
    verify_assertion(&response, &key, expected, passkey.sign_count)
}

fn setup() -> (Authenticator, StoredPasskey) {
    let mut authenticator = Authenticator::new([7; 16]);
    let passkey = enrol(&mut authenticator);
    (authenticator, passkey)
}

#[test]
fn an_assertion_from_the_software_authenticator_verifies() {
    let (mut authenticator, passkey) = setup();
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let verified = verify_json(&json, &passkey, &expected(&challenge)).unwrap();
    assert_eq!(verified.sign_count, 1);
    assert!(!verified.backup_eligible && !verified.backup_state);
    assert_eq!(verified.client_data["type"], "webauthn.get");
    assert_eq!(verified.client_data["challenge"], b64(&challenge));

    let response = AssertionResponse::from_json(&json).unwrap();
    assert_eq!(response.credential_id_b64(), passkey.credential_id);
    let owner = Uuid::parse_str(&passkey.user_id).unwrap();
    assert_eq!(response.user_handle.as_deref(), Some(&owner.as_bytes()[..]));
    let verified = verify_passkey_assertion(&response, &passkey, &expected(&challenge)).unwrap();
    assert_eq!(verified.sign_count, 1);
}

#[test]
fn the_key_survives_a_jwk_round_trip_and_still_verifies() {
    let (mut authenticator, passkey) = setup();
    let key = CredentialPublicKey::of_passkey(&passkey).unwrap();
    assert_eq!(key.cose_alg(), -7);
    let jwk = key.to_jwk();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk.as_object().unwrap().len(), 4);
    let back = CredentialPublicKey::from_jwk(&jwk).unwrap();
    assert_eq!(back, key);

    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let response = AssertionResponse::from_json(&json).unwrap();
    verify_assertion(&response, &back, &expected(&challenge), 0).unwrap();
}

#[test]
fn request_options_have_the_shape_browsers_parse() {
    let (_, mut passkey) = setup();
    let options = request_options(
        &[0xfb, 0xff],
        "localhost",
        &[passkey.clone()],
        Duration::from_secs(90),
    );
    assert_eq!(
        options,
        json!({"publicKey": {
            "challenge": "-_8",
            "rpId": "localhost",
            "allowCredentials": [
                {"type": "public-key", "id": passkey.credential_id, "transports": ["internal"]}
            ],
            "userVerification": "required",
            "timeout": 90000,
        }})
    );
    passkey.transports.clear();
    let options = request_options(&[1], "localhost", &[passkey], Duration::from_secs(1));
    assert!(
        options["publicKey"]["allowCredentials"][0]
            .get("transports")
            .is_none()
    );
}

#[test]
fn another_challenge_is_refused() {
    let (mut authenticator, passkey) = setup();
    let json = sign(&mut authenticator, &passkey, b"another transaction");
    let challenge = challenge();
    let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
    assert!(matches!(err, PasskeyError::ChallengeMismatch), "{err:?}");
    assert_eq!(err.reason(), "challenge_mismatch");
}

#[test]
fn another_origin_is_refused() {
    let (mut authenticator, passkey) = setup();
    let challenge = challenge();
    for origin in [
        "https://localhost:8444",
        "https://localhost:8443/",
        "http://localhost:8443",
        "https://evil.example",
    ] {
        let json = sign_at(&mut authenticator, &passkey, &challenge, origin);
        let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
        assert!(
            matches!(err, PasskeyError::OriginMismatch),
            "{origin}: {err:?}"
        );
        assert_eq!(err.reason(), "origin_mismatch");
    }
}

#[test]
fn another_rp_id_is_refused() {
    let (mut authenticator, passkey) = setup();
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let other = Expected {
        rp_id: "example.com",
        ..expected(&challenge)
    };
    let err = verify_json(&json, &passkey, &other).unwrap_err();
    assert!(matches!(err, PasskeyError::RpIdMismatch), "{err:?}");
    assert_eq!(err.reason(), "rp_id_mismatch");
}

#[test]
fn missing_user_presence_is_refused() {
    let (mut authenticator, passkey) = setup();
    authenticator.user_present = false;
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
    assert!(matches!(err, PasskeyError::UserNotPresent), "{err:?}");
    assert_eq!(err.reason(), "user_not_present");
}

#[test]
fn missing_user_verification_is_refused() {
    let (mut authenticator, passkey) = setup();
    authenticator.user_verified = false;
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
    assert!(matches!(err, PasskeyError::UserNotVerified), "{err:?}");
    assert_eq!(err.reason(), "user_not_verified");
}

#[test]
fn backup_state_without_backup_eligibility_is_refused() {
    let (mut authenticator, passkey) = setup();
    authenticator.backup_state = true;
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
    assert!(
        matches!(err, PasskeyError::BackupStateWithoutEligibility),
        "{err:?}"
    );

    // BE and BS together are a synced, backed-up passkey: accepted and reported.
    authenticator.backup_eligible = true;
    let json = sign(&mut authenticator, &passkey, &challenge);
    let verified = verify_json(&json, &passkey, &expected(&challenge)).unwrap();
    assert!(verified.backup_eligible && verified.backup_state);
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let (mut authenticator, passkey) = setup();
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let good = AssertionResponse::from_json(&json).unwrap();
    let key = CredentialPublicKey::of_passkey(&passkey).unwrap();
    let expected = expected(&challenge);
    verify_assertion(&good, &key, &expected, 0).unwrap();

    let fields: [fn(&mut AssertionResponse) -> &mut Vec<u8>; 3] = [
        |r| &mut r.authenticator_data,
        |r| &mut r.client_data_json,
        |r| &mut r.signature,
    ];
    for (f, field) in fields.iter().enumerate() {
        let len = field(&mut good.clone()).len();
        for i in 0..len {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                field(&mut bad)[i] ^= bit;
                let result = verify_assertion(&bad, &key, &expected, 0);
                assert!(
                    result.is_err(),
                    "field {f}, byte {i}, bit {bit:#x} accepted"
                );
                if f == 2 {
                    assert!(
                        matches!(result, Err(PasskeyError::BadSignature)),
                        "{result:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let (mut authenticator, passkey) = setup();
    let (mut other_authenticator, other) = setup();
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let response = AssertionResponse::from_json(&json).unwrap();
    let other_key = CredentialPublicKey::of_passkey(&other).unwrap();
    let err = verify_assertion(&response, &other_key, &expected(&challenge), 0).unwrap_err();
    assert!(matches!(err, PasskeyError::BadSignature), "{err:?}");
    assert_eq!(err.reason(), "bad_signature");

    // And the other way round, through the stored-passkey wrapper: the credential id is checked
    // before any signature.
    let json = sign(&mut other_authenticator, &other, &challenge);
    let response = AssertionResponse::from_json(&json).unwrap();
    let err = verify_passkey_assertion(&response, &passkey, &expected(&challenge)).unwrap_err();
    assert!(matches!(err, PasskeyError::UnknownCredential), "{err:?}");
}

#[test]
fn a_counter_that_does_not_increase_is_refused_but_zero_stays_allowed() {
    let (mut authenticator, mut passkey) = setup();
    let challenge = challenge();
    let id = passkey.credential_id.clone();

    // Stored 5, received 4 (set to 3, then one step) or 5: refused, naming nothing yet.
    for value in [3, 4] {
        authenticator.set_counter(&id, value).unwrap();
        let json = sign(&mut authenticator, &passkey, &challenge);
        passkey.sign_count = 5;
        let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
        assert!(
            matches!(err, PasskeyError::SignCountNotIncreased { stored: 5, received } if received == value + 1),
            "{err:?}"
        );
        assert_eq!(err.reason(), "sign_count_regression");

        // The stored-passkey wrapper names the credential and its owner for the audit log.
        let response = AssertionResponse::from_json(&json).unwrap();
        let err = verify_passkey_assertion(&response, &passkey, &expected(&challenge)).unwrap_err();
        match err {
            PasskeyError::SignCountRegression {
                ref credential_id,
                ref user_id,
            } => {
                assert_eq!(credential_id, &passkey.credential_id);
                assert_eq!(user_id, &passkey.user_id);
                assert_eq!(err.user_id(), Some(passkey.user_id.as_str()));
            }
            other => panic!("{other:?}"),
        }
    }

    // Stored 5, received 6: accepted.
    authenticator.set_counter(&id, 5).unwrap();
    let json = sign(&mut authenticator, &passkey, &challenge);
    assert_eq!(
        verify_json(&json, &passkey, &expected(&challenge))
            .unwrap()
            .sign_count,
        6
    );

    // A synced passkey: 0 on both sides, every time.
    authenticator.counter_step = 0;
    authenticator.set_counter(&id, 0).unwrap();
    passkey.sign_count = 0;
    for _ in 0..2 {
        let json = sign(&mut authenticator, &passkey, &challenge);
        assert_eq!(
            verify_json(&json, &passkey, &expected(&challenge))
                .unwrap()
                .sign_count,
            0
        );
    }

    // Stored non-zero, received 0: §7.2 step 22 counts it as a regression (so does webauthn-rs
    // at sign-in, for the same credential).
    passkey.sign_count = 5;
    let json = sign(&mut authenticator, &passkey, &challenge);
    let err = verify_json(&json, &passkey, &expected(&challenge)).unwrap_err();
    assert!(
        matches!(
            err,
            PasskeyError::SignCountNotIncreased {
                stored: 5,
                received: 0
            }
        ),
        "{err:?}"
    );
}

#[test]
fn the_stored_passkey_wrapper_checks_user_handle_and_backup_eligibility() {
    let (mut authenticator, passkey) = setup();
    let challenge = challenge();
    let json = sign(&mut authenticator, &passkey, &challenge);
    let mut response = AssertionResponse::from_json(&json).unwrap();

    let mut other_owner = passkey.clone();
    other_owner.user_id = Uuid::new_v4().to_string();
    let err = verify_passkey_assertion(&response, &other_owner, &expected(&challenge)).unwrap_err();
    assert!(
        matches!(err, PasskeyError::UserHandleMismatch { .. }),
        "{err:?}"
    );

    // No user handle: nothing to compare (§7.2 step 6, user identified before the ceremony).
    response.user_handle = None;
    verify_passkey_assertion(&response, &passkey, &expected(&challenge)).unwrap();

    // Enrolled as backup eligible, now not: BE never changes for a credential (step 19).
    let mut synced = passkey.clone();
    synced.backup_eligible = true;
    synced.sign_count = 0;
    let json = sign(&mut authenticator, &passkey, &challenge);
    let response = AssertionResponse::from_json(&json).unwrap();
    let err = verify_passkey_assertion(&response, &synced, &expected(&challenge)).unwrap_err();
    assert!(
        matches!(err, PasskeyError::BackupEligibilityChanged),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Assertions signed here, byte by byte, for what the software authenticator never writes.

enum TestKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl TestKey {
    fn ec() -> Self {
        Self::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
    }

    fn public(&self) -> CredentialPublicKey {
        match self {
            Self::Ec(k) => {
                let point = k.public_key().as_ref();
                CredentialPublicKey::Es256 {
                    x: point[1..33].try_into().unwrap(),
                    y: point[33..65].try_into().unwrap(),
                }
            }
            Self::Rsa(k) => CredentialPublicKey::Rs256 {
                n: k.public_key()
                    .modulus()
                    .big_endian_without_leading_zero()
                    .to_vec(),
                e: k.public_key()
                    .exponent()
                    .big_endian_without_leading_zero()
                    .to_vec(),
            },
            Self::Ed(k) => CredentialPublicKey::Ed25519 {
                x: k.public_key().as_ref().try_into().unwrap(),
            },
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Ec(k) => k.sign(&rng, message).unwrap().as_ref().to_vec(),
            Self::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
                sig
            }
            Self::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }
}

const FLAGS_UP_UV: u8 = 0x05;

fn auth_data(rp_id: &str, flags: u8, count: u32, extensions: &[u8]) -> Vec<u8> {
    let mut out = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    out.push(flags);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(extensions);
    out
}

/// Compact client data with the challenge written as given and `tail` appended inside the object.
fn client_data(kind: &str, challenge_text: &str, tail: &str) -> Vec<u8> {
    format!(r#"{{"type":"{kind}","challenge":"{challenge_text}","origin":"{ORIGIN}"{tail}}}"#)
        .into_bytes()
}

fn signed(
    key: &TestKey,
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
) -> AssertionResponse {
    let mut message = authenticator_data.clone();
    message.extend_from_slice(digest(&SHA256, &client_data_json).as_ref());
    AssertionResponse {
        credential_id: vec![1; 16],
        signature: key.sign(&message),
        authenticator_data,
        client_data_json,
        user_handle: None,
    }
}

/// A good assertion by `key` with `tail` in its client data and `flags`.
fn made(key: &TestKey, tail: &str, flags: u8, extensions: &[u8]) -> AssertionResponse {
    signed(
        key,
        auth_data(RP_ID, flags, 0, extensions),
        client_data("webauthn.get", &b64(&challenge()), tail),
    )
}

fn refused(response: &AssertionResponse, key: &TestKey) -> PasskeyError {
    let challenge = challenge();
    verify_assertion(response, &key.public(), &expected(&challenge), 0).unwrap_err()
}

#[test]
fn all_three_algorithms_verify_and_their_jwks_round_trip() {
    let rsa = TestKey::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap());
    let keys = [
        TestKey::ec(),
        rsa,
        TestKey::Ed(Ed25519KeyPair::generate().unwrap()),
    ];
    let challenge = challenge();
    for (key, alg) in keys.iter().zip([-7, -257, -8]) {
        let public = key.public();
        assert_eq!(public.cose_alg(), alg);
        let jwk = public.to_jwk();
        let back = CredentialPublicKey::from_jwk(&jwk).unwrap();
        assert_eq!(back, public, "{jwk}");
        let response = made(key, r#","crossOrigin":false"#, FLAGS_UP_UV, &[]);
        let verified = verify_assertion(&response, &back, &expected(&challenge), 0).unwrap();
        assert_eq!(verified.sign_count, 0);
    }
    // Each key refuses the others' signatures.
    for (i, key) in keys.iter().enumerate() {
        let response = made(key, "", FLAGS_UP_UV, &[]);
        for (j, other) in keys.iter().enumerate() {
            if i != j {
                let err = verify_assertion(&response, &other.public(), &expected(&challenge), 0)
                    .unwrap_err();
                assert!(matches!(err, PasskeyError::BadSignature), "{err:?}");
            }
        }
    }
}

#[test]
fn a_padded_or_standard_alphabet_challenge_is_refused() {
    let key = TestKey::ec();
    // 32 bytes: 43 characters unpadded, one '=' padded; the SHA-256 below has '-' and '_'.
    let challenge = challenge();
    let text = b64(&challenge);
    assert!(text.contains('-') || text.contains('_'), "{text}");
    for spelling in [URL_SAFE.encode(&challenge), STANDARD.encode(&challenge)] {
        assert_ne!(spelling, text);
        let response = signed(
            &key,
            auth_data(RP_ID, FLAGS_UP_UV, 0, &[]),
            client_data("webauthn.get", &spelling, ""),
        );
        let err = refused(&response, &key);
        assert!(
            matches!(err, PasskeyError::ChallengeMismatch),
            "{spelling}: {err:?}"
        );
    }
}

#[test]
fn the_wrong_client_data_type_is_refused() {
    let key = TestKey::ec();
    for kind in ["webauthn.create", "payment.get", ""] {
        let response = signed(
            &key,
            auth_data(RP_ID, FLAGS_UP_UV, 0, &[]),
            client_data(kind, &b64(&challenge()), ""),
        );
        let err = refused(&response, &key);
        assert!(matches!(err, PasskeyError::TypeMismatch), "{kind}: {err:?}");
        assert_eq!(err.reason(), "type_mismatch");
    }
    // SPC's type is accepted when it is the one expected.
    let response = signed(
        &key,
        auth_data(RP_ID, FLAGS_UP_UV, 0, &[]),
        client_data(
            "payment.get",
            &b64(&challenge()),
            r#","payment":{"total":{"value":"1"}}"#,
        ),
    );
    let challenge = challenge();
    let spc = Expected {
        client_data_type: "payment.get",
        framing: shonin_passkeys::Framing::SameOrigin,
        ..expected(&challenge)
    };
    let verified = verify_assertion(&response, &key.public(), &spc, 0).unwrap();
    assert_eq!(verified.client_data["payment"]["total"]["value"], "1");
}

#[test]
fn a_cross_origin_assertion_is_refused() {
    let key = TestKey::ec();
    for tail in [
        r#","crossOrigin":true"#,
        r#","crossOrigin":"false""#,
        r#","crossOrigin":null"#,
        r#","crossOrigin":false,"topOrigin":"https://localhost:8443""#,
        r#","topOrigin":"https://shop.example""#,
    ] {
        let err = refused(&made(&key, tail, FLAGS_UP_UV, &[]), &key);
        assert!(matches!(err, PasskeyError::CrossOrigin), "{tail}: {err:?}");
        assert_eq!(err.reason(), "cross_origin");
    }
    // Chromium's extra member (there to stop templated comparisons) is fine.
    let challenge = challenge();
    let tail = r#","crossOrigin":false,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template""#;
    verify_assertion(
        &made(&key, tail, FLAGS_UP_UV, &[]),
        &key.public(),
        &expected(&challenge),
        0,
    )
    .unwrap();
}

#[test]
fn a_page_framed_by_any_https_checkout_may_accept_a_cross_origin_assertion_that_names_it() {
    let key = TestKey::ec();
    let challenge = challenge();
    let framed = Expected {
        framing: shonin_passkeys::Framing::AnyHttpsTop,
        ..expected(&challenge)
    };
    for tail in [
        r#","crossOrigin":true,"topOrigin":"https://shop.example""#,
        r#","crossOrigin":true,"topOrigin":"https://127.0.0.1:4443""#,
        // Not framed at all is fine too.
        r#","crossOrigin":false"#,
        "",
    ] {
        verify_assertion(
            &made(&key, tail, FLAGS_UP_UV, &[]),
            &key.public(),
            &framed,
            0,
        )
        .unwrap_or_else(|e| panic!("{tail}: {e:?}"));
    }
    for tail in [
        // A cross-origin frame must say under which page, and that page must be https.
        r#","crossOrigin":true"#,
        r#","crossOrigin":true,"topOrigin":"http://shop.example""#,
        r#","crossOrigin":true,"topOrigin":"https://""#,
        r#","crossOrigin":true,"topOrigin":7"#,
        r#","crossOrigin":false,"topOrigin":"https://shop.example""#,
        r#","crossOrigin":"true","topOrigin":"https://shop.example""#,
    ] {
        let err = verify_assertion(
            &made(&key, tail, FLAGS_UP_UV, &[]),
            &key.public(),
            &framed,
            0,
        )
        .unwrap_err();
        assert!(matches!(err, PasskeyError::CrossOrigin), "{tail}: {err:?}");
    }
}

#[test]
fn malformed_authenticator_data_is_refused() {
    let key = TestKey::ec();
    let challenge = challenge();
    let ok = |r: &AssertionResponse| verify_assertion(r, &key.public(), &expected(&challenge), 0);

    // Extension outputs (ED) that are exactly one CBOR map are accepted and ignored.
    let credprotect = [
        0xa1, 0x6b, b'c', b'r', b'e', b'd', b'P', b'r', b'o', b't', b'e', b'c', b't', 0x03,
    ];
    ok(&made(&key, "", FLAGS_UP_UV | 0x80, &credprotect)).unwrap();
    ok(&made(&key, "", FLAGS_UP_UV | 0x80, &[0xa0])).unwrap();

    let cases: Vec<(&str, AssertionResponse)> = vec![
        (
            "AT in an assertion",
            made(&key, "", FLAGS_UP_UV | 0x40, &[0; 40]),
        ),
        ("bytes without ED", made(&key, "", FLAGS_UP_UV, &[0xa0])),
        ("ED without bytes", made(&key, "", FLAGS_UP_UV | 0x80, &[])),
        ("ED not a map", made(&key, "", FLAGS_UP_UV | 0x80, &[0x80])),
        (
            "ED map truncated",
            made(&key, "", FLAGS_UP_UV | 0x80, &credprotect[..5]),
        ),
        (
            "ED trailing bytes",
            made(&key, "", FLAGS_UP_UV | 0x80, &[0xa0, 0x00]),
        ),
        (
            "ED indefinite",
            made(&key, "", FLAGS_UP_UV | 0x80, &[0xbf, 0xff]),
        ),
        (
            "ED huge count",
            made(
                &key,
                "",
                FLAGS_UP_UV | 0x80,
                &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ),
        (
            "ED deep",
            made(
                &key,
                "",
                FLAGS_UP_UV | 0x80,
                &[
                    0xa1, 0x01, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x00,
                ],
            ),
        ),
    ];
    for (name, response) in cases {
        let err = ok(&response).unwrap_err();
        assert!(matches!(err, PasskeyError::Malformed(_)), "{name}: {err:?}");
    }
    for len in [0, 1, 32, 36] {
        let mut response = made(&key, "", FLAGS_UP_UV, &[]);
        response.authenticator_data.truncate(len);
        let err = ok(&response).unwrap_err();
        assert!(matches!(err, PasskeyError::Malformed(_)), "{len}: {err:?}");
    }
}

#[test]
fn malformed_client_data_is_refused() {
    let key = TestKey::ec();
    let challenge = challenge();
    let good = String::from_utf8(client_data("webauthn.get", &b64(&challenge), "")).unwrap();
    let deep = format!(
        r#"{},"x":{}1{}}}"#,
        &good[..good.len() - 1],
        "[".repeat(20),
        "]".repeat(20)
    );
    let cases = [
        ("not JSON", b"not json".to_vec()),
        ("empty", Vec::new()),
        ("array", b"[1]".to_vec()),
        (
            "byte-order mark",
            [&[0xef, 0xbb, 0xbf][..], good.as_bytes()].concat(),
        ),
        (
            "not UTF-8",
            [
                &good.as_bytes()[..good.len() - 1],
                br#","x":""#,
                &[0xff],
                br#""}"#,
            ]
            .concat(),
        ),
        (
            "second challenge",
            format!(r#"{},"challenge":"x"}}"#, &good[..good.len() - 1]).into_bytes(),
        ),
        ("deep", deep.into_bytes()),
        (
            "challenge not a string",
            br#"{"type":"webauthn.get","challenge":1,"origin":"https://localhost:8443"}"#.to_vec(),
        ),
        (
            "origin missing",
            format!(
                r#"{{"type":"webauthn.get","challenge":"{}"}}"#,
                b64(&challenge)
            )
            .into_bytes(),
        ),
        ("too long", [good.as_bytes(), &vec![b' '; 4096]].concat()),
    ];
    for (name, data) in cases {
        let response = signed(&key, auth_data(RP_ID, FLAGS_UP_UV, 0, &[]), data);
        let err = verify_assertion(&response, &key.public(), &expected(&challenge), 0).unwrap_err();
        assert!(matches!(err, PasskeyError::Malformed(_)), "{name}: {err:?}");
        assert_eq!(err.reason(), "malformed");
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON shapes.

fn good_json() -> Value {
    let (mut authenticator, passkey) = setup();
    sign(&mut authenticator, &passkey, &challenge())
}

#[test]
fn malformed_response_json_is_refused_without_panicking() {
    let good = good_json();
    AssertionResponse::from_json(&good).unwrap();
    let id = good["id"].as_str().unwrap().to_owned();
    let padded = URL_SAFE.encode(URL_SAFE_NO_PAD.decode(&id).unwrap());
    assert!(padded.ends_with('='));
    let long = |n: usize| Value::String(b64(&vec![0x61; n]));

    let mut cases: Vec<(&str, Value)> = vec![
        ("null", Value::Null),
        ("array", json!([good.clone()])),
        ("string", json!("x")),
    ];
    let mut edit = |name: &'static str, f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        cases.push((name, v));
    };
    edit("no id", &|v| {
        v.as_object_mut().unwrap().remove("id");
    });
    edit("no rawId", &|v| {
        v.as_object_mut().unwrap().remove("rawId");
    });
    edit("id differs from rawId", &|v| {
        v["rawId"] = json!(b64(&[1; 32]))
    });
    edit("id padded like rawId", &|v| {
        v["id"] = json!(padded);
        v["rawId"] = json!(padded);
    });
    edit("id empty", &|v| {
        v["id"] = json!("");
        v["rawId"] = json!("");
    });
    edit("id too long", &|v| {
        v["id"] = long(1024);
        v["rawId"] = long(1024);
    });
    edit("id a number", &|v| v["id"] = json!(1));
    edit("no type", &|v| {
        v.as_object_mut().unwrap().remove("type");
    });
    edit("wrong type", &|v| v["type"] = json!("password"));
    edit("no response", &|v| {
        v.as_object_mut().unwrap().remove("response");
    });
    edit("response an array", &|v| v["response"] = json!([]));
    for member in ["clientDataJSON", "authenticatorData", "signature"] {
        edit("member missing", &move |v| {
            v["response"].as_object_mut().unwrap().remove(member);
        });
        edit("member a number", &move |v| {
            v["response"][member] = json!(7)
        });
        edit("member padded", &move |v| {
            let text = v["response"][member].as_str().unwrap().to_owned();
            v["response"][member] = json!(format!("{text}="));
        });
        edit("member in the standard alphabet", &move |v| {
            let bytes = URL_SAFE_NO_PAD
                .decode(v["response"][member].as_str().unwrap())
                .unwrap();
            let text = STANDARD.encode([&[0xfb, 0xff, 0xfe][..], &bytes[..]].concat());
            assert!(text.starts_with("+//+"));
            v["response"][member] = json!(text.trim_end_matches('='));
        });
        edit("member with trailing bits", &move |v| {
            v["response"][member] = json!("AB")
        });
    }
    edit("clientDataJSON too long", &|v| {
        v["response"]["clientDataJSON"] = long(4097)
    });
    edit("authenticatorData too long", &|v| {
        v["response"]["authenticatorData"] = long(1025)
    });
    edit("signature too long", &|v| {
        v["response"]["signature"] = long(1025)
    });
    edit("userHandle too long", &|v| {
        v["response"]["userHandle"] = long(65)
    });
    edit("userHandle empty", &|v| {
        v["response"]["userHandle"] = json!("")
    });
    edit("userHandle a number", &|v| {
        v["response"]["userHandle"] = json!(1)
    });
    edit("userHandle padded", &|v| {
        v["response"]["userHandle"] = json!("AQ==")
    });

    for (name, value) in &cases {
        let err = AssertionResponse::from_json(value).unwrap_err();
        assert!(matches!(err, PasskeyError::Malformed(_)), "{name}: {err:?}");
        assert_eq!(err.reason(), "malformed");
    }

    // At the limits, and with a null or absent user handle: accepted.
    let mut v = good.clone();
    v["id"] = long(1023);
    v["rawId"] = long(1023);
    v["response"]["userHandle"] = Value::Null;
    let response = AssertionResponse::from_json(&v).unwrap();
    assert_eq!(response.credential_id.len(), 1023);
    assert_eq!(response.user_handle, None);
    v["response"].as_object_mut().unwrap().remove("userHandle");
    v["response"]["signature"] = long(1024);
    v["response"]["clientDataJSON"] = long(4096);
    v["response"]["authenticatorData"] = long(1024);
    AssertionResponse::from_json(&v).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Keys.

#[test]
fn strict_jwks_are_required() {
    let key = TestKey::ec().public();
    let jwk = key.to_jwk();
    let ed = TestKey::Ed(Ed25519KeyPair::generate().unwrap())
        .public()
        .to_jwk();
    let mut cases: Vec<(&str, Value)> = vec![("not an object", json!("x"))];
    let mut edit = |name: &'static str, base: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        cases.push((name, v));
    };
    edit("alg added", &jwk, &|v| v["alg"] = json!("ES256"));
    edit("d added", &jwk, &|v| v["d"] = json!("AAAA"));
    edit("y missing", &jwk, &|v| {
        v.as_object_mut().unwrap().remove("y");
    });
    edit("P-384", &jwk, &|v| v["crv"] = json!("P-384"));
    edit("short x", &jwk, &|v| v["x"] = json!(b64(&[1; 31])));
    edit("long x", &jwk, &|v| v["x"] = json!(b64(&[1; 33])));
    edit("off the curve", &jwk, &|v| v["y"] = json!(b64(&[1; 32])));
    edit("padded x", &jwk, &|v| {
        let x = URL_SAFE_NO_PAD.decode(v["x"].as_str().unwrap()).unwrap();
        v["x"] = json!(URL_SAFE.encode(x));
    });
    edit("kty a number", &jwk, &|v| v["kty"] = json!(2));
    edit("oct", &jwk, &|v| *v = json!({"kty": "oct", "k": "AAAA"}));
    edit("X25519", &ed, &|v| v["crv"] = json!("X25519"));
    edit("Ed25519 short", &ed, &|v| v["x"] = json!(b64(&[9; 31])));
    edit("Ed25519 with y", &ed, &|v| v["y"] = json!(b64(&[9; 32])));
    let n = b64(&[&[0xc0][..], &[0x55; 255]].concat());
    edit("RSA 1024", &json!({}), &|v| {
        *v = json!({"kty": "RSA", "n": b64(&[0xc0; 128]), "e": "AQAB"})
    });
    edit(
        "RSA leading zero",
        &json!({}),
        &|v| *v = json!({"kty": "RSA", "n": b64(&[&[0][..], &[0xc0; 256]].concat()), "e": "AQAB"}),
    );
    edit("RSA e leading zero", &json!({}), &|v| {
        *v = json!({"kty": "RSA", "n": n, "e": "AAEAAQ"})
    });
    edit("RSA crv", &json!({}), &|v| {
        *v = json!({"kty": "RSA", "n": n, "e": "AQAB", "crv": "P-256"})
    });
    for (name, value) in &cases {
        let err = CredentialPublicKey::from_jwk(value).unwrap_err();
        assert!(matches!(err, PasskeyError::Malformed(_)), "{name}: {err:?}");
    }
    let rsa = json!({"kty": "RSA", "n": n, "e": "AQAB"});
    assert_eq!(CredentialPublicKey::from_jwk(&rsa).unwrap().to_jwk(), rsa);
}

/// `passkey` with its webauthn-rs COSE key replaced by `cose` (webauthn-rs's serde form).
fn with_cose_key(passkey: &StoredPasskey, cose: Value) -> StoredPasskey {
    let mut json: Value = serde_json::from_str(&passkey.credential).unwrap();
    *json.pointer_mut("/cred/cred").unwrap() = cose;
    StoredPasskey {
        credential: json.to_string(),
        ..passkey.clone()
    }
}

#[test]
fn rsa_and_ed25519_passkeys_are_read_and_other_algorithms_refused() {
    let (_, passkey) = setup();
    let stored: Value = serde_json::from_str(&passkey.credential).unwrap();
    assert_eq!(stored["cred"]["cred"]["type_"], "ES256", "{stored}");

    let rsa = TestKey::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap());
    let CredentialPublicKey::Rs256 { n, e } = rsa.public() else {
        unreachable!()
    };
    // COSE's exponent is three bytes in webauthn-rs, and some authenticators pad the modulus.
    let mut e3 = vec![0; 3 - e.len()];
    e3.extend_from_slice(&e);
    let padded_n = [&[0][..], &n].concat();
    let cose = json!({"type_": "RS256", "key": {"RSA": {"n": b64(&padded_n), "e": e3}}});
    let from_passkey = CredentialPublicKey::of_passkey(&with_cose_key(&passkey, cose)).unwrap();
    assert_eq!(from_passkey, rsa.public());

    let ed = TestKey::Ed(Ed25519KeyPair::generate().unwrap());
    let CredentialPublicKey::Ed25519 { x } = ed.public() else {
        unreachable!()
    };
    let cose = json!({"type_": "EDDSA", "key": {"EC_OKP": {"curve": "ED25519", "x": b64(&x)}}});
    let from_passkey = CredentialPublicKey::of_passkey(&with_cose_key(&passkey, cose)).unwrap();
    assert_eq!(from_passkey, ed.public());

    let ec = stored["cred"]["cred"]["key"]["EC_EC2"].clone();
    for cose in [
        json!({"type_": "ES384", "key": {"EC_EC2": ec}}),
        json!({"type_": "RS256", "key": {"EC_EC2": ec}}),
        json!({"type_": "PS256", "key": {"RSA": {"n": b64(&n), "e": [1, 0, 1]}}}),
        json!({"type_": "RS256", "key": {"RSA": {"n": b64(&n[..128]), "e": [1, 0, 1]}}}),
        json!({"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP384R1", "x": ec["x"], "y": ec["y"]}}}),
    ] {
        let err =
            CredentialPublicKey::of_passkey(&with_cose_key(&passkey, cose.clone())).unwrap_err();
        assert!(
            matches!(err, PasskeyError::UnsupportedKey(_)),
            "{cose}: {err:?}"
        );
        assert_eq!(err.reason(), "unsupported_key");
    }

    let corrupt = StoredPasskey {
        credential: "{".into(),
        ..passkey
    };
    assert!(matches!(
        CredentialPublicKey::of_passkey(&corrupt),
        Err(PasskeyError::Storage(_))
    ));
}

#[test]
fn error_messages_name_no_secret_and_reasons_are_fixed() {
    // The messages carry no challenge, key or signature bytes; the reasons are fixed codes.
    let challenge = challenge();
    let text = b64(&challenge);
    for err in [
        PasskeyError::TypeMismatch,
        PasskeyError::ChallengeMismatch,
        PasskeyError::OriginMismatch,
        PasskeyError::CrossOrigin,
        PasskeyError::RpIdMismatch,
        PasskeyError::UserNotPresent,
        PasskeyError::BackupStateWithoutEligibility,
        PasskeyError::BackupEligibilityChanged,
        PasskeyError::BadSignature,
        PasskeyError::SignCountNotIncreased {
            stored: 2,
            received: 1,
        },
        PasskeyError::UnsupportedKey("x"),
    ] {
        assert!(!err.to_string().contains(&text));
        assert!(err.is_refusal());
        assert!(
            err.reason()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{}",
            err.reason()
        );
    }
}
