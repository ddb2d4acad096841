//! The FAPI 2.0 code flow in-process: PAR → sign-in → consent → token → userinfo → refresh →
//! introspection → revocation, and the rejections the profile requires.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::oauth::*;
use common::{TestApp, body_json, body_text};
use serde_json::{Value, json};

async fn setup() -> (TestApp, TestClient) {
    let app = TestApp::new().await;
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    add_user(&app, "alice").await;
    (app, c)
}

async fn full_code(app: &TestApp, c: &TestClient) -> (String, String) {
    let request_uri = push(app, c).await;
    let (redirect, consent) = sign_in_and_consent(app, c, &request_uri, "alice").await;
    (query_param(&redirect, "code").unwrap(), consent)
}

fn audit_has(entries: &[shonin_audit::SealedEntry], action: &str, reason_part: &str) -> bool {
    entries.iter().any(|e| {
        e.record.action == action
            && e.record
                .reason
                .as_deref()
                .is_some_and(|r| r.contains(reason_part))
    })
}

#[tokio::test]
async fn code_flow_issues_dpop_bound_tokens_and_userinfo_answers() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let (redirect, consent) = sign_in_and_consent(&app, &c, &request_uri, "alice").await;

    // The consent page shows the stored details, escaped.
    assert!(consent.contains("€123.45"), "{consent}");
    assert!(
        consent.contains("Merchant &#38; Co &#60;script&#62;")
            || consent.contains("Merchant &amp; Co &lt;script&gt;"),
        "{consent}"
    );
    assert!(!consent.contains("<script>"));
    assert!(!consent.contains("<b>Bank</b>"), "client name escaped");

    // RFC 9207 iss and state come back with the code.
    assert!(redirect.starts_with(REDIRECT));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(ISSUER));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-123"));
    let code = query_param(&redirect, "code").unwrap();
    assert!(code.len() >= 43, "≥ 256-bit code");

    let resp = redeem(&app, &c, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let tokens = body_json(resp).await;
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        tokens["authorization_details"][0]["creditorAccount"]["iban"],
        "DE89370400440532013000"
    );
    let at = tokens["access_token"].as_str().unwrap();
    let header = shonin_jose::decode_header(at).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks = body_json(app.get("/jwks").await).await;
    let claims = shonin_jose::verify_jwt(
        at,
        &jwks,
        &shonin_jose::VerifyOptions::new(time::OffsetDateTime::now_utc()),
    )
    .unwrap();
    assert_eq!(claims["cnf"]["jkt"], c.jkt());
    assert_eq!(claims["client_id"], "bank-app");
    let id_token = tokens["id_token"].as_str().unwrap();
    let id = shonin_jose::verify_jwt(
        id_token,
        &jwks,
        &shonin_jose::VerifyOptions::new(time::OffsetDateTime::now_utc()),
    )
    .unwrap();
    assert_eq!(id["aud"], "bank-app");
    assert_eq!(id["nonce"], "n".repeat(64));
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["amr"], json!(["pwd"]));

    let resp = userinfo(&app, &c, at).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info = body_json(resp).await;
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["sub"], id["sub"]);

    // Refresh with the same DPoP key: a new access token, the refresh token is not rotated.
    let url = format!("{ISSUER}/token");
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut pairs = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".into(), rt.clone()),
    ];
    pairs.extend(c.auth_params().await);
    let resp = send_form(
        &app,
        "/token",
        &pairs,
        &[("dpop", c.proof("POST", &url, None).await)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refreshed = body_json(resp).await;
    assert!(
        refreshed.get("refresh_token").is_none(),
        "not rotated (FAPI 2.0)"
    );
    let at2 = refreshed["access_token"].as_str().unwrap().to_owned();

    // Introspection (RFC 7662) and its JWT form (RFC 9701).
    let mut pairs = vec![("token".to_owned(), at2.clone())];
    pairs.extend(c.auth_params().await);
    let resp = send_form(&app, "/introspect", &pairs, &[]).await;
    let intro = body_json(resp).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["token_type"], "DPoP");
    assert_eq!(intro["cnf"]["jkt"], c.jkt());
    let mut pairs = vec![("token".to_owned(), at2.clone())];
    pairs.extend(c.auth_params().await);
    let resp = send_form(
        &app,
        "/introspect",
        &pairs,
        &[("accept", "application/token-introspection+jwt".into())],
    )
    .await;
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/token-introspection+jwt"
    );
    let jwt = body_text(resp).await;
    assert_eq!(
        shonin_jose::decode_header(&jwt).unwrap().typ.as_deref(),
        Some("token-introspection+jwt")
    );

    // Revoking the refresh token revokes its grant's access tokens too (RFC 7009 §2.1).
    let mut pairs = vec![("token".to_owned(), rt)];
    pairs.extend(c.auth_params().await);
    assert_eq!(
        send_form(&app, "/revoke", &pairs, &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        userinfo(&app, &c, &at2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let actions: Vec<String> = app
        .audit_entries()
        .await
        .into_iter()
        .map(|e| e.record.action)
        .collect();
    for a in [
        "oauth.par",
        "user.sign_in",
        "oauth.consent",
        "oauth.token",
        "oauth.revoke",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn reused_authorization_code_revokes_issued_tokens() {
    let (app, c) = setup().await;
    let (code, _) = full_code(&app, &c).await;
    let tokens = body_json(redeem(&app, &c, &code).await).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &c, &at).await.status(), StatusCode::OK);
    let resp = redeem(&app, &c, &code).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_grant");
    let resp = userinfo(&app, &c, &at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("DPoP error=\"invalid_token\"")
    );
    assert!(audit_has(
        &app.audit_entries().await,
        "oauth.token",
        "already used"
    ));
}

/// Two redemptions of one code at once: the code's redemption and its tokens commit together
/// (one unit of work), so exactly one wins, and the loser — whether it read the code before or
/// after the winner's commit — is a reuse that revokes the winner's tokens (RFC 6749 §10.5).
#[tokio::test]
async fn concurrent_redemptions_of_one_code_have_one_winner_whose_tokens_are_revoked() {
    let (app, c) = setup().await;
    for _ in 0..3 {
        let (code, _) = full_code(&app, &c).await;
        let (a, b) = tokio::join!(redeem(&app, &c, &code), redeem(&app, &c, &code));
        let (sa, sb) = (a.status(), b.status());
        let (ja, jb) = (body_json(a).await, body_json(b).await);
        let (won, lost) = match (sa, sb) {
            (StatusCode::OK, StatusCode::BAD_REQUEST) => (ja, jb),
            (StatusCode::BAD_REQUEST, StatusCode::OK) => (jb, ja),
            other => panic!("one winner expected: {other:?} {ja} {jb}"),
        };
        assert_eq!(lost["error"], "invalid_grant", "{lost}");
        let at = won["access_token"].as_str().unwrap();
        assert_eq!(
            userinfo(&app, &c, at).await.status(),
            StatusCode::UNAUTHORIZED,
            "the winner's tokens are revoked by the reuse"
        );
    }
}

#[tokio::test]
async fn authorize_without_par_is_refused_on_a_page_not_redirected() {
    let (app, c) = setup().await;
    let uri = format!(
        "/authorize?client_id={}&response_type=code&redirect_uri={REDIRECT}&scope=openid",
        c.id
    );
    let resp = app.get(&uri).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers().get(header::LOCATION).is_none(),
        "no open redirect"
    );
    assert!(
        resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(body_text(resp).await.contains("pushed"));
    assert!(audit_has(
        &app.audit_entries().await,
        "oauth.authorize",
        "PAR"
    ));
}

#[tokio::test]
async fn extra_authorization_parameters_are_rejected_with_a_redirect() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let uri = format!(
        "{}&scope=openid+accounts",
        authorize_uri(&c.id, &request_uri)
    );
    let resp = app.get(&uri).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn request_uri_is_bound_to_its_client_and_single_use() {
    let (app, c) = setup().await;
    let other = TestClient::new("other-app");
    other.register(&app, |_| {}).await;
    let request_uri = push(&app, &c).await;
    let resp = app.get(&authorize_uri(&other.id, &request_uri)).await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "another client's request_uri"
    );
    let (redirect, _) = sign_in_and_consent(&app, &c, &request_uri, "alice").await;
    assert!(query_param(&redirect, "code").is_some());
    let resp = app.get(&authorize_uri(&c.id, &request_uri)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(resp).await.contains("already used"));
}

#[tokio::test]
async fn par_requires_client_authentication() {
    let (app, c) = setup().await;
    let mut pairs = c.par_params();
    pairs.push(("client_id".into(), c.id.clone()));
    let resp = send_form(&app, "/par", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await["error"], "invalid_client");
    assert!(audit_has(
        &app.audit_entries().await,
        "oauth.par",
        "invalid_client"
    ));
}

async fn par_error(
    app: &TestApp,
    c: &TestClient,
    tweak: impl FnOnce(&mut Vec<(String, String)>),
) -> Value {
    let mut pairs = c.par_params();
    tweak(&mut pairs);
    pairs.extend(c.auth_params().await);
    let resp = send_form(app, "/par", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    body_json(resp).await
}

fn set(pairs: &mut Vec<(String, String)>, k: &str, v: Option<&str>) {
    pairs.retain(|(n, _)| n != k);
    if let Some(v) = v {
        pairs.push((k.to_owned(), v.to_owned()));
    }
}

#[tokio::test]
async fn par_rejects_what_fapi_forbids() {
    let (app, c) = setup().await;
    let long_nonce = "n".repeat(256);
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge", None, "invalid_request"),
        ("redirect_uri", None, "invalid_request"),
        (
            "redirect_uri",
            Some("https://client.example/other"),
            "invalid_request",
        ),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("scope", Some("openid admin"), "invalid_scope"),
        (
            "request_uri",
            Some("urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
        (
            "authorization_details",
            Some(r#"[{"type":"crypto_transfer"}]"#),
            "invalid_authorization_details",
        ),
        (
            "authorization_details",
            Some("{not json"),
            "invalid_authorization_details",
        ),
        ("nonce", Some(long_nonce.as_str()), "invalid_request"),
    ];
    for (k, v, expected) in cases {
        let body = par_error(&app, &c, |p| set(p, k, v)).await;
        assert_eq!(body["error"], expected, "{k}={v:?}: {body}");
    }
}

#[tokio::test]
async fn oversized_deep_and_invalid_utf8_inputs_are_400_not_500() {
    let (app, c) = setup().await;
    let deep = format!(
        "[{{\"type\":\"payment_initiation\",\"x\":{}{}}}]",
        "[".repeat(200),
        "]".repeat(200)
    );
    let body = par_error(&app, &c, |p| set(p, "authorization_details", Some(&deep))).await;
    assert_eq!(body["error"], "invalid_authorization_details");
    let resp = app
        .send(
            Request::post("/par")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(b"client_id=%FF%FE&scope=\xff".to_vec()))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_request");
    let resp = app
        .send(
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// A client_credentials request with a new assertion and a new DPoP proof.
async fn fresh_token_request(app: &TestApp, c: &TestClient) -> axum::http::Response<Body> {
    let url = format!("{ISSUER}/token");
    token_with(
        app,
        c,
        c.assertion(ISSUER).await,
        Some(c.proof("POST", &url, None).await),
    )
    .await
}

async fn token_with(
    app: &TestApp,
    c: &TestClient,
    assertion: String,
    proof: Option<String>,
) -> axum::http::Response<Body> {
    let pairs = vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("scope".into(), "accounts".into()),
        ("client_id".into(), c.id.clone()),
        (
            "client_assertion_type".into(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion".into(), assertion),
    ];
    let headers: Vec<(&str, String)> = proof.map(|p| vec![("dpop", p)]).unwrap_or_default();
    send_form(app, "/token", &pairs, &headers).await
}

#[tokio::test]
async fn client_credentials_with_dpop_works_and_bad_assertions_are_invalid_client() {
    let (app, c) = setup().await;
    let url = format!("{ISSUER}/token");
    let ok = fresh_token_request(&app, &c).await;
    assert_eq!(ok.status(), StatusCode::OK, "aud = issuer accepted");
    let body = body_json(ok).await;
    assert_eq!(body["token_type"], "DPoP");
    assert!(body.get("refresh_token").is_none());

    let base = || json!({"iss": "bank-app", "sub": "bank-app", "aud": ISSUER, "iat": now(), "exp": now() + 60, "jti": jti()});
    let mut expired = base();
    expired["exp"] = json!(now() - 10);
    let mut future = base();
    future["iat"] = json!(now() + 61);
    let mut wrong_aud = base();
    wrong_aud["aud"] = json!("https://evil.example");
    let mut no_exp = base();
    no_exp.as_object_mut().unwrap().remove("exp");
    let replayed = c.assertion_with(base()).await;
    let first = token_with(
        &app,
        &c,
        replayed.clone(),
        Some(c.proof("POST", &url, None).await),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let none_alg = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&base())
    );
    let other_key = TestClient::new("bank-app");
    let cases = vec![
        ("expired", c.assertion_with(expired).await),
        ("future", c.assertion_with(future).await),
        ("wrong aud", c.assertion_with(wrong_aud).await),
        ("no exp", c.assertion_with(no_exp).await),
        ("replayed", replayed),
        ("alg none", none_alg),
        ("unknown key", other_key.assertion(ISSUER).await),
    ];
    for (name, assertion) in cases {
        let resp = token_with(&app, &c, assertion, Some(c.proof("POST", &url, None).await)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(body_json(resp).await["error"], "invalid_client", "{name}");
    }
}

#[tokio::test]
async fn token_endpoint_requires_a_valid_dpop_proof() {
    let (app, c) = setup().await;
    let url = format!("{ISSUER}/token");
    let resp = token_with(&app, &c, c.assertion(ISSUER).await, None).await;
    assert_eq!(
        body_json(resp).await["error"],
        "invalid_dpop_proof",
        "missing proof"
    );
    let claims = || json!({"jti": jti(), "htm": "POST", "htu": url, "iat": now()});
    let mut wrong_typ = c.proof_header();
    wrong_typ["typ"] = json!("JWT");
    let mut private = c.proof_header();
    private["jwk"]["d"] = json!("AAAA");
    let mut htm = claims();
    htm["htm"] = json!("GET");
    let mut htu = claims();
    htu["htu"] = json!(format!("{ISSUER}/par"));
    let mut stale = claims();
    stale["iat"] = json!(now() - 120);
    let mut future = claims();
    future["iat"] = json!(now() + 61);
    let replay = TestClient::proof_by(&c.dpop, c.proof_header(), claims()).await;
    let first = token_with(&app, &c, c.assertion(ISSUER).await, Some(replay.clone())).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cases = vec![
        (
            "typ",
            TestClient::proof_by(&c.dpop, wrong_typ, claims()).await,
        ),
        (
            "private jwk",
            TestClient::proof_by(&c.dpop, private, claims()).await,
        ),
        (
            "htm",
            TestClient::proof_by(&c.dpop, c.proof_header(), htm).await,
        ),
        (
            "htu",
            TestClient::proof_by(&c.dpop, c.proof_header(), htu).await,
        ),
        (
            "stale iat",
            TestClient::proof_by(&c.dpop, c.proof_header(), stale).await,
        ),
        (
            "future iat",
            TestClient::proof_by(&c.dpop, c.proof_header(), future).await,
        ),
        ("replayed jti", replay),
    ];
    let n = cases.len();
    for (name, proof) in cases {
        let resp = token_with(&app, &c, c.assertion(ISSUER).await, Some(proof)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(
            body_json(resp).await["error"],
            "invalid_dpop_proof",
            "{name}"
        );
    }
    // The replay was refused after its token was signed (client_credentials commits once, at
    // the end): only the first request's success entry exists, every refusal has its own.
    let entries = app.audit_entries().await;
    let token = |outcome: shonin_audit::Outcome| {
        entries
            .iter()
            .filter(|e| e.record.action == "oauth.token" && e.record.outcome == outcome)
            .count()
    };
    assert_eq!(token(shonin_audit::Outcome::Success), 1);
    assert_eq!(
        token(shonin_audit::Outcome::Failure),
        n + 1,
        "missing proof too"
    );
    assert!(audit_has(&entries, "oauth.token", "used before"));
}

#[tokio::test]
async fn code_bound_at_par_needs_the_same_dpop_key() {
    let (app, c) = setup().await;
    let (code, _) = full_code(&app, &c).await;
    let thief = TestClient {
        id: c.id.clone(),
        key: c.key.clone(),
        dpop: shonin_keys::LocalSigner::generate(shonin_jose::Alg::ES256).unwrap(),
    };
    let resp = redeem(&app, &thief, &code).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_checked_at_the_token_endpoint() {
    let (app, c) = setup().await;
    let url = format!("{ISSUER}/token");
    for (name, verifier, redirect, expected) in [
        (
            "wrong verifier",
            "a".repeat(43),
            REDIRECT.to_owned(),
            "invalid_grant",
        ),
        (
            "redirect mismatch",
            VERIFIER.to_owned(),
            "https://client.example/other".to_owned(),
            "invalid_grant",
        ),
    ] {
        let (code, _) = full_code(&app, &c).await;
        let mut pairs = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".into(), code),
            ("redirect_uri".into(), redirect),
            ("code_verifier".into(), verifier),
        ];
        pairs.extend(c.auth_params().await);
        let resp = send_form(
            &app,
            "/token",
            &pairs,
            &[("dpop", c.proof("POST", &url, None).await)],
        )
        .await;
        assert_eq!(body_json(resp).await["error"], expected, "{name}");
    }
}

#[tokio::test]
async fn refresh_and_access_tokens_need_their_bound_key() {
    let (app, c) = setup().await;
    let (code, _) = full_code(&app, &c).await;
    let tokens = body_json(redeem(&app, &c, &code).await).await;
    let at = tokens["access_token"].as_str().unwrap();
    let thief = TestClient {
        id: c.id.clone(),
        key: c.key.clone(),
        dpop: shonin_keys::LocalSigner::generate(shonin_jose::Alg::ES256).unwrap(),
    };
    assert_eq!(
        userinfo(&app, &thief, at).await.status(),
        StatusCode::UNAUTHORIZED,
        "access token, other key"
    );
    let url = format!("{ISSUER}/token");
    let mut pairs = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        (
            "refresh_token".into(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ),
    ];
    pairs.extend(c.auth_params().await);
    let resp = send_form(
        &app,
        "/token",
        &pairs,
        &[("dpop", thief.proof("POST", &url, None).await)],
    )
    .await;
    assert_eq!(
        body_json(resp).await["error"],
        "invalid_dpop_proof",
        "refresh token, other key"
    );
}

#[tokio::test]
async fn userinfo_rejects_bearer_query_tokens_and_bad_ath() {
    let (app, c) = setup().await;
    let (code, _) = full_code(&app, &c).await;
    let tokens = body_json(redeem(&app, &c, &code).await).await;
    let at = tokens["access_token"].as_str().unwrap();
    let resp = app
        .send(
            Request::get("/userinfo")
                .header("authorization", format!("Bearer {at}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "DPoP-bound token as Bearer"
    );
    // RFC 9449 §7.2: the client is told to use DPoP.
    let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    let resp = app.get(&format!("/userinfo?access_token={at}")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "token in query");
    let url = format!("{ISSUER}/userinfo");
    let no_ath = c.proof("GET", &url, None).await;
    let resp = app
        .send(
            Request::get("/userinfo")
                .header("authorization", format!("DPoP {at}"))
                .header("dpop", no_ath)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "missing ath");
    let wrong_ath = c.proof("GET", &url, Some("another-token")).await;
    let resp = app
        .send(
            Request::get("/userinfo")
                .header("authorization", format!("DPoP {at}"))
                .header("dpop", wrong_ath)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "wrong ath");
    assert!(audit_has(
        &app.audit_entries().await,
        "oauth.userinfo",
        "ath"
    ));
}

#[tokio::test]
async fn dpop_nonce_is_required_when_the_client_asks_for_it() {
    let app = TestApp::new().await;
    let c = TestClient::new("nonce-app");
    c.register(&app, |r| r.require_dpop_nonce = true).await;
    let url = format!("{ISSUER}/token");
    let resp = fresh_token_request(&app, &c).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(body_json(resp).await["error"], "use_dpop_nonce");
    let claims = json!({"jti": jti(), "htm": "POST", "htu": url, "iat": now(), "nonce": nonce});
    let proof = TestClient::proof_by(&c.dpop, c.proof_header(), claims).await;
    let resp = token_with(&app, &c, c.assertion(ISSUER).await, Some(proof)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let stale = json!({"jti": jti(), "htm": "POST", "htu": url, "iat": now(), "nonce": "forged"});
    let proof = TestClient::proof_by(&c.dpop, c.proof_header(), stale).await;
    let resp = token_with(&app, &c, c.assertion(ISSUER).await, Some(proof)).await;
    assert_eq!(body_json(resp).await["error"], "use_dpop_nonce");
}

#[tokio::test]
async fn wrong_password_is_generic_audited_and_locks_after_ten() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let resp = app.get(&authorize_uri(&c.id, &request_uri)).await;
    let csrf = set_cookie(&resp, "__Host-shonin_csrf").unwrap();
    let try_pw = |user: &'static str, pw: &'static str| {
        let pairs = vec![
            ("request_uri".to_owned(), request_uri.clone()),
            ("client_id".into(), c.id.clone()),
            ("csrf".into(), csrf.clone()),
            ("username".into(), user.to_owned()),
            ("password".into(), pw.to_owned()),
        ];
        let cookie = format!("__Host-shonin_csrf={csrf}");
        let app = &app;
        async move { send_form(app, "/authorize/sign-in", &pairs, &[("cookie", cookie)]).await }
    };
    let unknown = body_text(try_pw("mallory", "whatever-password").await).await;
    let wrong = body_text(try_pw("alice", "wrong-password-1").await).await;
    assert!(
        unknown.contains("Invalid username or password.")
            && wrong.contains("Invalid username or password.")
    );
    for _ in 0..9 {
        try_pw("alice", "wrong-password-1").await;
    }
    let locked = try_pw("alice", PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::UNAUTHORIZED,
        "locked after 10 failures, even with the right password"
    );
    let entries = app.audit_entries().await;
    assert!(
        audit_has(&entries, "user.sign_in", "unknown_user")
            || audit_has(&entries, "user.sign_in", "unknown")
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.record.action == "user.sign_in")
            .count()
            >= 12
    );
}

#[tokio::test]
async fn cross_site_form_post_without_the_csrf_cookie_is_refused() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let pairs = vec![
        ("request_uri".to_owned(), request_uri),
        ("client_id".into(), c.id.clone()),
        ("csrf".into(), "attacker-chosen".into()),
        ("username".into(), "alice".into()),
        ("password".into(), PASSWORD.into()),
    ];
    let resp = send_form(&app, "/authorize/sign-in", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&resp, "__Host-shonin_session").is_none());
}

#[tokio::test]
async fn discovery_advertises_the_fapi_profile() {
    let (app, _) = setup().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let m = body_json(app.get(path).await).await;
        assert_eq!(m["issuer"], ISSUER);
        assert_eq!(
            m["pushed_authorization_request_endpoint"],
            format!("{ISSUER}/par")
        );
        assert_eq!(m["require_pushed_authorization_requests"], true);
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert!(
            m["dpop_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("ES256"))
        );
    }
}

#[tokio::test]
async fn userinfo_demands_a_nonce_from_clients_that_require_one() {
    let app = TestApp::new().await;
    let c = TestClient::new("nonce-app");
    c.register(&app, |r| r.require_dpop_nonce = true).await;
    add_user(&app, "alice").await;
    // Get a token: the first token request tells us the nonce.
    let url = format!("{ISSUER}/token");
    let probe = fresh_token_request(&app, &c).await;
    let nonce = probe.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let request_uri = {
        let par_url = format!("{ISSUER}/par");
        let mut pairs = c.par_params();
        pairs.extend(c.auth_params().await);
        let claims =
            json!({"jti": jti(), "htm": "POST", "htu": par_url, "iat": now(), "nonce": nonce});
        let proof = TestClient::proof_by(&c.dpop, c.proof_header(), claims).await;
        let resp = send_form(&app, "/par", &pairs, &[("dpop", proof)]).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        body_json(resp).await["request_uri"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (redirect, _) = sign_in_and_consent(&app, &c, &request_uri, "alice").await;
    let code = query_param(&redirect, "code").unwrap();
    let mut pairs = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), VERIFIER.into()),
    ];
    pairs.extend(c.auth_params().await);
    let claims = json!({"jti": jti(), "htm": "POST", "htu": url, "iat": now(), "nonce": nonce});
    let proof = TestClient::proof_by(&c.dpop, c.proof_header(), claims).await;
    let resp = send_form(&app, "/token", &pairs, &[("dpop", proof)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = userinfo(&app, &c, &at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    let fresh = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let info_url = format!("{ISSUER}/userinfo");
    let claims = json!({"jti": jti(), "htm": "GET", "htu": info_url, "iat": now(), "nonce": fresh,
        "ath": shonin_oauth::dpop::access_token_hash(&at)});
    let proof = TestClient::proof_by(&c.dpop, c.proof_header(), claims).await;
    let resp = app
        .send(
            Request::get("/userinfo")
                .header("authorization", format!("DPoP {at}"))
                .header("dpop", proof)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn expire(app: &TestApp, kind: &str) {
    let sql = format!("UPDATE flow_records SET expires_at = 0 WHERE kind = '{kind}'");
    shonin_store::testing::raw_execute(&app.state.store, &sql)
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let (app, c) = setup().await;
    let (code, _) = full_code(&app, &c).await;
    expire(&app, "code").await;
    let resp = redeem(&app, &c, &code).await;
    assert_eq!(body_json(resp).await["error"], "invalid_grant");
}

#[tokio::test]
async fn expired_request_uri_is_refused_on_a_page() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    expire(&app, "par").await;
    let resp = app.get(&authorize_uri(&c.id, &request_uri)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(header::LOCATION).is_none());
    assert!(body_text(resp).await.contains("expired"));
}

#[tokio::test]
async fn par_expires_in_follows_configuration_below_600_seconds() {
    let app = TestApp::with(|cfg| cfg.oauth.par_lifetime_secs = 90).await;
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    let mut pairs = c.par_params();
    pairs.extend(c.auth_params().await);
    let resp = send_form(&app, "/par", &pairs, &[]).await;
    assert_eq!(body_json(resp).await["expires_in"], 90);
}

#[tokio::test]
async fn denied_consent_redirects_access_denied_with_iss_and_state() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let resp = app.get(&authorize_uri(&c.id, &request_uri)).await;
    let csrf = set_cookie(&resp, "__Host-shonin_csrf").unwrap();
    let pairs = vec![
        ("request_uri".to_owned(), request_uri.clone()),
        ("client_id".into(), c.id.clone()),
        ("csrf".into(), csrf.clone()),
        ("username".into(), "alice".into()),
        ("password".into(), PASSWORD.into()),
    ];
    let resp = send_form(
        &app,
        "/authorize/sign-in",
        &pairs,
        &[("cookie", format!("__Host-shonin_csrf={csrf}"))],
    )
    .await;
    let session = set_cookie(&resp, "__Host-shonin_session").unwrap();
    let cookies = format!("__Host-shonin_csrf={csrf}; __Host-shonin_session={session}");
    let pairs = vec![
        ("request_uri".to_owned(), request_uri),
        ("client_id".into(), c.id.clone()),
        ("csrf".into(), csrf),
        ("decision".into(), "deny".into()),
    ];
    let resp = send_form(&app, "/authorize/consent", &pairs, &[("cookie", cookies)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = location(&resp);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(ISSUER));
    assert!(query_param(&loc, "code").is_none());
}

#[tokio::test]
async fn storage_outage_at_the_token_endpoint_is_503_temporarily_unavailable() {
    let app = TestApp::with(|c| c.oauth.client_cache_secs = 300).await;
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    // The first request succeeds and leaves the client in the client cache.
    let ok = fresh_token_request(&app, &c).await;
    assert_eq!(ok.status(), StatusCode::OK);
    // The database goes away before the readiness probe notices: the replay claim fails, and
    // so does the audit entry of the refusal. Neither is the client's fault nor a server bug.
    app.state.store.close().await;
    let resp = fresh_token_request(&app, &c).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
    let body = body_json(resp).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    // Internal detail stays in the server log.
    assert_eq!(
        body["error_description"],
        "the server could not complete the request"
    );
    // An unknown client needs the database too: same answer, not invalid_client.
    let other = TestClient::new("not-cached");
    let resp = fresh_token_request(&app, &other).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn userinfo_without_credentials_gets_a_bare_challenge() {
    let (app, _c) = setup().await;
    // RFC 6750 §3.1: no error code, in the challenge or the body, when the request carried no
    // authentication at all.
    for req in [
        Request::get("/userinfo").body(Body::empty()).unwrap(),
        Request::post("/userinfo").body(Body::empty()).unwrap(),
    ] {
        let resp = app.send(req).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "DPoP algs=\"ES256 PS256 EdDSA\""
        );
        let body = body_json(resp).await;
        assert!(body.get("error").is_none(), "{body}");
        assert!(body.get("error_description").is_none(), "{body}");
        assert_eq!(body["status"], 401);
    }
    // A presented but bad token still gets its error code.
    let resp = app
        .send(
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, "Bearer not-a-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.contains("error="), "{challenge}");
}

/// RFC 9449 §4.3 item 1: a request with more than one `DPoP` header is refused at the token
/// endpoint and at PAR (`invalid_dpop_proof`, 400), with an audit entry naming the client, even
/// when each proof is valid on its own.
#[tokio::test]
async fn two_dpop_headers_are_refused_at_token_and_par() {
    let (app, c) = setup().await;
    let url = format!("{ISSUER}/token");
    let pairs = vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("scope".into(), "accounts".into()),
        ("client_id".into(), c.id.clone()),
        (
            "client_assertion_type".into(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion".into(), c.assertion(ISSUER).await),
    ];
    let two = vec![
        ("dpop", c.proof("POST", &url, None).await),
        ("dpop", c.proof("POST", &url, None).await),
    ];
    let resp = send_form(&app, "/token", &pairs, &two).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");

    let par_url = format!("{ISSUER}/par");
    let mut par = c.par_params();
    par.extend(c.auth_params().await);
    let two = vec![
        ("dpop", c.proof("POST", &par_url, None).await),
        ("dpop", c.proof("POST", &par_url, None).await),
    ];
    let resp = send_form(&app, "/par", &par, &two).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");

    for action in ["oauth.token", "oauth.par"] {
        let entries = app.audit_entries().await;
        assert!(
            entries.iter().any(|e| e.record.action == action
                && e.record.outcome == shonin_audit::Outcome::Failure
                && e.record.actor.id == c.id
                && e.record
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("invalid_dpop_proof"))),
            "{action}"
        );
    }
}

/// Issue 28: the request_uri's 60 s cover reaching `/authorize`; on arrival the request
/// becomes an authorization session of `oauth.authorization_session_secs` (600) for the sign-in
/// and the decision, still used once.
#[tokio::test]
async fn arriving_at_authorize_turns_the_pushed_request_into_a_ten_minute_session() {
    use shonin_oauth::par::{ParState, reference_of};
    let (app, c) = setup().await;
    let stored = async |request_uri: &str| {
        shonin_types::flow::get::<ParState>(
            &app.state.store,
            reference_of(request_uri).unwrap(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
        .unwrap()
    };
    let t0 = time::OffsetDateTime::now_utc();
    let opened = push(&app, &c).await;
    let untouched = push(&app, &c).await;
    let before = stored(&opened).await;
    assert_eq!(before.state, ParState::Pushed);
    assert!(before.expires_at <= t0 + time::Duration::seconds(62));

    let resp = app.get(&authorize_uri(&c.id, &opened)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let arrived = stored(&opened).await;
    assert_eq!(arrived.state, ParState::Arrived);
    assert!(
        arrived.expires_at >= t0 + time::Duration::seconds(598),
        "{arrived:?}"
    );
    assert!(arrived.expires_at <= time::OffsetDateTime::now_utc() + time::Duration::seconds(601));
    // A reload finds it arrived and changes nothing.
    let resp = app.get(&authorize_uri(&c.id, &opened)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stored(&opened).await.version, arrived.version);
    // A request nobody opened keeps its 60 s.
    let other = stored(&untouched).await;
    assert_eq!(other.state, ParState::Pushed);
    assert!(other.expires_at <= t0 + time::Duration::seconds(62));

    // The session completes as before, once.
    let (redirect, _) = sign_in_and_consent(&app, &c, &opened, "alice").await;
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(stored(&opened).await.state, ParState::Done);
    let resp = app.get(&authorize_uri(&c.id, &opened)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(resp).await.contains("already used"));
}

/// Issue 28: ending a user's sessions (`shonin users sessions revoke`) or disabling the user
/// signs every browser out at its next request; a new sign-in works again after a revoke.
#[tokio::test]
async fn ending_sessions_or_disabling_signs_the_user_out_everywhere() {
    use common::passkey::{browser, password_sign_in};
    use shonin_identity::UserStore;
    let (app, _) = setup().await;
    let user_id = user_id(&app, "alice").await;
    let account = async |b: &Browser| {
        let resp = app
            .send(
                Request::get("/account")
                    .header("cookie", b.cookies())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        body_text(resp).await.contains("/account/sign-out")
    };
    let mut phone = browser(&app).await;
    let mut laptop = browser(&app).await;
    password_sign_in(&app, &mut phone, "alice").await;
    password_sign_in(&app, &mut laptop, "alice").await;
    assert!(account(&phone).await && account(&laptop).await);

    // One second later, so the revocation is after both sign-ins.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        app.state
            .store
            .end_sessions(&user_id, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(!account(&phone).await, "the phone is signed out");
    assert!(!account(&laptop).await, "so is the laptop");
    password_sign_in(&app, &mut phone, "alice").await;
    assert!(account(&phone).await, "a new sign-in is a new session");

    assert!(
        app.state
            .store
            .set_user_disabled(&user_id, true)
            .await
            .unwrap()
    );
    assert!(
        !account(&phone).await,
        "a disabled user's session ends at once"
    );
}
