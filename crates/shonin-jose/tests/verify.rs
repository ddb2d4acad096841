#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! verify_jwt / verify_with_jwk against keys generated here with aws-lc-rs, plus negative cases.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair,
};
use serde_json::{Value, json};
use shonin_jose::{
    Alg, JoseError, MAX_JWS_LEN, VerifyOptions, assemble, b64url_decode, b64url_encode,
    decode_header, jwk_thumbprint_sha256, signing_input, verify_jwt, verify_with_jwk,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn opts() -> VerifyOptions {
    VerifyOptions::new(NOW)
}

fn ts(offset_s: i64) -> i64 {
    (NOW + Duration::seconds(offset_s)).unix_timestamp()
}

fn valid_claims() -> Value {
    json!({"iss":"client-1","sub":"client-1","iat":ts(0),"exp":ts(60),"jti":"j1"})
}

/// A test key: its public JWK and a way to sign.
enum Key {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl Key {
    fn es256() -> Self {
        Key::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }
    fn eddsa() -> Self {
        Key::Ed(Ed25519KeyPair::generate().unwrap())
    }
    fn rsa() -> Self {
        Key::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            Key::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty":"EC","crv":"P-256","x":b64url_encode(&p[1..33]),"y":b64url_encode(&p[33..65]),"kid":kid})
            }
            Key::Ed(k) => {
                json!({"kty":"OKP","crv":"Ed25519","x":b64url_encode(k.public_key().as_ref()),"kid":kid})
            }
            Key::Rsa(k) => {
                let pk = k.public_key();
                json!({"kty":"RSA",
                    "n":b64url_encode(pk.modulus().big_endian_without_leading_zero()),
                    "e":b64url_encode(pk.exponent().big_endian_without_leading_zero()),"kid":kid})
            }
        }
    }

    fn sign(&self, alg_for_rsa: &str, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Key::Ec(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Key::Ed(k) => k.sign(msg).as_ref().to_vec(),
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                let pad = if alg_for_rsa == "RS256" {
                    &RSA_PKCS1_SHA256
                } else {
                    &RSA_PSS_SHA256
                };
                k.sign(pad, &rng, msg, &mut sig).unwrap();
                sig
            }
        }
    }

    fn token(&self, header: Value, claims: &Value) -> String {
        let alg = header["alg"].as_str().unwrap().to_owned();
        let si = signing_input(&header, claims).unwrap();
        assemble(&si, &self.sign(&alg, si.as_bytes()))
    }
}

fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

/// A compact token with arbitrary header/payload/signature, bypassing `signing_input`'s policy.
fn raw_token(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let si = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    assemble(&si, &sign(si.as_bytes()))
}

#[test]
fn each_policy_algorithm_verifies_against_a_jwks() {
    for (alg, key) in [
        ("ES256", Key::es256()),
        ("EdDSA", Key::eddsa()),
        ("PS256", Key::rsa()),
    ] {
        let token = key.token(json!({"alg":alg,"kid":"k1","typ":"JWT"}), &valid_claims());
        let set = jwks(&[Key::eddsa().jwk("other"), key.jwk("k1")]);
        let claims = verify_jwt(&token, &set, &opts()).unwrap();
        assert_eq!(claims["jti"], "j1", "{alg}");
        assert_eq!(decode_header(&token).unwrap().alg.as_str(), alg);
    }
}

#[test]
fn a_token_from_jsonwebtoken_verifies_and_thumbprints_agree() {
    // Interop oracle: an independent JOSE implementation signs, we verify.
    let pkcs8 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .unwrap()
        .to_pkcs8v1()
        .unwrap();
    let ours = Key::Ec(
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(
        &header,
        &valid_claims(),
        &jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
    .unwrap();
    let jwk = ours.jwk("k1");
    verify_with_jwk(&token, &jwk, &opts()).unwrap();

    for key in [Key::es256(), Key::eddsa(), Key::rsa()] {
        let jwk = key.jwk("t");
        let theirs: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
        assert_eq!(
            jwk_thumbprint_sha256(&jwk).unwrap(),
            theirs
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap()
        );
    }
}

#[test]
fn alg_none_is_rejected() {
    let key = Key::es256();
    let claims = valid_claims();
    let unsecured = raw_token(&json!({"alg":"none","kid":"k1"}), &claims, |_| Vec::new());
    let set = jwks(&[key.jwk("k1")]);
    assert_eq!(
        verify_jwt(&unsecured, &set, &opts()),
        Err(JoseError::Malformed("empty signature segment"))
    );
    let with_sig = raw_token(&json!({"alg":"none","kid":"k1"}), &claims, |_| vec![1]);
    assert_eq!(
        verify_jwt(&with_sig, &set, &opts()),
        Err(JoseError::AlgNotAllowed("none".into()))
    );
}

#[test]
fn hs256_signed_with_the_public_key_bytes_is_rejected() {
    // The classic algorithm-confusion attack (RFC 8725 §2.1): HMAC keyed with public key bytes.
    let key = Key::es256();
    let jwk = key.jwk("k1");
    let secret = jwk.to_string();
    let token = raw_token(&json!({"alg":"HS256","kid":"k1"}), &valid_claims(), |m| {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        aws_lc_rs::hmac::sign(&k, m).as_ref().to_vec()
    });
    assert_eq!(
        verify_jwt(&token, &jwks(std::slice::from_ref(&jwk)), &opts()),
        Err(JoseError::AlgNotAllowed("HS256".into()))
    );
    assert_eq!(
        verify_with_jwk(&token, &jwk, &opts()),
        Err(JoseError::AlgNotAllowed("HS256".into()))
    );
}

#[test]
fn rs256_is_rejected_even_with_a_valid_rsa_signature() {
    let key = Key::rsa();
    let token = raw_token(&json!({"alg":"RS256","kid":"k1"}), &valid_claims(), |m| {
        key.sign("RS256", m)
    });
    assert_eq!(
        verify_jwt(&token, &jwks(&[key.jwk("k1")]), &opts()),
        Err(JoseError::AlgNotAllowed("RS256".into()))
    );
}

#[test]
fn ps256_header_against_a_jwk_marked_rs256_is_a_key_alg_mismatch() {
    let key = Key::rsa();
    let token = key.token(json!({"alg":"PS256","kid":"k1"}), &valid_claims());
    let mut jwk = key.jwk("k1");
    jwk["alg"] = json!("RS256");
    assert_eq!(
        verify_jwt(&token, &jwks(&[jwk]), &opts()),
        Err(JoseError::KeyAlgMismatch("alg"))
    );
}

#[test]
fn unknown_kid_is_rejected() {
    let key = Key::es256();
    let token = key.token(json!({"alg":"ES256","kid":"nope"}), &valid_claims());
    assert_eq!(
        verify_jwt(&token, &jwks(&[key.jwk("k1")]), &opts()),
        Err(JoseError::UnknownKey)
    );
}

#[test]
fn kid_match_with_the_wrong_kty_is_rejected() {
    let key = Key::es256();
    let token = key.token(json!({"alg":"ES256","kid":"k1"}), &valid_claims());
    assert_eq!(
        verify_jwt(&token, &jwks(&[Key::eddsa().jwk("k1")]), &opts()),
        Err(JoseError::KeyAlgMismatch("kty"))
    );
}

#[test]
fn duplicate_kids_are_disambiguated_by_kty_and_crv() {
    // FAPI 2.0 §5.4: with duplicate kids the verifier also matches kty/use/alg/crv.
    let ec = Key::es256();
    let ed = Key::eddsa();
    let set = jwks(&[ed.jwk("dup"), ec.jwk("dup")]);
    let t1 = ec.token(json!({"alg":"ES256","kid":"dup"}), &valid_claims());
    let t2 = ed.token(json!({"alg":"EdDSA","kid":"dup"}), &valid_claims());
    verify_jwt(&t1, &set, &opts()).unwrap();
    verify_jwt(&t2, &set, &opts()).unwrap();
    let same = jwks(&[ec.jwk("dup"), Key::es256().jwk("dup")]);
    assert_eq!(
        verify_jwt(&t1, &same, &opts()),
        Err(JoseError::AmbiguousKey)
    );
}

#[test]
fn without_kid_the_single_fitting_key_is_used() {
    let ec = Key::es256();
    let token = ec.token(json!({"alg":"ES256"}), &valid_claims());
    let mut jwk = ec.jwk("k1");
    jwk.as_object_mut().unwrap().remove("kid");
    verify_jwt(
        &token,
        &jwks(&[Key::eddsa().jwk("e"), jwk.clone()]),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        verify_jwt(&token, &jwks(&[jwk, Key::es256().jwk("x")]), &opts()),
        Err(JoseError::AmbiguousKey)
    );
}

#[test]
fn a_key_embedded_in_the_header_is_never_trusted_by_verify_jwt() {
    let victim = Key::es256();
    let attacker = Key::es256();
    let token = attacker.token(
        json!({"alg":"ES256","kid":"k1","jwk":attacker.jwk("k1")}),
        &valid_claims(),
    );
    assert_eq!(
        verify_jwt(&token, &jwks(&[victim.jwk("k1")]), &opts()),
        Err(JoseError::BadSignature)
    );
}

#[test]
fn changed_payload_and_der_encoded_ecdsa_signatures_fail() {
    let key = Key::es256();
    let set = jwks(&[key.jwk("k1")]);
    let token = key.token(json!({"alg":"ES256","kid":"k1"}), &valid_claims());
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let mut other = valid_claims();
    other["sub"] = json!("admin");
    let forged = format!("{h}.{}.{s}", b64url_encode(other.to_string().as_bytes()));
    assert_eq!(
        verify_jwt(&forged, &set, &opts()),
        Err(JoseError::BadSignature)
    );

    // RFC 7518 §3.4: ES256 signatures are raw r‖s, not ASN.1 DER.
    let Key::Ec(fixed) = &key else { unreachable!() };
    let der_key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        fixed.to_pkcs8v1().unwrap().as_ref(),
    )
    .unwrap();
    let der = raw_token(&json!({"alg":"ES256","kid":"k1"}), &valid_claims(), |m| {
        der_key
            .sign(&SystemRandom::new(), m)
            .unwrap()
            .as_ref()
            .to_vec()
    });
    assert_eq!(
        verify_jwt(&der, &set, &opts()),
        Err(JoseError::BadSignature)
    );
}

#[test]
fn expired_tokens_are_rejected_and_exp_equal_to_now_is_expired() {
    let key = Key::eddsa();
    let set = jwks(&[key.jwk("k1")]);
    for exp in [ts(-1), ts(0)] {
        let mut c = valid_claims();
        c["exp"] = json!(exp);
        let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &c);
        assert_eq!(verify_jwt(&token, &set, &opts()), Err(JoseError::Expired));
    }
}

#[test]
fn missing_exp_is_rejected_unless_optional_and_mistyped_dates_are_invalid() {
    let key = Key::eddsa();
    let set = jwks(&[key.jwk("k1")]);
    let mut c = valid_claims();
    c.as_object_mut().unwrap().remove("exp");
    let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &c);
    assert_eq!(
        verify_jwt(&token, &set, &opts()),
        Err(JoseError::MissingClaim("exp"))
    );
    verify_jwt(&token, &set, &opts().exp_optional()).unwrap();

    c["exp"] = json!(ts(60).to_string());
    let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &c);
    assert_eq!(
        verify_jwt(&token, &set, &opts()),
        Err(JoseError::InvalidClaim("exp"))
    );
}

#[test]
fn iat_9s_in_the_future_is_accepted_but_11s_and_61s_are_rejected() {
    // FAPI 2.0 §5.3.2.1: accept 0–10 s in the future, reject over 60 s; we reject over 10 s.
    let key = Key::es256();
    let set = jwks(&[key.jwk("k1")]);
    let with_iat = |offset: i64| {
        let mut c = valid_claims();
        c["iat"] = json!(ts(offset));
        verify_jwt(
            &key.token(json!({"alg":"ES256","kid":"k1"}), &c),
            &set,
            &opts(),
        )
    };
    assert!(with_iat(9).is_ok());
    assert!(with_iat(10).is_ok());
    assert_eq!(with_iat(11), Err(JoseError::IssuedInFuture));
    assert_eq!(with_iat(61), Err(JoseError::IssuedInFuture));
}

#[test]
fn nbf_beyond_the_leeway_is_not_yet_valid() {
    let key = Key::es256();
    let set = jwks(&[key.jwk("k1")]);
    let mut c = valid_claims();
    c["nbf"] = json!(ts(11));
    let token = key.token(json!({"alg":"ES256","kid":"k1"}), &c);
    assert_eq!(
        verify_jwt(&token, &set, &opts()),
        Err(JoseError::NotYetValid)
    );
    c["nbf"] = json!(ts(9) as f64 + 0.5);
    let token = key.token(json!({"alg":"ES256","kid":"k1"}), &c);
    verify_jwt(&token, &set, &opts()).unwrap();
}

#[test]
fn typ_is_enforced_when_expected() {
    let key = Key::eddsa();
    let set = jwks(&[key.jwk("k1")]);
    let token = key.token(
        json!({"alg":"EdDSA","kid":"k1","typ":"JWT"}),
        &valid_claims(),
    );
    assert_eq!(
        verify_jwt(&token, &set, &opts().with_typ("dpop+jwt")),
        Err(JoseError::TypMismatch {
            expected: "dpop+jwt"
        })
    );
    let token = key.token(
        json!({"alg":"EdDSA","kid":"k1","typ":"dpop+jwt"}),
        &valid_claims(),
    );
    verify_jwt(&token, &set, &opts().with_typ("dpop+jwt")).unwrap();
}

#[test]
fn oversized_tokens_are_rejected_before_parsing() {
    let key = Key::eddsa();
    let mut c = valid_claims();
    c["pad"] = json!("x".repeat(MAX_JWS_LEN));
    let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &c);
    let expected = JoseError::TooLarge { max: MAX_JWS_LEN };
    assert_eq!(
        verify_jwt(&token, &jwks(&[key.jwk("k1")]), &opts()),
        Err(expected.clone())
    );
    assert_eq!(decode_header(&token), Err(expected));
}

#[test]
fn deeply_nested_or_non_object_claims_are_rejected_after_a_valid_signature() {
    let key = Key::eddsa();
    let set = jwks(&[key.jwk("k1")]);
    let deep: Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).unwrap();
    let mut c = valid_claims();
    c["deep"] = deep;
    let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &c);
    assert_eq!(
        verify_jwt(&token, &set, &opts()),
        Err(JoseError::TooDeep("claims"))
    );

    let Key::Ed(k) = &key else { unreachable!() };
    let token = raw_token(&json!({"alg":"EdDSA","kid":"k1"}), &json!([1, 2]), |m| {
        k.sign(m).as_ref().to_vec()
    });
    assert_eq!(
        verify_jwt(&token, &set, &opts()),
        Err(JoseError::NotAnObject("claims"))
    );
}

#[test]
fn deep_json_header_is_rejected() {
    let header = format!(
        r#"{{"alg":"ES256","x":{}0{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let token = format!("{}.e30.c2ln", b64url_encode(header.as_bytes()));
    assert_eq!(decode_header(&token), Err(JoseError::TooDeep("header")));
}

#[test]
fn verify_with_jwk_refuses_a_kid_that_differs_from_the_key() {
    let key = Key::es256();
    let token = key.token(json!({"alg":"ES256","kid":"a"}), &valid_claims());
    assert_eq!(
        verify_with_jwk(&token, &key.jwk("b"), &opts()),
        Err(JoseError::UnknownKey)
    );
    verify_with_jwk(&token, &key.jwk("a"), &opts()).unwrap();
}

#[test]
fn padded_signature_segment_is_rejected() {
    let key = Key::eddsa();
    let token = key.token(json!({"alg":"EdDSA","kid":"k1"}), &valid_claims());
    let padded = format!("{token}==");
    assert_eq!(
        verify_jwt(&padded, &jwks(&[key.jwk("k1")]), &opts()),
        Err(JoseError::Base64("signature"))
    );
    assert!(b64url_decode("AQID==").is_err());
    assert_eq!(Alg::EdDSA.as_str(), "EdDSA");
}
