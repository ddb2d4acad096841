//! OpenID CIBA Core 1.0: the backchannel authentication endpoint, the user's approval page (a
//! passkey sign-in after the request, the binding message, a payment signed with the passkey),
//! the CIBA grant in poll and ping mode with DPoP-bound tokens, and every token-endpoint answer
//! of §11: `authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
//! `invalid_grant` for another client's or a used `auth_req_id`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::post;
use common::oauth::*;
use common::passkey::{browser, call, data_attr, enrolled, passkey_sign_in, post_form};
use common::webhook::{alerts_to, next_signed_alert, webhook_receiver};
use common::{TestApp, body_json, body_text, failures};
use serde_json::{Value, json};
use shonin_oauth::ciba::{CibaState, record_id};
use shonin_testkit::Authenticator;
use shonin_tls::{ClientCertMode, ServeLimits, dev_pki};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "ciba-webhook-secret-0123456789abcdef";

/// A poll client with the CIBA and refresh grants.
fn ciba_grant(r: &mut shonin_oauth::ClientRegistration) {
    r.grant_types = vec![
        shonin_oauth::ciba::CIBA_GRANT_TYPE.into(),
        "refresh_token".into(),
    ];
    r.redirect_uris = Vec::new();
    r.backchannel_token_delivery_mode = Some("poll".into());
}

struct Fixture {
    app: TestApp,
    c: TestClient,
    auth: Authenticator,
    hooks: tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
}

async fn setup() -> Fixture {
    let (port, hooks) = webhook_receiver().await;
    let app = TestApp::with(|c| alerts_to(c, port, SECRET)).await;
    let c = TestClient::new("ciba-rp");
    c.register(&app, ciba_grant).await;
    let (_, auth) = enrolled(&app, "alice").await;
    Fixture {
        app,
        c,
        auth,
        hooks,
    }
}

async fn bc_authorize(
    app: &TestApp,
    c: &TestClient,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut pairs: Vec<(String, String)> = vec![
        ("scope".into(), "openid accounts".into()),
        ("login_hint".into(), "alice".into()),
        ("binding_message".into(), "W4SCT".into()),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    pairs.extend(c.auth_params().await);
    let resp = send_form(app, "/bc-authorize", &pairs, &[]).await;
    (resp.status(), body_json(resp).await)
}

async fn started(app: &TestApp, c: &TestClient, extra: &[(&str, &str)]) -> String {
    let (status, body) = bc_authorize(app, c, extra).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["auth_req_id"].as_str().unwrap().to_owned()
}

async fn poll(app: &TestApp, c: &TestClient, auth_req_id: &str) -> (StatusCode, Value) {
    let url = format!("{ISSUER}/token");
    let mut pairs = vec![
        (
            "grant_type".to_owned(),
            shonin_oauth::ciba::CIBA_GRANT_TYPE.to_owned(),
        ),
        ("auth_req_id".into(), auth_req_id.to_owned()),
    ];
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    let resp = send_form(app, "/token", &pairs, &[("dpop", proof)]).await;
    (resp.status(), body_json(resp).await)
}

async fn page(app: &TestApp, b: &common::oauth::Browser, path: &str) -> (StatusCode, String) {
    let resp = app
        .send(
            Request::get(path)
                .header("cookie", b.cookies())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    (resp.status(), body_text(resp).await)
}

/// The user opens the approval page of `auth_req_id`, signs in with the passkey there and gets
/// the page.
async fn signed_in_at_page(
    f: &mut Fixture,
    auth_req_id: &str,
) -> (common::oauth::Browser, String, String) {
    let path = format!("/ciba/{}", record_id(auth_req_id));
    let mut b = browser(&f.app).await;
    let (status, html) = page(&f.app, &b, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("passkey"), "a sign-in page: {html}");
    let resp = passkey_sign_in(&f.app, &mut b, &mut f.auth, Some(&path), |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    let (status, html) = page(&f.app, &b, &path).await;
    assert_eq!(status, StatusCode::OK);
    (b, path, html)
}

async fn ciba_state(app: &TestApp, auth_req_id: &str) -> CibaState {
    shonin_types::flow::get::<CibaState>(
        &app.state.store,
        &record_id(auth_req_id),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap()
    .unwrap()
    .state
}

#[tokio::test]
async fn poll_mode_from_request_to_dpop_bound_tokens() {
    let mut f = setup().await;
    let (status, body) = bc_authorize(&f.app, &f.c, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // CIBA Core §7.3.
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["interval"], 5);
    let auth_req_id = body["auth_req_id"].as_str().unwrap().to_owned();
    assert!(auth_req_id.len() >= 43);

    // The user is told through the operator's webhook, with the page to approve on.
    let alert = next_signed_alert(&mut f.hooks, SECRET).await;
    assert_eq!(alert["event"], "ciba.approval_requested");
    assert_eq!(alert["username"], "alice");
    assert_eq!(alert["binding_message"], "W4SCT");
    let page_url = alert["approval_url"].as_str().unwrap().to_owned();
    assert_eq!(
        page_url,
        format!("{ISSUER}/ciba/{}", record_id(&auth_req_id))
    );
    assert!(
        !alert.to_string().contains(&auth_req_id),
        "never the auth_req_id"
    );

    // §11: pending, then slow_down for a poll within the interval.
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "authorization_pending");
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "slow_down");
    assert!(body["error_description"].as_str().unwrap().contains("10"));

    let (b, path, html) = signed_in_at_page(&mut f, &auth_req_id).await;
    assert!(html.contains("W4SCT"), "the binding message: {html}");
    assert!(html.contains("Bank"), "the client: {html}");
    assert!(!html.contains("<b>Bank"), "escaped: {html}");
    assert!(html.contains("accounts"));
    let resp = post_form(&f.app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(ciba_state(&f.app, &auth_req_id).await, CibaState::Approved);
    let (_, html) = page(&f.app, &b, &path).await;
    assert!(html.contains("ciba-outcome"), "{html}");

    let (status, tokens) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert!(tokens["refresh_token"].is_string());
    let jwks = body_json(f.app.get("/jwks").await).await;
    let opts = shonin_jose::VerifyOptions::new(time::OffsetDateTime::now_utc());
    let at = tokens["access_token"].as_str().unwrap();
    let claims = shonin_jose::verify_jwt(at, &jwks, &opts).unwrap();
    assert_eq!(claims["cnf"]["jkt"], f.c.jkt());
    assert_eq!(claims["sub"], user_id(&f.app, "alice").await);
    assert_eq!(claims["scope"], "openid accounts");
    let id_token = tokens["id_token"].as_str().unwrap();
    let id = shonin_jose::verify_jwt(id_token, &jwks, &opts).unwrap();
    assert_eq!(id["aud"], "ciba-rp");
    assert!(
        id["amr"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "hwk" || m == "swk"),
        "{id:?}"
    );
    // The token works at the resource.
    let resp = userinfo(&f.app, &f.c, at).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Single use (§10.1).
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(ciba_state(&f.app, &auth_req_id).await, CibaState::Redeemed);
    // The audit log names the request, its approval and the tokens.
    let entries = f.app.audit_entries().await;
    for action in ["oauth.ciba", "oauth.ciba.approve", "oauth.token"] {
        assert!(
            entries
                .iter()
                .any(|e| e.record.action == action
                    && e.record.outcome == shonin_audit::Outcome::Success),
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_denied_request_answers_access_denied() {
    let mut f = setup().await;
    let auth_req_id = started(&f.app, &f.c, &[]).await;
    let (b, path, _) = signed_in_at_page(&mut f, &auth_req_id).await;
    let resp = post_form(&f.app, &b, &format!("{path}/deny"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "access_denied");
    // Decided once: approving after the denial changes nothing.
    let resp = post_form(&f.app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(ciba_state(&f.app, &auth_req_id).await, CibaState::Denied);
    assert!(!failures(&f.app, "oauth.ciba.approve").await.is_empty());
}

#[tokio::test]
async fn an_expired_request_answers_expired_token() {
    let mut f = setup().await;
    let auth_req_id = started(&f.app, &f.c, &[("requested_expiry", "1")]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "expired_token");
    // The page says so and offers no decision; a decision posted anyway is refused.
    let (b, path, html) = signed_in_at_page(&mut f, &auth_req_id).await;
    assert!(html.contains("ciba-outcome"), "{html}");
    assert!(!html.contains("ciba-approve"));
    let resp = post_form(&f.app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, body) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expired_token"))
    );
}

#[tokio::test]
async fn another_client_cannot_use_the_auth_req_id() {
    let mut f = setup().await;
    let other = TestClient::new("other-rp");
    other.register(&f.app, ciba_grant).await;
    let auth_req_id = started(&f.app, &f.c, &[]).await;
    let (b, path, _) = signed_in_at_page(&mut f, &auth_req_id).await;
    assert_eq!(
        post_form(&f.app, &b, &format!("{path}/approve"), vec![])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (status, body) = poll(&f.app, &other, &auth_req_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // Nothing was spent: its own client still redeems it.
    let (status, _) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::OK);
    // An unknown id and a missing one.
    let (_, body) = poll(&f.app, &f.c, "not-an-issued-id").await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, body) = poll(&f.app, &f.c, "").await;
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn bad_requests_are_refused_with_ciba_codes_and_store_nothing() {
    let f = setup().await;
    let long = "x".repeat(65);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("scope", "accounts")], "invalid_scope"),
        (&[("scope", "openid payments-admin")], "invalid_scope"),
        (&[("login_hint", "nobody")], "unknown_user_id"),
        (&[("login_hint", "Not A Username!")], "unknown_user_id"),
        (&[("login_hint", "")], "invalid_request"),
        (&[("id_token_hint", "eyJ.x.y")], "invalid_request"),
        (&[("login_hint_token", "t")], "invalid_request"),
        (&[("binding_message", &long)], "invalid_binding_message"),
        (
            &[("binding_message", "a\u{202e}b")],
            "invalid_binding_message",
        ),
        (&[("user_code", "1234")], "invalid_request"),
        (&[("requested_expiry", "0")], "invalid_request"),
        (&[("requested_expiry", "99999")], "invalid_request"),
        (
            &[("client_notification_token", "abcdefghijklmnopqrstuvwxyz")],
            "invalid_request",
        ),
        (&[("request", "eyJ.x.y")], "invalid_request"),
        (
            &[("authorization_details", "[{\"type\":\"unknown\"}]")],
            "invalid_authorization_details",
        ),
    ];
    for (extra, code) in cases {
        let (status, body) = bc_authorize(&f.app, &f.c, extra).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {body}");
        assert_eq!(body["error"], *code, "{extra:?}: {body}");
    }
    // A client without the grant.
    let plain = TestClient::new("plain");
    plain.register(&f.app, |_| {}).await;
    let (status, body) = bc_authorize(&f.app, &plain, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    // Every refusal is audited; no request was stored.
    assert_eq!(failures(&f.app, "oauth.ciba").await.len(), cases.len() + 1);
    let stored = f.app.audit_entries().await.into_iter().filter(|e| {
        e.record.action == "oauth.ciba" && e.record.outcome == shonin_audit::Outcome::Success
    });
    assert_eq!(stored.count(), 0);
}

#[tokio::test]
async fn only_the_named_user_after_a_fresh_passkey_sign_in_may_decide() {
    let f = setup().await;
    let (_, mut bob_auth) = enrolled(&f.app, "bob").await;
    let auth_req_id = started(&f.app, &f.c, &[]).await;
    let path = format!("/ciba/{}", record_id(&auth_req_id));
    // Bob, signed in, sees no such request, and cannot decide it.
    let mut bob = browser(&f.app).await;
    passkey_sign_in(&f.app, &mut bob, &mut bob_auth, None, |_| {}).await;
    let (status, _) = page(&f.app, &bob, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = post_form(&f.app, &bob, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(ciba_state(&f.app, &auth_req_id).await, CibaState::Pending);
    assert!(!failures(&f.app, "oauth.ciba.read").await.is_empty());

    // Alice signed in with her password before the request: the page asks for a passkey
    // sign-in, and a decision posted with that session is refused.
    let later = started(&f.app, &f.c, &[]).await;
    let mut alice = browser(&f.app).await;
    common::passkey::password_sign_in(&f.app, &mut alice, "alice").await;
    let later_path = format!("/ciba/{}", record_id(&later));
    let (_, html) = page(&f.app, &alice, &later_path).await;
    assert!(!html.contains("ciba-approve"), "{html}");
    let resp = post_form(&f.app, &alice, &format!("{later_path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(ciba_state(&f.app, &later).await, CibaState::Pending);
    // Without the CSRF value the form is refused before anything is read.
    let resp = send_form(
        &f.app,
        &format!("{later_path}/approve"),
        &[],
        &[("cookie", alice.cookies())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Ids that cannot be a request's.
    let (status, _) = page(&f.app, &bob, "/ciba/..%2F..%2Fetc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_payment_is_approved_by_a_passkey_signature_over_it() {
    let mut f = setup().await;
    let pay = TestClient::new("pay-rp");
    pay.register(&f.app, ciba_grant).await;
    let details = json!([{
        "type": "payment_initiation",
        "instructedAmount": {"currency": "EUR", "amount": "42.00"},
        "creditorName": "Merchant & Co",
        "creditorAccount": {"iban": "DE89370400440532013000"}
    }])
    .to_string();
    let auth_req_id = started(
        &f.app,
        &pay,
        &[
            ("scope", "openid payments"),
            ("authorization_details", &details),
        ],
    )
    .await;
    let (b, path, html) = signed_in_at_page(&mut f, &auth_req_id).await;
    assert!(html.contains("€42.00"), "{html}");
    assert!(!html.contains("ciba-approve"), "no button for a payment");
    // The button's form is refused for a payment.
    let resp = post_form(&f.app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(ciba_state(&f.app, &auth_req_id).await, CibaState::Pending);

    let resp = call(&f.app, &b, &data_attr(&html, "options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    let options = body_json(resp).await;
    let assertion = f.auth.authenticate(&options["options"], ISSUER).unwrap();
    let resp = call(
        &f.app,
        &b,
        &data_attr(&html, "approve"),
        &json!({"assertion": assertion}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    assert_eq!(body_json(resp).await["location"], path);

    let (status, tokens) = poll(&f.app, &pay, &auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let granted = &tokens["authorization_details"][0];
    assert_eq!(granted["type"], "payment_initiation");
    assert!(
        granted["approval"]["transaction_id"].is_string(),
        "{granted}"
    );
    assert!(granted["approval"]["challenge"].is_string());
}

/// A ping client's notification endpoint: https with the test PKI, every request's
/// authorization header and body to the channel.
async fn ping_receiver() -> (
    String,
    std::path::PathBuf,
    tempfile::TempDir,
    tokio::sync::mpsc::Receiver<(String, Value)>,
    tokio::sync::oneshot::Sender<()>,
) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let config =
        shonin_tls::server_config(&pki.server_cert, &pki.server_key, ClientCertMode::None).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    async fn notified(
        State(tx): State<Arc<tokio::sync::mpsc::Sender<(String, Value)>>>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let _ = tx.send((auth, serde_json::from_str(&body).unwrap())).await;
        StatusCode::NO_CONTENT
    }
    let router = Router::new()
        .route("/cb", post(notified))
        .with_state(Arc::new(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(shonin_tls::serve(
        listener,
        Some(config),
        router,
        ServeLimits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    (
        format!("https://localhost:{port}/cb"),
        pki.ca_cert.clone(),
        dir,
        rx,
        stop,
    )
}

#[tokio::test]
async fn ping_mode_tells_the_client_then_it_collects_the_tokens() {
    let (endpoint, ca, _dir, mut pings, _stop) = ping_receiver().await;
    let app = TestApp::with(move |c| c.oauth.jwks_ca_file = Some(ca)).await;
    let c = TestClient::new("ping-rp");
    let url = endpoint.clone();
    c.register(&app, move |r| {
        r.grant_types = vec![shonin_oauth::ciba::CIBA_GRANT_TYPE.into()];
        r.redirect_uris = Vec::new();
        r.backchannel_token_delivery_mode = Some("ping".into());
        r.backchannel_client_notification_endpoint = Some(url);
    })
    .await;
    let (_, auth) = enrolled(&app, "alice").await;
    let mut f = Fixture {
        app,
        c,
        auth,
        hooks: tokio::sync::mpsc::channel(1).1,
    };
    // Ping mode needs the client's notification token.
    let (status, body) = bc_authorize(&f.app, &f.c, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let token = "bearer-token-for-pings-0123456789";
    let auth_req_id = started(&f.app, &f.c, &[("client_notification_token", token)]).await;
    let (b, path, _) = signed_in_at_page(&mut f, &auth_req_id).await;
    let resp = post_form(&f.app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // CIBA Core §10.2: the bearer token and the auth_req_id.
    let (authorization, body) = tokio::time::timeout(Duration::from_secs(10), pings.recv())
        .await
        .expect("a ping within 10 s")
        .unwrap();
    assert_eq!(authorization, format!("Bearer {token}"));
    assert_eq!(body, json!({"auth_req_id": auth_req_id}));
    let (status, tokens) = poll(&f.app, &f.c, &auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        tokens["refresh_token"].is_null(),
        "the client has no refresh grant"
    );
    // The delivery is audited, without the token (in the background: up to 20 s on a loaded
    // machine).
    let mut audited = None;
    for _ in 0..200 {
        audited = f
            .app
            .audit_entries()
            .await
            .into_iter()
            .find(|e| e.record.action == "oauth.ciba.ping");
        if audited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audited = audited.expect("the ping's audit entry");
    assert_eq!(audited.record.outcome, shonin_audit::Outcome::Success);
    assert!(!audited.record.reason.unwrap_or_default().contains(token));
}

#[tokio::test]
async fn discovery_and_registration_follow_ciba_section_4() {
    let app = TestApp::new().await;
    let meta = body_json(app.get("/.well-known/openid-configuration").await).await;
    assert_eq!(
        meta["backchannel_authentication_endpoint"],
        format!("{ISSUER}/bc-authorize")
    );
    assert_eq!(
        meta["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping"])
    );
    assert_eq!(meta["backchannel_user_code_parameter_supported"], false);
    assert_eq!(
        meta["backchannel_authentication_request_signing_alg_values_supported"],
        json!(["PS256", "ES256", "EdDSA"])
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == shonin_oauth::ciba::CIBA_GRANT_TYPE)
    );
    // Registration rules.
    let now = time::OffsetDateTime::now_utc();
    let c = TestClient::new("reg");
    let with = |tweak: &dyn Fn(&mut shonin_oauth::ClientRegistration)| {
        let mut r = c.registration();
        r.grant_types = vec![shonin_oauth::ciba::CIBA_GRANT_TYPE.into()];
        tweak(&mut r);
        shonin_oauth::client::validate(r, now)
    };
    assert!(with(&|r| r.backchannel_token_delivery_mode = Some("poll".into())).is_ok());
    assert!(with(&|_| {}).is_err(), "a mode is required");
    assert!(with(&|r| r.backchannel_token_delivery_mode = Some("push".into())).is_err());
    assert!(with(&|r| r.backchannel_token_delivery_mode = Some("ping".into())).is_err());
    assert!(
        with(&|r| {
            r.backchannel_token_delivery_mode = Some("ping".into());
            r.backchannel_client_notification_endpoint = Some("http://rp.example/cb".into());
        })
        .is_err()
    );
    assert!(
        with(&|r| {
            r.backchannel_token_delivery_mode = Some("ping".into());
            r.backchannel_client_notification_endpoint = Some("https://rp.example/cb".into());
        })
        .is_ok()
    );
    let mut plain = c.registration();
    plain.backchannel_token_delivery_mode = Some("poll".into());
    assert!(
        shonin_oauth::client::validate(plain, now).is_err(),
        "only with the grant"
    );
}

/// Two nodes on one PostgreSQL database: the request on one, the approval on the other, and
/// racing token requests on both: exactly one gets the tokens.
#[tokio::test]
async fn across_two_nodes_on_postgres_exactly_one_token_request_wins() {
    let (_db, a, b) = common::two_nodes_on_postgres().await;
    let c = TestClient::new("ciba-rp");
    c.register(&a, ciba_grant).await;
    let (_, auth) = enrolled(&a, "alice").await;
    let auth_req_id = started(&a, &c, &[]).await;
    let mut f = Fixture {
        app: b,
        c,
        auth,
        hooks: tokio::sync::mpsc::channel(1).1,
    };
    let (browser, path, _) = signed_in_at_page(&mut f, &auth_req_id).await;
    let resp = post_form(&f.app, &browser, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let polls = futures_util::future::join_all(
        (0..6).map(|i| poll(if i % 2 == 0 { &a } else { &f.app }, &f.c, &auth_req_id)),
    )
    .await;
    let won = polls.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(won, 1, "{polls:?}");
    assert!(
        polls
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(_, body)| body["error"] == "invalid_grant"),
        "{polls:?}"
    );
}

/// CIBA Core §7.1.1: the parameters signed by the client's key as a `request` JWT.
async fn signed(
    app: &TestApp,
    c: &TestClient,
    claims: Value,
    outside: &[(&str, &str)],
) -> (StatusCode, Value) {
    let jwt = c.assertion_with(claims).await;
    let mut pairs: Vec<(String, String)> = vec![("request".into(), jwt)];
    for (k, v) in outside {
        pairs.push(((*k).to_owned(), (*v).to_owned()));
    }
    pairs.extend(c.auth_params().await);
    let resp = send_form(app, "/bc-authorize", &pairs, &[]).await;
    (resp.status(), body_json(resp).await)
}

fn request_claims(c: &TestClient) -> Value {
    json!({
        "iss": c.id, "aud": ISSUER, "iat": now(), "nbf": now(), "exp": now() + 300,
        "jti": jti(), "scope": "openid accounts", "login_hint": "alice",
        "binding_message": "SIGNED 1", "requested_expiry": 120
    })
}

#[tokio::test]
async fn a_signed_request_is_accepted_once_and_only_as_signed() {
    let mut f = setup().await;
    let claims = request_claims(&f.c);
    let (status, body) = signed(&f.app, &f.c, claims.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 120, "requested_expiry as a number");
    let auth_req_id = body["auth_req_id"].as_str().unwrap().to_owned();
    let (_, _, html) = signed_in_at_page(&mut f, &auth_req_id).await;
    assert!(html.contains("SIGNED 1"), "the signed binding message");

    // The same JWT again: its jti is spent.
    let (status, body) = signed(&f.app, &f.c, claims, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
    type Case<'a> = (&'a str, Value, &'a [(&'a str, &'a str)]);
    let refusals: &[Case] = &[
        (
            "another audience",
            json!({"aud": "https://other.example"}),
            &[],
        ),
        ("another issuer", json!({"iss": "someone-else"}), &[]),
        ("no jti", json!({"jti": null}), &[]),
        ("no nbf", json!({"nbf": null}), &[]),
        (
            "expired",
            json!({"exp": now() - 120, "iat": now() - 400, "nbf": now() - 400}),
            &[],
        ),
        ("too long", json!({"exp": now() + 7200}), &[]),
        (
            "a parameter beside it",
            json!({}),
            &[("binding_message", "OUTSIDE")],
        ),
        ("a wrong type", json!({"scope": ["openid"]}), &[]),
    ];
    for (what, change, outside) in refusals {
        let mut claims = request_claims(&f.c);
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        let (status, body) = signed(&f.app, &f.c, claims, outside).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
    }
    // Signed by another key than the client's (the client authenticates with its own).
    let stranger = TestClient::new(&f.c.id);
    let jwt = stranger.assertion_with(request_claims(&f.c)).await;
    let mut pairs: Vec<(String, String)> = vec![("request".into(), jwt)];
    pairs.extend(f.c.auth_params().await);
    let resp = send_form(&f.app, "/bc-authorize", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // An unsigned JWT (alg none).
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&request_claims(&f.c))
    );
    let mut pairs: Vec<(String, String)> = vec![("request".into(), none)];
    pairs.extend(f.c.auth_params().await);
    let resp = send_form(&f.app, "/bc-authorize", &pairs, &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let refused = failures(&f.app, "oauth.ciba").await;
    assert!(
        refused.iter().any(|r| r.contains("used before")),
        "{refused:?}"
    );
}
