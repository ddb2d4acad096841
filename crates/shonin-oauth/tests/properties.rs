#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Property tests: the parsers of untrusted input never panic, and accept only what they should.

mod common;

use common::{MemoryReplay, NOW, bare_jwk, es256, sign, ts};
use proptest::prelude::*;
use serde_json::{Value, json};
use shonin_jose::b64url_encode;
use shonin_keys::Signer;
use shonin_oauth::dpop::{
    DpopConfig, DpopError, DpopRequest, DpopVerifier, Htu, NonceKey, VerifiedProof,
};
use shonin_oauth::{
    ClientAssertionParams, ClientAssertionVerifier, ClientJwks, CodeChallenge, CodeVerifier,
    JWT_BEARER_ASSERTION_TYPE, pkce,
};
use shonin_types::SecretBytes;
use time::Duration;

const TOKEN_URL: &str = "https://as.example/token";

const ES256_HEADER: &str =
    r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}"#;
const EDDSA_HEADER: &str = concat!(
    r#"{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","#,
    r#""x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}"#
);
const HEADER_PATTERN: &str =
    "\\{\"typ\":\"dpop\\+jwt\",\"alg\":\"(ES256|PS256|EdDSA|none|HS256)\",\"jwk\":\\PC{0,120}\\}";
const CLAIMS_PATTERN: &str = "\\{\"jti\":\\PC{0,20},\"htm\":\"POST\",\"htu\":\\PC{0,60},\
     \"iat\":-?[0-9]{0,25}(\\.[0-9]{0,5})?(e[0-9]{1,3})?\\}";
const HTTP_URI_PATTERN: &str = "(?i:https?)://[a-zA-Z0-9.\\-]{1,20}(:[0-9]{1,5})?\
     (/[a-zA-Z0-9%._~\\-]{0,10}){0,4}(\\?[a-z=&]{0,10})?(#[a-z]{0,5})?";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn nonce_verifier() -> DpopVerifier {
    let key = NonceKey::new(&SecretBytes::new(vec![3; 32]), Duration::seconds(60)).unwrap();
    DpopVerifier::new(DpopConfig {
        nonce: Some(key),
        ..DpopConfig::default()
    })
    .unwrap()
}

/// Verifies `proof` as a POST to the token endpoint, optionally with an access token.
fn verify_at_token_endpoint(
    v: &DpopVerifier,
    proof: &str,
    access_token: Option<&str>,
) -> Result<VerifiedProof, DpopError> {
    let uri = Htu::parse(TOKEN_URL).unwrap();
    let req = DpopRequest {
        method: "POST",
        uri: &uri,
        access_token,
        expected_jkt: None,
    };
    runtime().block_on(common::verify_proof(
        v,
        proof,
        &req,
        NOW,
        &MemoryReplay::new(),
    ))
}

/// Tokens shaped like JWTs: base64url segments of JSON-ish text, so parsing gets past the
/// first checks and into header, key and claim handling.
fn jwt_like() -> impl Strategy<Value = String> {
    let json_header = prop_oneof![
        Just(ES256_HEADER.to_owned()),
        Just(EDDSA_HEADER.to_owned()),
        "\\PC{0,200}",
        HEADER_PATTERN,
    ];
    let json_claims = prop_oneof![CLAIMS_PATTERN, "\\PC{0,200}"];
    let signature = proptest::collection::vec(any::<u8>(), 0..80);
    (json_header, json_claims, signature).prop_map(|(h, c, sig)| {
        format!(
            "{}.{}.{}",
            b64url_encode(h.as_bytes()),
            b64url_encode(c.as_bytes()),
            b64url_encode(&sig)
        )
    })
}

/// Any small JSON value: what an attacker may put in a claim of a proof it signs itself.
fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        (-120i64..120).prop_map(|o| Value::from(ts(o))),
        "\\PC{0,40}".prop_map(Value::from),
        HTTP_URI_PATTERN.prop_map(Value::from),
        Just(Value::from(TOKEN_URL)),
        Just(Value::from("POST")),
        Just(json!([1, "a"])),
        Just(json!({"a": 1})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verify_proof_never_panics_on_arbitrary_strings(s in "\\PC*") {
        for v in [DpopVerifier::new(DpopConfig::default()).unwrap(), nonce_verifier()] {
            prop_assert!(verify_at_token_endpoint(&v, &s, Some("at")).is_err());
        }
    }

    #[test]
    fn verify_proof_never_panics_on_jwt_shaped_input(s in jwt_like()) {
        let v = DpopVerifier::new(DpopConfig::default()).unwrap();
        prop_assert!(verify_at_token_endpoint(&v, &s, None).is_err());
    }

    /// Validly signed proofs whose claims are arbitrary: every claim check runs, none panics,
    /// and whatever is accepted really is a proof for this request.
    #[test]
    fn signed_proofs_with_arbitrary_claims_never_panic(
        jti in json_value(), htm in json_value(), htu in json_value(),
        iat in json_value(), ath in json_value(), nonce in json_value(),
    ) {
        let claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": iat, "ath": ath,
            "nonce": nonce});
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": bare_jwk(es256())});
        let proof = sign(es256(), &header, &claims);
        for v in [DpopVerifier::new(DpopConfig::default()).unwrap(), nonce_verifier()] {
            for token in [None, Some("at")] {
                if verify_at_token_endpoint(&v, &proof, token).is_ok() {
                    prop_assert_eq!(&htm, "POST");
                    let claimed = Htu::parse(htu.as_str().unwrap()).unwrap();
                    prop_assert_eq!(claimed.as_str(), TOKEN_URL);
                    prop_assert!(token.is_none());
                    prop_assert!(!v.requires_nonce());
                }
            }
        }
    }

    #[test]
    fn client_assertion_never_panics(s in prop_oneof!["\\PC*".boxed(), jwt_like().boxed()]) {
        let jwks = json!({"keys": [es256().public_jwk()]});
        let p = ClientAssertionParams {
            client_assertion: &s,
            client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
            client_id: None,
        };
        let _ = p.claimed_client_id();
        let v = ClientAssertionVerifier::new("https://as.example");
        let client = ClientJwks { client_id: "c", jwks: &jwks };
        let store = MemoryReplay::new();
        let r = runtime().block_on(common::verify_assertion(&v, &p, client, NOW, &store));
        prop_assert!(r.is_err());
    }

    #[test]
    fn htu_parsing_never_panics_and_is_idempotent(
        s in prop_oneof!["\\PC*".boxed(), HTTP_URI_PATTERN.boxed()],
    ) {
        if let Ok(h) = Htu::parse(&s) {
            let again = Htu::parse(h.as_str()).unwrap();
            prop_assert_eq!(&again, &h);
            prop_assert!(!h.as_str().contains('?') && !h.as_str().contains('#'));
        }
    }

    #[test]
    fn nonce_check_never_panics(s in "\\PC{0,100}") {
        let k = NonceKey::new(&SecretBytes::new(vec![5; 32]), Duration::seconds(60)).unwrap();
        prop_assert!(!k.check(&s, NOW));
    }

    #[test]
    fn any_valid_verifier_matches_only_its_own_challenge(
        v in "[A-Za-z0-9._~\\-]{43,128}",
        w in "[A-Za-z0-9._~\\-]{43,128}",
    ) {
        let verifier = CodeVerifier::parse(Some(&v)).unwrap();
        let computed = verifier.s256_challenge();
        let challenge = CodeChallenge::parse(Some(&computed), Some("S256")).unwrap();
        prop_assert!(pkce::verify(&challenge, &verifier).is_ok());
        let other = CodeVerifier::parse(Some(&w)).unwrap();
        prop_assert_eq!(pkce::verify(&challenge, &other).is_ok(), v == w);
    }

    #[test]
    fn pkce_parsers_never_panic(c in "\\PC{0,140}", m in "\\PC{0,8}") {
        let _ = CodeChallenge::parse(Some(&c), Some(&m));
        let _ = CodeVerifier::parse(Some(&c));
    }
}
