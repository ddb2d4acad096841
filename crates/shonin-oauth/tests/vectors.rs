#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Specification test vectors from `tests/vectors/` (sources in each file and the README).

mod common;

use common::MemoryReplay;
use serde_json::Value;
use shonin_oauth::dpop::{DpopConfig, DpopError, DpopRequest, DpopVerifier, Htu};
use shonin_oauth::{CodeChallenge, CodeVerifier, pkce};
use time::OffsetDateTime;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn at(case: &Value) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(case["iat"].as_i64().unwrap()).unwrap()
}

async fn verify(
    case: &Value,
    expected_jkt: Option<&str>,
    store: &MemoryReplay,
) -> Result<shonin_oauth::VerifiedProof, DpopError> {
    let uri = Htu::parse(case["htu"].as_str().unwrap()).unwrap();
    let req = DpopRequest {
        method: case["method"].as_str().unwrap(),
        uri: &uri,
        access_token: case["access_token"].as_str(),
        expected_jkt,
    };
    let v = DpopVerifier::new(DpopConfig::default()).unwrap();
    common::verify_proof(&v, case["proof"].as_str().unwrap(), &req, at(case), store).await
}

#[tokio::test]
async fn rfc9449_figure_2_token_request_proof_verifies() {
    let v = load("rfc9449.json");
    let case = &v["token_request"];
    let proof = verify(case, None, &MemoryReplay::new()).await.unwrap();
    assert_eq!(proof.jkt, v["jkt"].as_str().unwrap());
    assert_eq!(proof.jti, case["jti"].as_str().unwrap());
}

#[tokio::test]
async fn rfc9449_figure_7_refresh_proof_verifies_bound_to_the_figure_9_jkt() {
    let v = load("rfc9449.json");
    let proof = verify(
        &v["refresh_request"],
        v["jkt"].as_str(),
        &MemoryReplay::new(),
    )
    .await;
    assert!(proof.is_ok(), "{proof:?}");
}

#[tokio::test]
async fn rfc9449_figure_13_resource_proof_verifies_with_its_access_token() {
    let v = load("rfc9449.json");
    let proof = verify(
        &v["resource_request"],
        v["jkt"].as_str(),
        &MemoryReplay::new(),
    )
    .await;
    assert!(proof.is_ok(), "{proof:?}");
}

#[tokio::test]
async fn rfc9449_figure_13_proof_fails_for_a_different_access_token() {
    let v = load("rfc9449.json");
    let mut case = v["resource_request"].clone();
    case["access_token"] = Value::from("another-token");
    let r = verify(&case, None, &MemoryReplay::new()).await;
    assert!(matches!(r, Err(DpopError::AthMismatch)), "{r:?}");
}

#[tokio::test]
async fn rfc9449_figure_2_proof_is_refused_at_another_endpoint_and_when_replayed() {
    let v = load("rfc9449.json");
    let mut case = v["token_request"].clone();
    case["htu"] = Value::from("https://server.example.com/par");
    let r = verify(&case, None, &MemoryReplay::new()).await;
    assert!(matches!(r, Err(DpopError::HtuMismatch)), "{r:?}");

    let store = MemoryReplay::at(at(&v["token_request"]));
    assert!(verify(&v["token_request"], None, &store).await.is_ok());
    let r = verify(&v["token_request"], None, &store).await;
    assert!(matches!(r, Err(DpopError::Replayed)), "{r:?}");
}

#[test]
fn rfc7636_appendix_b_s256_example() {
    let v = load("rfc7636-appendix-b.json");
    let challenge = CodeChallenge::parse(
        v["code_challenge"].as_str(),
        v["code_challenge_method"].as_str(),
    )
    .unwrap();
    let verifier = CodeVerifier::parse(v["code_verifier"].as_str()).unwrap();
    assert_eq!(verifier.s256_challenge(), challenge.as_str());
    assert_eq!(pkce::verify(&challenge, &verifier), Ok(()));
}
