//! Oversized, duplicated and unprintable input: refused with a spec-shaped error, audited, and
//! never shown back raw.

use crate::common::oauth::*;
use crate::common::{TestApp, body_json, body_text};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

async fn rejections(app: &TestApp, reason: &str) -> usize {
    app.audit_entries()
        .await
        .iter()
        .filter(|e| {
            e.record.action == "request.reject" && e.record.reason.as_deref() == Some(reason)
        })
        .count()
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_audited_whether_declared_or_chunked() {
    let app = TestApp::new().await;
    let limit = app.state.config.server.body_limit_bytes;
    let big = vec![b'a'; limit + 1];
    // Declared length.
    let req = Request::post("/par")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    assert_eq!(app.send(req).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rejections(&app, "body_too_large").await, 1);
    // No declared length: the body arrives in chunks and runs over the limit while read.
    let chunks = big
        .chunks(4096)
        .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
        .collect::<Vec<_>>();
    let req = Request::post("/par")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_eq!(app.send(req).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rejections(&app, "body_too_large").await, 2);
}

#[tokio::test]
async fn authorization_details_with_a_repeated_member_name_are_refused() {
    let app = TestApp::new().await;
    let c = TestClient::new("dup-keys");
    c.register(&app, |_| {}).await;
    // Which "amount" counts would depend on the parser: the consent page could show one and the
    // token carry the other.
    let details = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00","amount":"9999.00"},"creditorName":"Shop","creditorAccount":{"iban":"DE89370400440532013000"}}]"#;
    let mut pairs = c.par_params();
    pairs.retain(|(k, _)| k != "authorization_details");
    pairs.push(("authorization_details".into(), details.into()));
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &format!("{ISSUER}/par"), None).await;
    let resp = send_form(&app, "/par", &pairs, &[("dpop", proof)]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = body_json(resp).await;
    assert_eq!(body["error"], "invalid_authorization_details", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("\"amount\" twice"),
        "{body}"
    );
    // The same details without the repeat are accepted.
    let mut pairs = c.par_params();
    pairs.retain(|(k, _)| k != "authorization_details");
    let fixed = details.replace(r#""amount":"1.00","#, "");
    pairs.push(("authorization_details".into(), fixed));
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &format!("{ISSUER}/par"), None).await;
    let resp = send_form(&app, "/par", &pairs, &[("dpop", proof)]).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        body_text(resp).await
    );
}

#[tokio::test]
async fn a_client_assertion_with_a_repeated_claim_is_invalid_client() {
    let app = TestApp::new().await;
    let c = TestClient::new("dup-claims");
    c.register(&app, |_| {}).await;
    // Built by hand: serde_json cannot hold a repeated name. A parser that keeps the first `aud`
    // sees another server's audience; one that keeps the last (serde_json) sees ours.
    let claims = format!(
        r#"{{"iss":"{id}","sub":"{id}","aud":"https://other.example","aud":"{ISSUER}","jti":"{jti}","iat":{now},"exp":{exp}}}"#,
        id = c.id,
        jti = jti(),
        now = now(),
        exp = now() + 60
    );
    let assertion = c.sign_raw_claims(&claims).await;
    let pairs = vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        (
            "client_assertion_type".to_owned(),
            shonin_oauth::JWT_BEARER_ASSERTION_TYPE.to_owned(),
        ),
        ("client_assertion".to_owned(), assertion),
    ];
    let resp = send_form(&app, "/token", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body = body_json(resp).await;
    assert_eq!(body["error"], "invalid_client", "{body}");
}

#[tokio::test]
async fn a_typed_username_with_control_or_bidi_characters_is_not_shown_back() {
    let app = TestApp::new().await;
    let csrf = "c".repeat(43);
    let cookie = format!("__Host-shonin_csrf={csrf}");
    for typed in ["bob\u{202e}nimda", "bob\r\nSet-Cookie: x=1", "bob\u{0}"] {
        let pairs = vec![
            ("csrf".to_owned(), csrf.clone()),
            ("username".to_owned(), typed.to_owned()),
            ("password".to_owned(), "wrong password here".to_owned()),
        ];
        let resp = send_form(
            &app,
            "/account/sign-in",
            &pairs,
            &[("cookie", cookie.clone())],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let html = body_text(resp).await;
        assert!(!html.contains("bob"), "{typed:?} echoed: {html}");
    }
    // A plain username is kept in the form, as before.
    let pairs = vec![
        ("csrf".to_owned(), csrf.clone()),
        ("username".to_owned(), "carol".to_owned()),
        ("password".to_owned(), "wrong password here".to_owned()),
    ];
    let resp = send_form(&app, "/account/sign-in", &pairs, &[("cookie", cookie)]).await;
    assert!(body_text(resp).await.contains("value=\"carol\""));
}
