#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Spec vectors (see `tests/vectors/README.md` for sources).

use serde_json::Value;
use shonin_jose::{
    JoseError, VerifyOptions, b64url_decode, b64url_encode, decode_header, jwk_thumbprint_sha256,
    verify_jws_with_jwk, verify_with_jwk,
};
use time::macros::datetime;

fn vector(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn rfc7638() -> Value {
    vector(include_str!("vectors/rfc7638-3.1.json"))
}

fn rfc8037() -> Value {
    vector(include_str!("vectors/rfc8037-appendix-a.json"))
}

fn opts() -> VerifyOptions {
    VerifyOptions::new(datetime!(2026-01-01 00:00 UTC))
}

#[test]
fn rfc7638_section_3_1_thumbprint_matches() {
    let v = rfc7638();
    assert_eq!(
        jwk_thumbprint_sha256(&v["jwk"]).unwrap(),
        v["thumbprint_sha256"].as_str().unwrap()
    );
    assert_eq!(
        v["thumbprint_sha256"],
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc7638_thumbprint_ignores_optional_members_and_member_order() {
    let v = rfc7638();
    let jwk = &v["jwk"];
    let reordered: Value =
        serde_json::json!({"e": jwk["e"], "n": jwk["n"], "kty": "RSA", "use": "sig"});
    assert_eq!(
        jwk_thumbprint_sha256(&reordered).unwrap(),
        v["thumbprint_sha256"].as_str().unwrap()
    );
}

#[test]
fn rfc8037_a3_thumbprint_matches_for_private_and_public_jwk() {
    let v = rfc8037();
    let expected = v["thumbprint_sha256"].as_str().unwrap();
    assert_eq!(jwk_thumbprint_sha256(&v["public_jwk"]).unwrap(), expected);
    assert_eq!(jwk_thumbprint_sha256(&v["private_jwk"]).unwrap(), expected);
}

#[test]
fn rfc8037_a4_jws_verifies_with_the_a2_public_key() {
    let v = rfc8037();
    let jws = v["jws"].as_str().unwrap();
    let (header, payload) = verify_jws_with_jwk(jws, &v["public_jwk"]).unwrap();
    assert_eq!(header.alg, shonin_jose::Alg::EdDSA);
    assert_eq!(payload, v["payload"].as_str().unwrap().as_bytes());
    // verify_with_jwk checks the signature first, then wants a JWT claims object; the RFC's
    // payload is plain text, so getting past the signature shows as a claims JSON error.
    assert_eq!(
        verify_with_jwk(jws, &v["public_jwk"], &opts()),
        Err(JoseError::Json("claims"))
    );
}

#[test]
fn rfc8037_a4_jws_with_one_bit_changed_fails() {
    let v = rfc8037();
    let jws = v["jws"].as_str().unwrap();
    let (head, sig) = jws.rsplit_once('.').unwrap();
    let sig_bytes = b64url_decode(sig).unwrap();
    for bit in [0usize, 7, 100, 511] {
        let mut flipped = sig_bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let forged = format!("{head}.{}", b64url_encode(&flipped));
        assert_eq!(
            verify_jws_with_jwk(&forged, &v["public_jwk"]).unwrap_err(),
            JoseError::BadSignature
        );
        assert_eq!(
            verify_with_jwk(&forged, &v["public_jwk"], &opts()).unwrap_err(),
            JoseError::BadSignature
        );
    }
    // One bit of the payload: "Example" -> "Dxample".
    let (h, rest) = jws.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let mut payload = b64url_decode(p).unwrap();
    payload[0] ^= 1;
    let forged = format!("{h}.{}.{s}", b64url_encode(&payload));
    assert_eq!(
        verify_jws_with_jwk(&forged, &v["public_jwk"]).unwrap_err(),
        JoseError::BadSignature
    );
}

#[test]
fn rfc8037_a1_private_jwk_is_refused_as_a_verification_key() {
    let v = rfc8037();
    assert_eq!(
        verify_jws_with_jwk(v["jws"].as_str().unwrap(), &v["private_jwk"]).unwrap_err(),
        JoseError::PrivateJwk
    );
}

#[test]
fn malformed_header_vectors_are_rejected_with_the_named_error() {
    let v = vector(include_str!("vectors/malformed-headers.json"));
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let token = case["token"].as_str().unwrap();
        let err = decode_header(token).expect_err(case["name"].as_str().unwrap());
        assert_eq!(
            format!("{err:?}"),
            case["error"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}
