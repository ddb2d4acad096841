#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! RFC 9068 access token claims, OIDC ID token claims, and token randomness; signed with a real
//! `LocalSigner` and verified back through `shonin_jose` to show the pieces fit.

use serde_json::json;
use shonin_jose::{Alg, VerifyOptions, b64url_decode, decode_header, verify_with_jwk};
use shonin_keys::{LocalSigner, Signer, sign_jwt};
use shonin_oauth::claims::{
    ACCESS_TOKEN_TYP, AccessTokenInput, ClaimsError, DEFAULT_ACCESS_TOKEN_LIFETIME, ID_TOKEN_TYP,
    IdTokenInput, access_token_claims, check_nonce, id_token_claims, new_grant_id, new_jti,
    random_token,
};
use std::collections::HashSet;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const ISS: &str = "https://as.example";

fn at_input() -> AccessTokenInput {
    AccessTokenInput::new(
        ISS,
        "client-1",
        vec!["https://rs.example".into()],
        "openid accounts",
        NOW,
        "jti-1",
    )
}

fn id_input() -> IdTokenInput {
    IdTokenInput {
        issuer: ISS.into(),
        subject: "user-1".into(),
        client_id: "client-1".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time: NOW - Duration::seconds(30),
        acr: Some("urn:shonin:acr:pwd".into()),
        amr: vec!["pwd".into()],
        issued_at: NOW,
        lifetime: Duration::seconds(300),
    }
}

#[test]
fn access_token_for_a_user_has_every_rfc9068_claim_and_cnf_jkt() {
    let mut input = at_input();
    input.subject = Some("user-1".into());
    input.jkt = Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    input.authorization_details = Some(json!([{"type": "account_information",
        "actions": ["read_balances"]}]));
    let claims = access_token_claims(&input).unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": ISS,
            "exp": NOW.unix_timestamp() + 300,
            "aud": "https://rs.example",
            "sub": "user-1",
            "client_id": "client-1",
            "iat": NOW.unix_timestamp(),
            "jti": "jti-1",
            "scope": "openid accounts",
            "authorization_details": [{"type": "account_information",
                "actions": ["read_balances"]}],
            "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
        })
    );
    assert_eq!(DEFAULT_ACCESS_TOKEN_LIFETIME, Duration::seconds(300));
}

#[test]
fn client_credentials_token_uses_the_client_id_as_sub() {
    let mut input = at_input();
    input.scope = String::new();
    input.x5t = Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into());
    input.audience = vec!["https://a.example".into(), "https://b.example".into()];
    let claims = access_token_claims(&input).unwrap();
    assert_eq!(claims["sub"], "client-1");
    assert_eq!(
        claims["aud"],
        json!(["https://a.example", "https://b.example"])
    );
    assert!(claims.get("scope").is_none());
    assert!(claims.get("authorization_details").is_none());
    assert_eq!(
        claims["cnf"],
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
    );
}

#[test]
fn unusable_access_token_inputs_are_refused() {
    let mut no_aud = at_input();
    no_aud.audience.clear();
    assert_eq!(
        access_token_claims(&no_aud),
        Err(ClaimsError::EmptyAudience)
    );
    let mut blank_aud = at_input();
    blank_aud.audience = vec![String::new()];
    assert_eq!(
        access_token_claims(&blank_aud),
        Err(ClaimsError::EmptyAudience)
    );
    for lifetime in [Duration::ZERO, Duration::seconds(-1)] {
        let mut input = at_input();
        input.lifetime = lifetime;
        assert_eq!(
            access_token_claims(&input),
            Err(ClaimsError::NonPositiveLifetime)
        );
    }
    let mut object_details = at_input();
    object_details.authorization_details = Some(json!({"type": "x"}));
    assert_eq!(
        access_token_claims(&object_details),
        Err(ClaimsError::AuthorizationDetailsNotArray)
    );
    let mut bad_sub = at_input();
    bad_sub.subject = Some("user\n1".into());
    assert_eq!(
        access_token_claims(&bad_sub),
        Err(ClaimsError::InvalidSubject)
    );
}

#[tokio::test]
async fn signed_access_token_verifies_with_typ_at_jwt() {
    let signer = LocalSigner::generate(Alg::ES256).unwrap();
    let claims = access_token_claims(&at_input()).unwrap();
    let token = sign_jwt(&signer, ACCESS_TOKEN_TYP, &claims).await.unwrap();
    let opts = VerifyOptions::new(NOW).with_typ("at+jwt");
    let verified = verify_with_jwk(&token, signer.public_jwk(), &opts).unwrap();
    assert_eq!(
        decode_header(&token).unwrap().typ.as_deref(),
        Some("at+jwt")
    );
    assert_eq!(serde_json::Value::Object(verified), claims);
}

#[test]
fn id_token_has_the_oidc_core_claims() {
    let claims = id_token_claims(&id_input()).unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": ISS,
            "sub": "user-1",
            "aud": "client-1",
            "exp": NOW.unix_timestamp() + 300,
            "iat": NOW.unix_timestamp(),
            "auth_time": NOW.unix_timestamp() - 30,
            "nonce": "n-0S6_WzA2Mj",
            "acr": "urn:shonin:acr:pwd",
            "amr": ["pwd"],
        })
    );
    assert_eq!(ID_TOKEN_TYP, "JWT");
    let mut bare = id_input();
    bare.nonce = None;
    bare.acr = None;
    bare.amr.clear();
    let claims = id_token_claims(&bare).unwrap();
    for absent in ["nonce", "acr", "amr"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
}

#[test]
fn nonces_up_to_64_characters_are_accepted_as_fapi_requires() {
    let sixty_four = "a".repeat(64);
    let mut input = id_input();
    input.nonce = Some(sixty_four.clone());
    assert_eq!(id_token_claims(&input).unwrap()["nonce"], sixty_four);
    // Any printable character, including ones that need escaping in HTML or URLs.
    for ok in ["x", "<'\"&;>%20", "é€𝄞", &"b".repeat(255)] {
        assert_eq!(check_nonce(ok), Ok(()), "{ok}");
    }
}

#[test]
fn empty_overlong_and_control_character_nonces_are_refused() {
    assert_eq!(check_nonce(""), Err(ClaimsError::EmptyNonce));
    assert_eq!(
        check_nonce(&"a".repeat(256)),
        Err(ClaimsError::NonceTooLong)
    );
    // Length is counted in characters, not bytes.
    assert_eq!(check_nonce(&"é".repeat(255)), Ok(()));
    for bad in ["a\nb", "a\u{0}", "\t", "a\u{7f}", "a\u{9b}"] {
        assert_eq!(
            check_nonce(bad),
            Err(ClaimsError::NonceControlCharacter),
            "{bad:?}"
        );
    }
    let mut input = id_input();
    input.nonce = Some("x".repeat(300));
    let err = id_token_claims(&input).unwrap_err();
    assert_eq!(err, ClaimsError::NonceTooLong);
    assert_eq!(err.oauth_error(), "invalid_request");
}

#[test]
fn id_token_subject_follows_oidc_core_limits() {
    for bad in [
        String::new(),
        "u".repeat(256),
        "usér".into(),
        "u\u{0}".into(),
    ] {
        let mut input = id_input();
        input.subject = bad;
        assert_eq!(id_token_claims(&input), Err(ClaimsError::InvalidSubject));
    }
    let mut max = id_input();
    max.subject = "u".repeat(255);
    assert!(id_token_claims(&max).is_ok());
    let mut no_aud = id_input();
    no_aud.client_id = String::new();
    assert_eq!(id_token_claims(&no_aud), Err(ClaimsError::EmptyAudience));
}

#[test]
fn random_tokens_carry_at_least_256_bits_and_do_not_repeat() {
    let token = random_token(32).unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(b64url_decode(&token).unwrap().len(), 32);
    // Fewer bytes than the minimum are raised to it.
    assert_eq!(b64url_decode(&random_token(8).unwrap()).unwrap().len(), 32);
    assert_eq!(b64url_decode(&random_token(48).unwrap()).unwrap().len(), 48);
    let seen: HashSet<String> = (0..1000).map(|_| new_jti().unwrap()).collect();
    assert_eq!(seen.len(), 1000);
}

#[test]
fn grant_ids_begin_with_their_time_and_carry_192_random_bits() {
    let t = datetime!(2026-12-03 12:00:00 UTC);
    let id = new_grant_id(t).unwrap();
    assert_eq!(&id[..12], format!("{:012x}", 1_796_299_200_000u64));
    assert_eq!(b64url_decode(&id[12..]).unwrap().len(), 24);
    // Later ids sort later, byte by byte (SQLite's BINARY collation), whatever the random part.
    let later = new_grant_id(t + Duration::milliseconds(1)).unwrap();
    assert!(later > id && later[..12] > id[..12]);
    let seen: HashSet<String> = (0..1000).map(|_| new_grant_id(t).unwrap()).collect();
    assert_eq!(seen.len(), 1000);
}
