#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `private_key_jwt` (RFC 7523 §3, OIDC Core §9, FAPI 2.0 §5.3.2.1) against real assertions
//! signed with `LocalSigner`, and every way an assertion must be refused.

mod common;

use common::{
    MemoryReplay, NOW, Rs256Key, eddsa, es256, es256_other, forge, hs256, ps256, sign, ts,
};
use serde_json::{Value, json};
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::client_assertion::REPLAY_NAMESPACE;
use shonin_oauth::{
    AuthenticatedClientId, ClientAssertionParams, ClientAssertionVerifier, ClientAuthError,
    ClientJwks, JWT_BEARER_ASSERTION_TYPE,
};
use time::Duration;

const ISSUER: &str = "https://as.example";
const TOKEN_ENDPOINT: &str = "https://as.example/token";
const PAR_ENDPOINT: &str = "https://as.example/par";
const CLIENT: &str = "s6BhdRkqt3";

fn verifier() -> ClientAssertionVerifier {
    ClientAssertionVerifier::new(ISSUER)
}

/// The client's registered JWK set: one key of each algorithm.
fn jwks() -> Value {
    json!({"keys": [es256().public_jwk(), eddsa().public_jwk(), ps256().public_jwk()]})
}

fn claims() -> Value {
    json!({
        "iss": CLIENT, "sub": CLIENT, "aud": ISSUER,
        "iat": ts(0), "exp": ts(60), "jti": "6d2f0e1c-7b8a-4f4e-9f3e-0a1b2c3d4e5f",
    })
}

fn assertion(signer: &LocalSigner, claims: &Value) -> String {
    let header = json!({"alg": signer.alg().as_str(), "kid": signer.kid(), "typ": "JWT"});
    sign(signer, &header, claims)
}

fn with(mut v: Value, name: &str, value: Value) -> Value {
    v[name] = value;
    v
}

fn without(mut v: Value, name: &str) -> Value {
    v.as_object_mut().unwrap().remove(name);
    v
}

fn params(assertion: &str) -> ClientAssertionParams<'_> {
    ClientAssertionParams {
        client_assertion: assertion,
        client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
        client_id: None,
    }
}

/// Verifies at the token endpoint with a fresh replay store.
async fn check(token: &str) -> Result<AuthenticatedClientId, ClientAuthError> {
    check_with(&verifier(), &params(token), &jwks()).await
}

async fn check_with(
    v: &ClientAssertionVerifier,
    p: &ClientAssertionParams<'_>,
    jwks: &Value,
) -> Result<AuthenticatedClientId, ClientAuthError> {
    let client = ClientJwks {
        client_id: CLIENT,
        jwks,
    };
    common::verify_assertion(v, p, client, NOW, &MemoryReplay::new()).await
}

// ---------------------------------------------------------------------------- positive cases

#[tokio::test]
async fn es256_eddsa_and_ps256_assertions_authenticate_the_client() {
    for signer in [es256(), eddsa(), ps256()] {
        let id = check(&assertion(signer, &claims())).await;
        assert_eq!(id.unwrap().as_str(), CLIENT, "{:?}", signer.alg());
    }
}

#[tokio::test]
async fn client_id_parameter_equal_to_iss_is_accepted() {
    let token = assertion(es256(), &claims());
    let p = ClientAssertionParams {
        client_id: Some(CLIENT),
        ..params(&token)
    };
    assert_eq!(p.claimed_client_id().unwrap(), CLIENT);
    let id = check_with(&verifier(), &p, &jwks()).await;
    assert_eq!(id.unwrap().into_string(), CLIENT);
}

#[tokio::test]
async fn claimed_client_id_without_parameter_is_the_assertion_issuer() {
    let token = assertion(es256(), &claims());
    assert_eq!(params(&token).claimed_client_id().unwrap(), CLIENT);
}

#[tokio::test]
async fn issuer_as_a_string_is_the_accepted_aud() {
    // FAPI 2.0 Security Profile Final §5.3.2.1 item 8.
    let r = check(&assertion(es256(), &with(claims(), "aud", json!(ISSUER)))).await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn iat_and_nbf_up_to_ten_seconds_ahead_are_accepted() {
    let c = with(with(claims(), "iat", json!(ts(10))), "nbf", json!(ts(10)));
    assert!(check(&assertion(es256(), &c)).await.is_ok());
}

#[tokio::test]
async fn widened_leeway_accepts_up_to_sixty_seconds_ahead() {
    let v = verifier()
        .with_future_leeway(Duration::seconds(60))
        .unwrap();
    let c = with(claims(), "iat", json!(ts(59)));
    let r = check_with(&v, &params(&assertion(es256(), &c)), &jwks()).await;
    assert!(r.is_ok(), "{r:?}");
    let c = with(claims(), "iat", json!(ts(61)));
    let r = check_with(&v, &params(&assertion(es256(), &c)), &jwks()).await;
    assert!(matches!(r, Err(ClientAuthError::IssuedInFuture)), "{r:?}");
}

#[tokio::test]
async fn assertion_without_iat_is_bounded_from_now() {
    let c = without(claims(), "iat");
    assert!(check(&assertion(es256(), &c)).await.is_ok());
    let c = with(without(claims(), "iat"), "exp", json!(ts(301)));
    let r = check(&assertion(es256(), &c)).await;
    assert!(matches!(r, Err(ClientAuthError::LifetimeTooLong)), "{r:?}");
}

#[tokio::test]
async fn kid_less_assertion_uses_the_one_key_that_fits_its_alg() {
    let token = sign(es256(), &json!({"alg":"ES256"}), &claims());
    assert!(check(&token).await.is_ok());
}

#[tokio::test]
async fn jti_is_recorded_per_client_until_exp() {
    let store = MemoryReplay::new();
    let client = ClientJwks {
        client_id: CLIENT,
        jwks: &jwks(),
    };
    let token = assertion(es256(), &claims());
    common::verify_assertion(&verifier(), &params(&token), client, NOW, &store)
        .await
        .unwrap();
    let entries = store.entries();
    assert_eq!(entries.len(), 1);
    let (ns, key, expires) = &entries[0];
    assert_eq!(ns, REPLAY_NAMESPACE);
    assert!(!key.contains(CLIENT) && !key.contains("6d2f0e1c"), "{key}");
    assert_eq!(*expires, NOW + Duration::seconds(60));
}

#[tokio::test]
async fn the_same_jti_from_two_clients_is_not_a_replay() {
    let store = MemoryReplay::new();
    let token = assertion(es256(), &claims());
    let a = ClientJwks {
        client_id: CLIENT,
        jwks: &jwks(),
    };
    assert!(
        common::verify_assertion(&verifier(), &params(&token), a, NOW, &store)
            .await
            .is_ok()
    );
    let other = json!({"keys": [es256_other().public_jwk()]});
    let c = with(with(claims(), "iss", json!("other")), "sub", json!("other"));
    let token = assertion(es256_other(), &c);
    let b = ClientJwks {
        client_id: "other",
        jwks: &other,
    };
    let r = common::verify_assertion(&verifier(), &params(&token), b, NOW, &store).await;
    assert_eq!(r.unwrap().as_str(), "other");
}

// ---------------------------------------------------------------------------- negative cases

#[tokio::test]
async fn wrong_assertion_type_is_refused() {
    let token = assertion(es256(), &claims());
    for t in [
        "",
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "URN:IETF:PARAMS:OAUTH:CLIENT-ASSERTION-TYPE:JWT-BEARER",
    ] {
        let p = ClientAssertionParams {
            client_assertion_type: t,
            ..params(&token)
        };
        let r = check_with(&verifier(), &p, &jwks()).await;
        assert!(
            matches!(r, Err(ClientAuthError::UnsupportedAssertionType)),
            "{t}: {r:?}"
        );
        assert_eq!(r.unwrap_err().oauth_error(), "invalid_client");
    }
}

#[tokio::test]
async fn expired_assertion_is_refused() {
    for exp in [ts(0), ts(-1), ts(-3600)] {
        let r = check(&assertion(es256(), &with(claims(), "exp", json!(exp)))).await;
        assert!(matches!(r, Err(ClientAuthError::Expired)), "{exp}: {r:?}");
    }
}

#[tokio::test]
async fn future_dated_assertion_is_refused() {
    for offset in [11, 61] {
        let c = with(
            with(claims(), "iat", json!(ts(offset))),
            "exp",
            json!(ts(offset + 60)),
        );
        let r = check(&assertion(es256(), &c)).await;
        assert!(
            matches!(r, Err(ClientAuthError::IssuedInFuture)),
            "{offset}: {r:?}"
        );
    }
    let r = check(&assertion(es256(), &with(claims(), "nbf", json!(ts(61))))).await;
    assert!(matches!(r, Err(ClientAuthError::NotYetValid)), "{r:?}");
}

#[tokio::test]
async fn replayed_assertion_is_refused() {
    let store = MemoryReplay::new();
    let token = assertion(es256(), &claims());
    let client = ClientJwks {
        client_id: CLIENT,
        jwks: &jwks(),
    };
    let v = verifier();
    assert!(
        common::verify_assertion(&v, &params(&token), client, NOW, &store)
            .await
            .is_ok()
    );
    // Again (at any endpoint: one verifier serves them all): the jti is spent.
    let r = common::verify_assertion(&v, &params(&token), client, NOW, &store).await;
    assert!(matches!(r, Err(ClientAuthError::Replayed)), "{r:?}");
    // A fresh assertion reusing the jti is a replay too.
    let token = assertion(es256(), &with(claims(), "exp", json!(ts(30))));
    let r = common::verify_assertion(&v, &params(&token), client, NOW, &store).await;
    assert!(matches!(r, Err(ClientAuthError::Replayed)), "{r:?}");
}

#[tokio::test]
async fn an_aud_other_than_the_issuer_string_is_refused() {
    // FAPI 2.0 Security Profile Final §5.3.2.1 item 8: endpoint URLs, once allowed by RFC 7523 §3
    // and RFC 9126 §2, are refused like any other server's identifier.
    for aud in [
        TOKEN_ENDPOINT,
        PAR_ENDPOINT,
        "https://as.example/introspect",
        "https://as.example/revoke",
        "https://other.example",
        "https://as.example/",
        "https://as.example/authorize",
        "",
    ] {
        let r = check(&assertion(es256(), &with(claims(), "aud", json!(aud)))).await;
        assert!(
            matches!(r, Err(ClientAuthError::WrongAudience)),
            "{aud}: {r:?}"
        );
        assert_eq!(r.unwrap_err().oauth_error(), "invalid_client");
    }
}

#[tokio::test]
async fn an_aud_array_is_refused_even_with_the_issuer_in_it() {
    for aud in [
        json!([ISSUER]),
        json!([ISSUER, "https://other-as.example"]),
        json!(["https://other-as.example", ISSUER]),
        json!(["https://other.example"]),
        json!([]),
    ] {
        let r = check(&assertion(es256(), &with(claims(), "aud", aud.clone()))).await;
        assert!(
            matches!(r, Err(ClientAuthError::AudienceNotAString)),
            "{aud}: {r:?}"
        );
        assert_eq!(r.unwrap_err().oauth_error(), "invalid_client");
    }
    let r = check(&assertion(es256(), &with(claims(), "aud", json!(7)))).await;
    assert!(
        matches!(r, Err(ClientAuthError::InvalidClaim("aud"))),
        "{r:?}"
    );
}

#[tokio::test]
async fn iss_different_from_sub_is_refused() {
    let r = check(&assertion(
        es256(),
        &with(claims(), "sub", json!("someone-else")),
    ))
    .await;
    assert!(
        matches!(r, Err(ClientAuthError::IssuerSubjectMismatch)),
        "{r:?}"
    );
}

#[tokio::test]
async fn assertion_for_another_client_is_refused() {
    // Signed with this client's key but naming another client.
    let c = with(
        with(claims(), "iss", json!("victim")),
        "sub",
        json!("victim"),
    );
    let r = check(&assertion(es256(), &c)).await;
    assert!(matches!(r, Err(ClientAuthError::ClientIdMismatch)), "{r:?}");
}

#[tokio::test]
async fn client_id_parameter_naming_another_client_is_refused() {
    let token = assertion(es256(), &claims());
    let p = ClientAssertionParams {
        client_id: Some("victim"),
        ..params(&token)
    };
    let r = check_with(&verifier(), &p, &jwks()).await;
    assert!(matches!(r, Err(ClientAuthError::ClientIdMismatch)), "{r:?}");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let h = json!({"alg":"none","kid": es256().kid()});
    let r = check(&forge(&h, &claims(), b"")).await;
    assert!(matches!(r, Err(ClientAuthError::Malformed(_))), "{r:?}");
    let r = check(&forge(&h, &claims(), b"x")).await;
    assert!(matches!(r, Err(ClientAuthError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused() {
    // The classic key-confusion attack: HMAC keyed with the registered public key's bytes.
    let h = json!({"alg":"HS256","kid": es256().kid()});
    for key in [
        es256().public_jwk().to_string(),
        es256().public_jwk()["x"].as_str().unwrap().to_owned(),
    ] {
        let r = check(&hs256(&h, &claims(), key.as_bytes())).await;
        assert!(matches!(r, Err(ClientAuthError::AlgNotAllowed)), "{r:?}");
    }
}

#[tokio::test]
async fn rs256_is_refused_even_with_a_registered_rsa_key() {
    let rsa = Rs256Key::generate();
    let registered = json!({"keys": [rsa.jwk("rsa-1")]});
    let token = rsa.sign(&json!({"alg":"RS256","kid":"rsa-1"}), &claims());
    let r = check_with(&verifier(), &params(&token), &registered).await;
    assert!(matches!(r, Err(ClientAuthError::AlgNotAllowed)), "{r:?}");
}

#[tokio::test]
async fn unknown_kid_is_refused() {
    let h = json!({"alg":"ES256","kid":"not-registered"});
    let r = check(&sign(es256(), &h, &claims())).await;
    assert!(matches!(r, Err(ClientAuthError::UnknownKey)), "{r:?}");
    assert_eq!(r.unwrap_err().oauth_error(), "invalid_client");
}

#[tokio::test]
async fn unregistered_key_under_a_registered_kid_is_refused() {
    let h = json!({"alg":"ES256","kid": es256().kid()});
    let r = check(&sign(es256_other(), &h, &claims())).await;
    assert!(matches!(r, Err(ClientAuthError::BadSignature)), "{r:?}");
}

#[tokio::test]
async fn each_required_claim_must_be_present() {
    for name in ["iss", "sub", "aud", "exp", "jti"] {
        let r = check(&assertion(es256(), &without(claims(), name))).await;
        assert!(
            matches!(r, Err(ClientAuthError::MissingClaim(n)) if n == name),
            "{name}: {r:?}"
        );
    }
}

#[tokio::test]
async fn mistyped_or_oversized_claims_are_refused() {
    let cases = [
        ("jti", json!(""), "jti"),
        ("jti", json!("j".repeat(257)), "jti"),
        ("jti", json!(1), "jti"),
        ("iss", json!(1), "iss"),
        ("exp", json!("soon"), "exp"),
        ("iat", json!(true), "iat"),
    ];
    for (name, value, reported) in cases {
        let r = check(&assertion(es256(), &with(claims(), name, value.clone()))).await;
        assert!(
            matches!(r, Err(ClientAuthError::InvalidClaim(n)) if n == reported),
            "{name}={value}: {r:?}"
        );
    }
}

#[tokio::test]
async fn lifetime_over_five_minutes_is_refused() {
    let c = with(claims(), "exp", json!(ts(301)));
    let r = check(&assertion(es256(), &c)).await;
    assert!(matches!(r, Err(ClientAuthError::LifetimeTooLong)), "{r:?}");
    let c = with(claims(), "exp", json!(ts(300)));
    assert!(check(&assertion(es256(), &c)).await.is_ok());
}

#[tokio::test]
async fn broken_or_ambiguous_registered_key_sets_are_refused() {
    let token = assertion(es256(), &claims());
    let r = check_with(&verifier(), &params(&token), &json!([])).await;
    assert!(matches!(r, Err(ClientAuthError::InvalidJwks)), "{r:?}");

    let kidless = sign(es256(), &json!({"alg":"ES256"}), &claims());
    let two = json!({"keys": [es256().public_jwk(), es256_other().public_jwk()]});
    let r = check_with(&verifier(), &params(&kidless), &two).await;
    assert!(matches!(r, Err(ClientAuthError::AmbiguousKey)), "{r:?}");

    let mut enc = es256().public_jwk().clone();
    enc["use"] = json!("enc");
    let r = check_with(&verifier(), &params(&token), &json!({"keys": [enc]})).await;
    assert!(matches!(r, Err(ClientAuthError::InvalidKey(_))), "{r:?}");
}
