//! The PKCS#11 keystore against a real module: SoftHSM2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use secrecy::SecretString;
use shonin_keys::{KeyEncryptionKey, KeyPurpose, MacKey, Signer};
use shonin_keys_pkcs11::{Hsm, HsmSettings};
use shonin_testkit::softhsm;

fn settings(test: &str) -> HsmSettings {
    let t = softhsm::token().expect("a SoftHSM2 token");
    HsmSettings {
        module: t.module,
        token_label: t.token_label,
        pin: SecretString::from(softhsm::PIN),
        signing_key_label: Some(format!("{test}-signing")),
        kek_label: Some(format!("{test}-kek")),
        mac_key_label: None,
        sessions: 2,
        serialize_calls: true,
    }
}

/// Makes `signing` key pairs and one KEK under the labels of `s`.
fn provision(s: &HsmSettings, signing: usize) {
    let hsm = Hsm::open_for_setup(s.clone()).unwrap();
    for i in 0..signing {
        hsm.generate_signing_key(1_800_000_000 + i64::try_from(i).unwrap())
            .unwrap();
    }
    hsm.generate_kek(1_800_000_000).unwrap();
}

async fn verify(signer: &dyn Signer, jwk: &serde_json::Value) {
    let token = shonin_keys::sign_jwt(signer, "JWT", &serde_json::json!({"sub": "hsm"}))
        .await
        .unwrap();
    let (_header, claims) = shonin_jose::verify_jws_with_jwk(&token, jwk).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    assert_eq!(claims["sub"], "hsm");
    // Another payload under the same signature does not verify.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = shonin_jose::b64url_encode(br#"{"sub":"other"}"#);
    assert!(shonin_jose::verify_jws_with_jwk(&parts.join("."), jwk).is_err());
}

#[tokio::test]
async fn an_hsm_key_signs_es256_that_verifies_with_its_published_jwk() {
    let s = settings("sign");
    provision(&s, 1);
    let hsm = Hsm::open(s).unwrap();
    let signer = hsm.current_signer().unwrap();
    assert_eq!(signer.alg().as_str(), "ES256");
    let jwk = signer.public_jwk().clone();
    assert_eq!(jwk["kid"], signer.kid());
    assert_eq!(jwk["crv"], "P-256");
    assert!(jwk.get("d").is_none(), "no private part: {jwk}");
    assert_eq!(hsm.public_jwks(), vec![jwk.clone()]);
    verify(signer.as_ref(), &jwk).await;
    assert!(!format!("{signer:?}{hsm:?}").contains(softhsm::PIN));
}

#[tokio::test]
async fn a_second_key_is_next_and_a_third_makes_it_current() {
    let s = settings("rotate");
    provision(&s, 2);
    let hsm = Hsm::open(s.clone()).unwrap();
    let list = hsm.list();
    let states: Vec<_> = list.iter().map(|k| k.state).collect();
    assert_eq!(states, ["current", "next", "current"], "{list:?}");
    let first = hsm.current_signer().unwrap().kid().to_owned();
    assert_eq!(list[0].name, first);
    assert_eq!(list[0].created, Some(1_800_000_000));
    let jwks = hsm.public_jwks();
    assert_eq!(jwks.len(), 2);
    assert_eq!(jwks[0]["kid"], first.as_str(), "the current key leads");
    // Rotation: a new key; the old next key signs now.
    let newest = hsm.generate_signing_key(1_800_000_100).unwrap();
    let current = hsm.current_signer().unwrap();
    assert_eq!(current.kid(), list[1].name);
    assert_ne!(current.kid(), newest);
    verify(current.as_ref(), &current.public_jwk().clone()).await;
    // Another process opening the token sees the same keys.
    let other = Hsm::open(s).unwrap();
    assert_eq!(other.current_signer().unwrap().kid(), current.kid());
    assert!(!other.reload().unwrap(), "nothing changed since");
}

#[tokio::test]
async fn the_kek_wraps_in_rfc_3394_and_only_it_unwraps() {
    let s = settings("kek");
    provision(&s, 0);
    let hsm = Hsm::open(shonin_keys_pkcs11::HsmSettings {
        signing_key_label: None,
        ..s.clone()
    })
    .unwrap();
    let kek = hsm.current_kek().unwrap();
    assert!(
        kek.version().starts_with("pkcs11:kek-kek:"),
        "{}",
        kek.version()
    );
    let dek = [7u8; 32];
    let wrapped = kek.wrap(&dek).await.unwrap();
    assert_eq!(wrapped.len(), 40, "RFC 3394: 8 bytes longer");
    assert_ne!(&wrapped[..32], &dek[..]);
    assert_eq!(kek.unwrap(&wrapped).await.unwrap(), dek);
    // One flipped bit: the integrity check of RFC 3394 §2.2.3 fails.
    let mut tampered = wrapped.clone();
    tampered[20] ^= 1;
    assert!(kek.unwrap(&tampered).await.is_err());
    assert!(
        kek.wrap(&[1u8; 16]).await.is_err(),
        "data keys are 32 bytes"
    );
    // A second KEK is current; the first still unwraps what it wrapped, the second does not.
    let v2 = hsm.generate_kek(1_800_000_500).unwrap();
    let kek2 = hsm.current_kek().unwrap();
    assert_eq!(kek2.version(), v2);
    assert_eq!(hsm.keks().len(), 2);
    assert!(kek2.unwrap(&wrapped).await.is_err());
    assert_eq!(hsm.keks()[0].unwrap(&wrapped).await.unwrap(), dek);
    // The wrapped form is plain RFC 3394: temporary objects are not left on the token.
    let left = hsm.list().len();
    for _ in 0..5 {
        let w = kek2.wrap(&dek).await.unwrap();
        kek2.unwrap(&w).await.unwrap();
    }
    assert_eq!(hsm.list().len(), left);
}

/// The MAC keys: one per purpose, made once, found again by another opening of the token (as
/// another node would), deterministic, 32 bytes, separated by purpose; a configured prefix
/// whose keys are missing fails the opening and names the label.
#[tokio::test]
async fn mac_keys_are_one_per_purpose_and_the_same_for_every_opening() {
    let s = HsmSettings {
        signing_key_label: None,
        kek_label: None,
        mac_key_label: Some("mac-test".into()),
        ..settings("mac")
    };
    let e = Hsm::open(s.clone()).unwrap_err().to_string();
    assert!(
        e.contains("HMAC-SHA256 generic secret key") && e.contains("mac-test/card-fingerprints"),
        "{e}"
    );
    let setup = Hsm::open_for_setup(s.clone()).unwrap();
    let made = setup.generate_mac_keys(1_800_000_000).unwrap();
    assert_eq!(made.len(), 3, "{made:?}");
    assert!(setup.generate_mac_keys(1_800_000_001).unwrap().is_empty());
    let hsm = Hsm::open(s).unwrap();
    let fingerprints = hsm.mac_key(KeyPurpose::CardFingerprint).unwrap();
    let values = hsm.mac_key(KeyPurpose::ThreeDsAuthenticationValue).unwrap();
    assert!(hsm.mac_key(KeyPurpose::Tokens).is_none());
    let a = fingerprints.mac(b"4012888888881881").await.unwrap();
    assert_eq!(a, fingerprints.mac(b"4012888888881881").await.unwrap());
    assert_eq!(
        a,
        setup
            .mac_key(KeyPurpose::CardFingerprint)
            .unwrap()
            .mac(b"4012888888881881")
            .await
            .unwrap()
    );
    assert_ne!(a, fingerprints.mac(b"4012888888881882").await.unwrap());
    assert_ne!(a, values.mac(b"4012888888881881").await.unwrap());
    assert!(
        fingerprints
            .key_id()
            .starts_with("pkcs11:mac-test/card-fingerprints:")
    );
    assert!(!format!("{fingerprints:?}").contains("handle"));
    let listed: Vec<_> = hsm.list().into_iter().filter(|k| k.kind == "mac").collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
}
