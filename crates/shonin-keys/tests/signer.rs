#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! LocalSigner and sign_jwt.

use serde_json::{Value, json};
use shonin_jose::{Alg, PRIVATE_JWK_MEMBERS, VerifyOptions, b64url_decode, verify_jwt};
use shonin_keys::{KeyError, LocalSigner, MasterKey, RsaBits, Signer, sign_jwt};
use time::OffsetDateTime;

fn rfc8037() -> Value {
    serde_json::from_str(include_str!(
        "../../shonin-jose/tests/vectors/rfc8037-appendix-a.json"
    ))
    .unwrap()
}

/// PKCS#8 v1 for an Ed25519 seed (RFC 8410 §7): fixed prefix, then the 32-byte seed.
fn ed25519_pkcs8(seed: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

fn claims() -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    json!({"iss":"https://as.example","sub":"s","iat":now,"exp":now + 60})
}

#[test]
fn local_signer_reproduces_the_rfc8037_a4_signature() {
    let v = rfc8037();
    let seed = b64url_decode(v["private_jwk"]["d"].as_str().unwrap()).unwrap();
    let signer = LocalSigner::from_pkcs8("a1", Alg::EdDSA, &ed25519_pkcs8(&seed)).unwrap();
    assert_eq!(signer.public_jwk()["x"], v["public_jwk"]["x"]);
    let jws = v["jws"].as_str().unwrap();
    let (input, sig) = jws.rsplit_once('.').unwrap();
    assert_eq!(
        signer.sign_now(input.as_bytes()).unwrap(),
        b64url_decode(sig).unwrap()
    );
}

#[tokio::test]
async fn sign_jwt_verifies_for_every_algorithm_and_with_jsonwebtoken() {
    for signer in [
        LocalSigner::generate(Alg::ES256).unwrap(),
        LocalSigner::generate(Alg::EdDSA).unwrap(),
        LocalSigner::generate_ps256(RsaBits::Rsa2048).unwrap(),
    ] {
        let token = sign_jwt(&signer, "at+jwt", &claims()).await.unwrap();
        let header = shonin_jose::decode_header(&token).unwrap();
        assert_eq!(header.alg, signer.alg());
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwks = json!({"keys":[signer.public_jwk()]});
        let opts = VerifyOptions::new(OffsetDateTime::now_utc()).with_typ("at+jwt");
        verify_jwt(&token, &jwks, &opts).unwrap();

        // Interop oracle: an independent implementation accepts our signatures.
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(signer.public_jwk().clone()).unwrap();
        let alg = match signer.alg() {
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::PS256 => jsonwebtoken::Algorithm::PS256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        };
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
    }
}

#[test]
fn signatures_have_the_jws_lengths() {
    let msg = b"m";
    // RFC 7518 §3.4: ES256 is the 64-byte r‖s, not DER.
    assert_eq!(
        LocalSigner::generate(Alg::ES256)
            .unwrap()
            .sign_now(msg)
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        LocalSigner::generate(Alg::EdDSA)
            .unwrap()
            .sign_now(msg)
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        LocalSigner::generate_ps256(RsaBits::Rsa2048)
            .unwrap()
            .sign_now(msg)
            .unwrap()
            .len(),
        256
    );
    assert_eq!(
        LocalSigner::generate(Alg::PS256)
            .unwrap()
            .sign_now(msg)
            .unwrap()
            .len(),
        384
    );
}

#[test]
fn public_jwks_carry_kid_alg_use_and_no_private_members() {
    for alg in [Alg::ES256, Alg::EdDSA] {
        let s = LocalSigner::generate(alg).unwrap();
        let jwk = s.public_jwk();
        assert_eq!(jwk["kid"], s.kid());
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        // The generated kid is the RFC 7638 thumbprint.
        assert_eq!(shonin_jose::jwk_thumbprint_sha256(jwk).unwrap(), s.kid());
        for m in PRIVATE_JWK_MEMBERS {
            assert!(jwk.get(m).is_none(), "{alg}: {m}");
        }
        shonin_jose::validate_public_jwk(jwk, alg).unwrap();
    }
}

#[test]
fn from_pkcs8_refuses_a_key_of_another_algorithm() {
    let v = rfc8037();
    let seed = b64url_decode(v["private_jwk"]["d"].as_str().unwrap()).unwrap();
    let ed = ed25519_pkcs8(&seed);
    for alg in [Alg::ES256, Alg::PS256] {
        assert!(matches!(
            LocalSigner::from_pkcs8("k", alg, &ed),
            Err(KeyError::InvalidPrivateKey { .. })
        ));
    }
    assert!(LocalSigner::from_pkcs8("k", Alg::EdDSA, b"junk").is_err());
}

#[test]
fn debug_of_signer_and_master_key_never_shows_key_bytes() {
    let v = rfc8037();
    let d = v["private_jwk"]["d"].as_str().unwrap();
    let seed = b64url_decode(d).unwrap();
    let signer = LocalSigner::from_pkcs8("a1", Alg::EdDSA, &ed25519_pkcs8(&seed)).unwrap();
    let dbg = format!("{signer:?} {signer:#?}");
    assert!(dbg.contains("REDACTED") && dbg.contains("a1"));
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!dbg.contains(d) && !dbg.to_lowercase().contains(&hex[..16]));
    assert!(!dbg.contains(&format!("{:?}", &seed[..4])[1..10]));

    let master = MasterKey::generate().unwrap();
    let text = master.to_base64();
    let dbg = format!("{master:?} {master:#?}");
    assert!(!dbg.contains(text.as_str()) && !dbg.contains(&text[..8]));
    assert!(dbg.contains("REDACTED"));
}
