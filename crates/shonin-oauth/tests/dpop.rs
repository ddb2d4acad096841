#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! RFC 9449 §4.3 against real proofs signed with `LocalSigner` (ES256, EdDSA, PS256): one
//! positive case per algorithm and a negative case for every check.

mod common;

use common::{
    MemoryReplay, NOW, Rs256Key, bare_jwk, eddsa, es256, es256_other, forge, hs256, ps256, sign, ts,
};
use serde_json::{Value, json};
use shonin_jose::{Alg, jwk_thumbprint_sha256};
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::dpop::{
    DpopConfig, DpopError, DpopRequest, DpopVerifier, Htu, NonceKey, NonceRejection,
    REPLAY_NAMESPACE, access_token_hash,
};
use shonin_types::SecretBytes;
use time::Duration;

const TOKEN_URL: &str = "https://as.example/token";
const ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

fn token_uri() -> Htu {
    Htu::parse(TOKEN_URL).unwrap()
}

fn verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig::default()).unwrap()
}

fn nonce_key() -> NonceKey {
    NonceKey::new(&SecretBytes::new(vec![9; 32]), Duration::seconds(60)).unwrap()
}

fn nonce_verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig {
        nonce: Some(nonce_key()),
        ..DpopConfig::default()
    })
    .unwrap()
}

fn header(signer: &LocalSigner) -> Value {
    json!({"typ": "dpop+jwt", "alg": signer.alg().as_str(), "jwk": bare_jwk(signer)})
}

fn claims() -> Value {
    json!({"jti": "-BwC3ESc6acc2lTc", "htm": "POST", "htu": TOKEN_URL, "iat": ts(0)})
}

fn proof(signer: &LocalSigner, claims: &Value) -> String {
    sign(signer, &header(signer), claims)
}

fn with(mut v: Value, name: &str, value: Value) -> Value {
    v[name] = value;
    v
}

fn without(mut v: Value, name: &str) -> Value {
    v.as_object_mut().unwrap().remove(name);
    v
}

/// Verifies `proof` as a POST to the token endpoint with a fresh replay store.
async fn check(v: &DpopVerifier, proof: &str) -> Result<shonin_oauth::VerifiedProof, DpopError> {
    check_req(v, proof, None, None).await
}

async fn check_req(
    v: &DpopVerifier,
    proof: &str,
    access_token: Option<&str>,
    expected_jkt: Option<&str>,
) -> Result<shonin_oauth::VerifiedProof, DpopError> {
    let uri = token_uri();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token,
        expected_jkt,
    };
    common::verify_proof(v, proof, &req, NOW, &MemoryReplay::new()).await
}

fn thumbprint(signer: &LocalSigner) -> String {
    jwk_thumbprint_sha256(signer.public_jwk()).unwrap()
}

// ---------------------------------------------------------------------------- positive cases

#[tokio::test]
async fn es256_proof_verifies_and_yields_the_rfc7638_thumbprint() {
    let p = proof(es256(), &claims());
    let verified = check(&verifier(), &p).await.unwrap();
    assert_eq!(verified.jkt, thumbprint(es256()));
    assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(verified.iat, NOW);
    assert_eq!(verified.jwk, bare_jwk(es256()));
}

#[tokio::test]
async fn eddsa_and_ps256_proofs_verify() {
    for signer in [eddsa(), ps256()] {
        let verified = check(&verifier(), &proof(signer, &claims())).await;
        assert_eq!(
            verified.unwrap().jkt,
            thumbprint(signer),
            "{:?}",
            signer.alg()
        );
    }
}

#[tokio::test]
async fn a_jwk_carrying_kid_alg_and_use_is_accepted() {
    let h = json!({"typ":"dpop+jwt","alg":"ES256","jwk": es256().public_jwk()});
    assert!(
        check(&verifier(), &sign(es256(), &h, &claims()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn query_and_fragment_in_htu_are_ignored() {
    let c = with(claims(), "htu", json!("https://as.example/token?a=b#frag"));
    assert!(check(&verifier(), &proof(es256(), &c)).await.is_ok());
    // And the request URI may carry a query the proof leaves out.
    let uri = Htu::parse("https://as.example/token?x=1").unwrap();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token: None,
        expected_jkt: None,
    };
    let r = common::verify_proof(
        &verifier(),
        &proof(es256(), &claims()),
        &req,
        NOW,
        &MemoryReplay::new(),
    )
    .await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn htu_is_compared_after_scheme_host_and_port_normalisation() {
    for spelling in [
        "HTTPS://AS.EXAMPLE/token",
        "https://as.example:443/token",
        "https://as.example/%74oken",
        "https://as.example/x/../token",
    ] {
        let c = with(claims(), "htu", json!(spelling));
        assert!(
            check(&verifier(), &proof(es256(), &c)).await.is_ok(),
            "{spelling}"
        );
    }
}

#[tokio::test]
async fn iat_up_to_ten_seconds_ahead_and_sixty_seconds_old_is_accepted() {
    for offset in [10, -60, -59] {
        let c = with(claims(), "iat", json!(ts(offset)));
        assert!(
            check(&verifier(), &proof(es256(), &c)).await.is_ok(),
            "{offset}"
        );
    }
}

#[tokio::test]
async fn application_prefixed_typ_is_accepted() {
    let h = with(header(es256()), "typ", json!("application/dpop+jwt"));
    assert!(
        check(&verifier(), &sign(es256(), &h, &claims()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn proof_with_matching_ath_verifies_for_an_access_token() {
    let c = with(claims(), "ath", json!(access_token_hash(ACCESS_TOKEN)));
    let jkt = thumbprint(es256());
    let r = check_req(
        &verifier(),
        &proof(es256(), &c),
        Some(ACCESS_TOKEN),
        Some(&jkt),
    )
    .await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn ath_is_ignored_when_no_access_token_is_presented() {
    let c = with(claims(), "ath", json!("not-a-hash-of-anything"));
    assert!(check(&verifier(), &proof(es256(), &c)).await.is_ok());
}

#[tokio::test]
async fn proof_key_matching_the_bound_jkt_verifies() {
    let jkt = thumbprint(es256());
    let r = check_req(&verifier(), &proof(es256(), &claims()), None, Some(&jkt)).await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn nonce_from_the_current_or_previous_window_is_accepted() {
    let v = nonce_verifier();
    for issued_at in [NOW, NOW - Duration::seconds(60)] {
        let c = with(claims(), "nonce", json!(nonce_key().issue(issued_at)));
        assert!(check(&v, &proof(es256(), &c)).await.is_ok(), "{issued_at}");
    }
    assert!(v.requires_nonce());
    assert_eq!(v.issue_nonce(NOW), Some(nonce_key().issue(NOW)));
}

#[tokio::test]
async fn jti_is_recorded_until_the_end_of_the_acceptance_window() {
    let store = MemoryReplay::new();
    let uri = token_uri();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token: None,
        expected_jkt: None,
    };
    let c = with(claims(), "iat", json!(ts(-5)));
    common::verify_proof(&verifier(), &proof(es256(), &c), &req, NOW, &store)
        .await
        .unwrap();
    let entries = store.entries();
    assert_eq!(entries.len(), 1);
    let (ns, key, expires) = &entries[0];
    assert_eq!(ns, REPLAY_NAMESPACE);
    assert!(
        key.starts_with(&format!("{}:", thumbprint(es256()))),
        "{key}"
    );
    assert!(!key.contains("-BwC3ESc6acc2lTc"), "jti is stored hashed");
    // iat (NOW - 5 s) + 1 s rounding + 60 s max age.
    assert_eq!(*expires, NOW + Duration::seconds(56));
}

// ---------------------------------------------------------------------------- negative cases

#[tokio::test]
async fn proof_longer_than_the_limit_is_refused_before_parsing() {
    let c = with(claims(), "pad", json!("x".repeat(9000)));
    let r = check(&verifier(), &proof(es256(), &c)).await;
    assert!(matches!(r, Err(DpopError::TooLarge { max: 8192 })), "{r:?}");
}

#[tokio::test]
async fn strings_that_are_not_a_single_jwt_are_malformed() {
    let p = proof(es256(), &claims());
    let two = format!("{p}, {p}");
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "not a jwt",
        two.as_str(),
        "e30.e30.e30",
    ] {
        let r = check(&verifier(), bad).await;
        assert!(
            matches!(r, Err(DpopError::Malformed(_) | DpopError::AlgNotAllowed)),
            "{bad:.30}: {r:?}"
        );
        assert_eq!(r.unwrap_err().oauth_error(), "invalid_dpop_proof");
    }
}

#[tokio::test]
async fn missing_or_wrong_typ_is_refused() {
    let h = without(header(es256()), "typ");
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::WrongTyp)), "{r:?}");
    for typ in ["JWT", "at+jwt", "dpop", "jwt+dpop"] {
        let h = with(header(es256()), "typ", json!(typ));
        let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
        assert!(matches!(r, Err(DpopError::WrongTyp)), "{typ}: {r:?}");
    }
    let h = with(header(es256()), "typ", json!(7));
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::WrongTyp)), "{r:?}");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let h = with(header(es256()), "alg", json!("none"));
    // As alg none is sent: an empty signature.
    let r = check(&verifier(), &forge(&h, &claims(), b"")).await;
    assert!(matches!(r, Err(DpopError::Malformed(_))), "{r:?}");
    // With a stray signature the alg itself is the reason.
    let r = check(&verifier(), &forge(&h, &claims(), b"sig")).await;
    assert!(matches!(r, Err(DpopError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn hs256_is_refused_even_when_keyed_with_the_public_jwk() {
    let h = with(header(es256()), "alg", json!("HS256"));
    let key = bare_jwk(es256()).to_string();
    let r = check(&verifier(), &hs256(&h, &claims(), key.as_bytes())).await;
    assert!(matches!(r, Err(DpopError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn rs256_is_refused() {
    let rsa = Rs256Key::generate();
    let h = json!({"typ":"dpop+jwt","alg":"RS256","jwk": rsa.jwk("k")});
    let r = check(&verifier(), &rsa.sign(&h, &claims())).await;
    assert!(matches!(r, Err(DpopError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn alg_outside_the_configured_dpop_list_is_refused() {
    let v = DpopVerifier::new(DpopConfig {
        allowed_algs: vec![Alg::ES256],
        ..DpopConfig::default()
    })
    .unwrap();
    assert!(check(&v, &proof(es256(), &claims())).await.is_ok());
    let r = check(&v, &proof(eddsa(), &claims())).await;
    assert!(matches!(r, Err(DpopError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn missing_jwk_is_refused() {
    let h = without(header(es256()), "jwk");
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::MissingJwk)), "{r:?}");
}

#[tokio::test]
async fn private_key_in_jwk_is_refused() {
    let mut jwk = bare_jwk(es256());
    jwk["d"] = json!("ZHVtbXktcHJpdmF0ZS1zY2FsYXItdmFsdWUtMzJieXRlcw");
    let h = with(header(es256()), "jwk", jwk);
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::PrivateKeyInJwk)), "{r:?}");
    // A symmetric key is "private" too.
    let h = with(header(es256()), "jwk", json!({"kty":"oct","k":"c2VjcmV0"}));
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::PrivateKeyInJwk)), "{r:?}");
}

#[tokio::test]
async fn jwk_that_does_not_fit_the_alg_is_refused() {
    let h = with(header(es256()), "jwk", bare_jwk(eddsa()));
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::InvalidJwk(_))), "{r:?}");
    let h = with(header(es256()), "jwk", json!("not an object"));
    let r = check(&verifier(), &sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(DpopError::InvalidJwk(_))), "{r:?}");
}

#[tokio::test]
async fn signature_by_a_key_other_than_the_embedded_jwk_is_refused() {
    let h = header(es256()); // claims key A
    let r = check(&verifier(), &sign(es256_other(), &h, &claims())).await; // signed by B
    assert!(matches!(r, Err(DpopError::BadSignature)), "{r:?}");
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let p = proof(es256(), &claims());
    let other = proof(es256(), &with(claims(), "htm", json!("GET")));
    let mut parts: Vec<&str> = p.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    let r = check(&verifier(), &parts.join(".")).await;
    assert!(matches!(r, Err(DpopError::BadSignature)), "{r:?}");
}

#[tokio::test]
async fn each_required_claim_must_be_present() {
    for name in ["jti", "htm", "htu", "iat"] {
        let r = check(&verifier(), &proof(es256(), &without(claims(), name))).await;
        assert!(
            matches!(r, Err(DpopError::MissingClaim(n)) if n == name),
            "{name}: {r:?}"
        );
    }
}

#[tokio::test]
async fn mistyped_empty_or_oversized_claims_are_refused() {
    let cases = [
        ("jti", json!(""), "jti"),
        ("jti", json!("j".repeat(257)), "jti"),
        ("jti", json!(12345), "jti"),
        ("htm", json!(["POST"]), "htm"),
        ("htu", json!(7), "htu"),
        ("htu", json!("/token"), "htu"),
        ("htu", json!("https://user@as.example/token"), "htu"),
        ("iat", json!("1772366400"), "iat"),
    ];
    for (name, value, reported) in cases {
        let r = check(
            &verifier(),
            &proof(es256(), &with(claims(), name, value.clone())),
        )
        .await;
        assert!(
            matches!(r, Err(DpopError::InvalidClaim(n)) if n == reported),
            "{name}={value}: {r:?}"
        );
    }
}

#[tokio::test]
async fn htm_mismatch_is_refused() {
    for htm in ["GET", "post", "PUT", ""] {
        let r = check(
            &verifier(),
            &proof(es256(), &with(claims(), "htm", json!(htm))),
        )
        .await;
        assert!(matches!(r, Err(DpopError::HtmMismatch)), "{htm}: {r:?}");
    }
}

#[tokio::test]
async fn htu_of_another_resource_is_refused() {
    for htu in [
        "https://as.example/par",
        "https://as.example/token/",
        "https://as.example/Token",
        "http://as.example/token",
        "https://as.example:8443/token",
        "https://evil.example/token",
        "https://as.example.evil.example/token",
    ] {
        let r = check(
            &verifier(),
            &proof(es256(), &with(claims(), "htu", json!(htu))),
        )
        .await;
        assert!(matches!(r, Err(DpopError::HtuMismatch)), "{htu}: {r:?}");
    }
}

#[tokio::test]
async fn stale_iat_is_refused() {
    for offset in [-61, -3600] {
        let r = check(
            &verifier(),
            &proof(es256(), &with(claims(), "iat", json!(ts(offset)))),
        )
        .await;
        assert!(matches!(r, Err(DpopError::IatTooOld)), "{offset}: {r:?}");
    }
}

#[tokio::test]
async fn iat_eleven_or_sixty_one_seconds_ahead_is_refused() {
    for offset in [11, 61, 86_400] {
        let r = check(
            &verifier(),
            &proof(es256(), &with(claims(), "iat", json!(ts(offset)))),
        )
        .await;
        assert!(matches!(r, Err(DpopError::IatInFuture)), "{offset}: {r:?}");
    }
}

#[tokio::test]
async fn widened_leeway_still_refuses_more_than_sixty_seconds_ahead() {
    let v = DpopVerifier::new(DpopConfig {
        future_leeway: Duration::seconds(60),
        ..DpopConfig::default()
    })
    .unwrap();
    let ok = check(&v, &proof(es256(), &with(claims(), "iat", json!(ts(59))))).await;
    assert!(ok.is_ok());
    let r = check(&v, &proof(es256(), &with(claims(), "iat", json!(ts(61))))).await;
    assert!(matches!(r, Err(DpopError::IatInFuture)), "{r:?}");
}

#[tokio::test]
async fn passed_exp_is_refused() {
    let r = check(
        &verifier(),
        &proof(es256(), &with(claims(), "exp", json!(ts(-1)))),
    )
    .await;
    assert!(matches!(r, Err(DpopError::Expired)), "{r:?}");
}

#[tokio::test]
async fn replayed_jti_is_refused() {
    let store = MemoryReplay::new();
    let uri = token_uri();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token: None,
        expected_jkt: None,
    };
    let v = verifier();
    let p = proof(es256(), &claims());
    assert!(
        common::verify_proof(&v, &p, &req, NOW, &store)
            .await
            .is_ok()
    );
    let r = common::verify_proof(&v, &p, &req, NOW, &store).await;
    assert!(matches!(r, Err(DpopError::Replayed)), "{r:?}");
    // A new proof reusing the jti (same key) is a replay too.
    let p2 = proof(es256(), &with(claims(), "iat", json!(ts(-1))));
    let r = common::verify_proof(&v, &p2, &req, NOW, &store).await;
    assert!(matches!(r, Err(DpopError::Replayed)), "{r:?}");
    // Another key's jti space is separate.
    assert!(
        common::verify_proof(&v, &proof(eddsa(), &claims()), &req, NOW, &store)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_refused_proof_does_not_use_up_its_jti() {
    let store = MemoryReplay::new();
    let uri = token_uri();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token: None,
        expected_jkt: None,
    };
    let v = verifier();
    let bad = proof(es256(), &with(claims(), "htm", json!("GET")));
    assert!(
        common::verify_proof(&v, &bad, &req, NOW, &store)
            .await
            .is_err()
    );
    assert!(store.entries().is_empty());
    let good = proof(es256(), &claims());
    assert!(
        common::verify_proof(&v, &good, &req, NOW, &store)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn proof_signed_by_another_key_than_the_bound_jkt_is_refused() {
    let bound = thumbprint(es256());
    let r = check_req(
        &verifier(),
        &proof(es256_other(), &claims()),
        None,
        Some(&bound),
    )
    .await;
    assert!(matches!(r, Err(DpopError::KeyMismatch)), "{r:?}");
    assert_eq!(r.unwrap_err().oauth_error(), "invalid_dpop_proof");
}

#[tokio::test]
async fn missing_ath_with_an_access_token_is_refused() {
    let r = check_req(
        &verifier(),
        &proof(es256(), &claims()),
        Some(ACCESS_TOKEN),
        None,
    )
    .await;
    assert!(matches!(r, Err(DpopError::MissingAth)), "{r:?}");
}

#[tokio::test]
async fn ath_of_another_token_is_refused() {
    let wrong = [
        json!(access_token_hash("another-token")),
        json!(""),
        json!(access_token_hash(ACCESS_TOKEN).to_lowercase()),
    ];
    for ath in wrong {
        let c = with(claims(), "ath", ath.clone());
        let r = check_req(&verifier(), &proof(es256(), &c), Some(ACCESS_TOKEN), None).await;
        assert!(matches!(r, Err(DpopError::AthMismatch)), "{ath}: {r:?}");
    }
    let c = with(claims(), "ath", json!(1));
    let r = check_req(&verifier(), &proof(es256(), &c), Some(ACCESS_TOKEN), None).await;
    assert!(matches!(r, Err(DpopError::InvalidClaim("ath"))), "{r:?}");
}

#[tokio::test]
async fn missing_nonce_when_required_asks_for_one() {
    let r = check(&nonce_verifier(), &proof(es256(), &claims())).await;
    assert!(
        matches!(r, Err(DpopError::UseNonce(NonceRejection::Missing))),
        "{r:?}"
    );
    assert_eq!(r.unwrap_err().oauth_error(), "use_dpop_nonce");
}

#[tokio::test]
async fn stale_nonce_is_refused() {
    let old = nonce_key().issue(NOW - Duration::seconds(120));
    let r = check(
        &nonce_verifier(),
        &proof(es256(), &with(claims(), "nonce", json!(old))),
    )
    .await;
    assert!(
        matches!(r, Err(DpopError::UseNonce(NonceRejection::Expired))),
        "{r:?}"
    );
}

#[tokio::test]
async fn forged_nonce_is_refused() {
    let foreign = NonceKey::new(&SecretBytes::new(vec![8; 32]), Duration::seconds(60))
        .unwrap()
        .issue(NOW);
    for nonce in [
        json!(foreign),
        json!("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        json!(""),
        json!(42),
    ] {
        let c = with(claims(), "nonce", nonce.clone());
        let r = check(&nonce_verifier(), &proof(es256(), &c)).await;
        assert!(
            matches!(r, Err(DpopError::UseNonce(NonceRejection::Invalid))),
            "{nonce}: {r:?}"
        );
    }
}
