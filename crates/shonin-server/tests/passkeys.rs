//! Passkeys through the HTTP surface, with a software authenticator (`shonin-testkit`):
//! enrolment on the account page, username-less sign-in, a FAPI authorization that needs a
//! passkey (`acr_values`), the account page's rename/remove/policy, the refusals the issue names
//! (each audit-logged and answered without revealing whether an account exists), and the
//! Japanese pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use common::oauth::*;
use common::passkey::*;
use common::webhook::*;
use common::{TestApp, body_json, body_text, failures};
use serde_json::{Value, json};
use shonin_passkeys::{PasskeyStore, RecoveryCodeStore};
use shonin_testkit::Authenticator;

async fn get_page(app: &TestApp, b: &Browser, uri: &str) -> (StatusCode, String) {
    let resp = app
        .send(
            Request::get(uri)
                .header(header::COOKIE, b.cookies())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    (resp.status(), body_text(resp).await)
}

#[tokio::test]
async fn enrol_sign_in_without_username_and_manage_passkeys() {
    let app = TestApp::new().await;
    let (alice, mut auth) = enrolled(&app, "alice").await;
    let keys = app.state.store.list_passkeys(&alice.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "Laptop <b>");

    // A new browser signs in with the passkey alone.
    let mut b = browser(&app).await;
    let resp = passkey_sign_in(&app, &mut b, &mut auth, None, |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["location"], "/account");
    let (status, html) = get_page(&app, &b, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Laptop &#60;b&#62;") || html.contains("Laptop &lt;b&gt;"),
        "{html}"
    );
    assert!(html.contains("device-bound"));
    assert!(
        html.contains("/account/passkeys/remove"),
        "a fresh passkey sign-in may remove"
    );

    let id = keys[0].credential_id.clone();
    let rename = vec![
        ("credential_id".into(), id.clone()),
        ("name".into(), "Phone".into()),
    ];
    let resp = post_form(&app, &b, "/account/passkeys/rename", rename).await;
    assert_eq!(location(&resp), "/account?notice=renamed");
    let bad = vec![
        ("credential_id".into(), id.clone()),
        ("name".into(), "\u{7}".into()),
    ];
    let resp = post_form(&app, &b, "/account/passkeys/rename", bad).await;
    assert_eq!(location(&resp), "/account?error=name");
    assert_eq!(
        app.state
            .store
            .get_passkey(&id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Phone"
    );

    let remove = vec![("credential_id".into(), id.clone())];
    let resp = post_form(&app, &b, "/account/passkeys/remove", remove).await;
    assert_eq!(location(&resp), "/account?notice=removed");
    assert!(
        app.state
            .store
            .list_passkeys(&alice.id)
            .await
            .unwrap()
            .is_empty()
    );

    let actions: Vec<_> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.outcome == shonin_audit::Outcome::Success)
        .map(|e| e.record.action)
        .collect();
    for want in [
        "passkey.enrol",
        "user.sign_in",
        "passkey.rename",
        "passkey.remove",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

#[tokio::test]
async fn a_fapi_authorization_that_asks_for_a_passkey() {
    let app = TestApp::new().await;
    let c = TestClient::new("passkey-client");
    c.register(&app, |_| {}).await;
    let (_, mut auth) = enrolled(&app, "alice").await;

    let url = format!("{ISSUER}/par");
    let mut pairs = c.par_params();
    pairs.push(("acr_values".into(), "phrh".into()));
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    let resp = send_form(&app, "/par", &pairs, &[("dpop", proof)]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let request_uri = body_json(resp).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorize = authorize_uri(&c.id, &request_uri);

    let resp = app.get(&authorize).await;
    let mut b = Browser {
        csrf: set_cookie(&resp, "__Host-shonin_csrf").unwrap(),
        session: None,
    };
    let html = body_text(resp).await;
    assert!(html.contains("needs a passkey"), "{html}");
    assert!(
        !html.contains("name=\"password\""),
        "no password form when a passkey is required"
    );

    // A password posted anyway does not sign in.
    let form = vec![
        ("request_uri".into(), request_uri.clone()),
        ("client_id".into(), c.id.clone()),
        ("username".into(), "alice".into()),
        ("password".into(), PASSWORD.into()),
    ];
    let resp = post_form(&app, &b, "/authorize/sign-in", form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&resp, "__Host-shonin_session").is_none());

    let resp = passkey_sign_in(&app, &mut b, &mut auth, Some(&authorize), |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["location"], authorize.as_str());
    let (status, consent) = get_page(&app, &b, &authorize).await;
    assert_eq!(status, StatusCode::OK);
    assert!(consent.contains("Approve access"), "{consent}");

    // The request is a payment: the same passkey signs it on the consent page.
    let resp = call(&app, &b, &data_attr(&consent, "options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let options = body_json(resp).await;
    let assertion = auth.authenticate(&options["options"], ISSUER).unwrap();
    let approve = json!({ "assertion": assertion });
    let resp = call(&app, &b, &data_attr(&consent, "approve"), &approve).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let approved = body_json(resp).await;
    let code = query_param(approved["location"].as_str().unwrap(), "code").unwrap();
    let tokens = body_json(redeem(&app, &c, &code).await).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&shonin_jose::b64url_decode(payload).unwrap()).unwrap();
    assert_eq!(claims["acr"], "phrh");
    let amr: Vec<_> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"hwk") && amr.contains(&"mfa"), "{amr:?}");
}

#[tokio::test]
async fn every_rejection_is_audited_and_says_nothing_about_the_account() {
    let app = TestApp::new().await;
    let (alice, mut auth) = enrolled(&app, "alice").await;
    let (_, mut bobs) = enrolled(&app, "bob").await;
    let mut b = browser(&app).await;
    let mut bodies = Vec::new();
    let refuse = |resp: Response<Body>| async move {
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&resp, "__Host-shonin_session").is_none());
        body_json(resp).await["detail"].as_str().unwrap().to_owned()
    };

    // Wrong origin.
    let ch = body_json(call(&app, &b, "/passkeys/sign-in/options", &json!({})).await).await;
    let cred = auth
        .authenticate(&ch["options"], "https://evil.example")
        .unwrap();
    let resp = call(
        &app,
        &b,
        "/passkeys/sign-in",
        &json!({"ceremony": ch["ceremony"], "credential": cred}),
    )
    .await;
    bodies.push(refuse(resp).await);
    // A reused challenge.
    let ch = body_json(call(&app, &b, "/passkeys/sign-in/options", &json!({})).await).await;
    let cred = auth.authenticate(&ch["options"], ISSUER).unwrap();
    let finish = json!({"ceremony": ch["ceremony"], "credential": cred});
    assert_eq!(
        call(&app, &b, "/passkeys/sign-in", &finish).await.status(),
        StatusCode::OK
    );
    bodies.push(refuse(call(&app, &b, "/passkeys/sign-in", &finish).await).await);

    // Tampered clientDataJSON (its last byte) and authenticatorData (the first byte of the RP
    // ID hash: an assertion for another RP ID).
    for (field, at) in [("clientDataJSON", usize::MAX), ("authenticatorData", 0)] {
        let resp = passkey_sign_in(&app, &mut b, &mut auth, None, |c| {
            let mut raw =
                shonin_jose::b64url_decode(c["response"][field].as_str().unwrap()).unwrap();
            let i = at.min(raw.len() - 1);
            raw[i] ^= 0x01;
            c["response"][field] = json!(shonin_jose::b64url_encode(&raw));
        })
        .await;
        bodies.push(refuse(resp).await);
    }

    // Another user's credential (Bob's user handle on Alice's assertion).
    let bob_handle = {
        let ch = body_json(call(&app, &b, "/passkeys/sign-in/options", &json!({})).await).await;
        bobs.authenticate(&ch["options"], ISSUER).unwrap()["response"]["userHandle"].clone()
    };
    let resp = passkey_sign_in(&app, &mut b, &mut auth, None, |c| {
        c["response"]["userHandle"] = bob_handle
    })
    .await;
    bodies.push(refuse(resp).await);

    // User verification not performed.
    auth.user_verified = false;
    bodies.push(refuse(passkey_sign_in(&app, &mut b, &mut auth, None, |_| {}).await).await);
    auth.user_verified = true;

    // A sign-count regression (cloned authenticator) is flagged.
    let id = app.state.store.list_passkeys(&alice.id).await.unwrap()[0]
        .credential_id
        .clone();
    auth.set_counter(&id, 0).unwrap();
    bodies.push(refuse(passkey_sign_in(&app, &mut b, &mut auth, None, |_| {}).await).await);
    auth.set_counter(&id, 10_000).unwrap();

    // An unknown credential.
    let mut stranger = Authenticator::new(AAGUID);
    {
        // Enrolled on another deployment: register against options we make up.
        let opts = json!({"publicKey": {"rp": {"id": "localhost", "name": "x"}, "user": {"id": "AAAAAAAAAAAAAAAAAAAAAA", "name": "x", "displayName": "x"}, "challenge": "AAAA", "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}});
        stranger.register(&opts, ISSUER).unwrap();
    }
    bodies.push(refuse(passkey_sign_in(&app, &mut b, &mut stranger, None, |_| {}).await).await);

    // One message for every refusal: nothing tells which check failed or whether the account
    // exists.
    let first = bodies[0].clone();
    assert!(bodies.iter().all(|d| *d == first), "{bodies:?}");
    let reasons = failures(&app, "user.sign_in").await;
    for want in [
        "ceremony_unknown",
        "user_handle_mismatch",
        "sign_count_regression",
        "unknown_credential",
        "refused",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want} in {reasons:?}"
        );
    }
    assert!(
        !failures(&app, "passkey.sign_count_regression")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn changing_methods_needs_a_fresh_strong_sign_in_and_policies_hold() {
    let app = TestApp::new().await;
    let (alice, mut auth) = enrolled(&app, "alice").await;
    // A password sign-in of a user who has a passkey may not add or remove one.
    let mut b = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut b, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    let resp = enrol(&app, &b, &mut Authenticator::new(AAGUID), "Second").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let id = app.state.store.list_passkeys(&alice.id).await.unwrap()[0]
        .credential_id
        .clone();
    let remove = vec![("credential_id".into(), id.clone())];
    let resp = post_form(&app, &b, "/account/passkeys/remove", remove.clone()).await;
    assert_eq!(location(&resp), "/account?error=reauth");
    assert_eq!(
        app.state
            .store
            .list_passkeys(&alice.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Without a session: refused too; without the CSRF header: refused.
    let anon = browser(&app).await;
    assert_eq!(
        call(&app, &anon, "/account/passkeys/options", &json!({}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = app
        .send(
            Request::post("/passkeys/sign-in/options")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, anon.cookies())
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let enrol_failures = failures(&app, "passkey.enrol").await;
    assert!(
        enrol_failures
            .iter()
            .any(|r| r == "reauthentication required"),
        "{enrol_failures:?}"
    );
    assert!(
        failures(&app, "passkey.remove")
            .await
            .iter()
            .any(|r| r == "reauthentication required")
    );

    // Passkey only: after a fresh passkey sign-in, alice turns it on; her password stops working.
    assert_eq!(
        passkey_sign_in(&app, &mut b, &mut auth, None, |_| {})
            .await
            .status(),
        StatusCode::OK
    );
    let on = vec![("on".into(), "true".into())];
    let resp = post_form(&app, &b, "/account/passkey-only", on).await;
    assert_eq!(location(&resp), "/account?notice=policy");
    let mut other = browser(&app).await;
    let resp = password_sign_in(&app, &mut other, "alice").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        body_text(resp)
            .await
            .contains("Invalid username or password.")
    );
    assert!(
        failures(&app, "user.sign_in")
            .await
            .iter()
            .any(|r| r == "password_disabled_passkey_only")
    );
    // Her last passkey cannot be removed while the policy is on.
    let resp = post_form(&app, &b, "/account/passkeys/remove", remove).await;
    assert_eq!(location(&resp), "/account?error=last_passkey");
}

#[tokio::test]
async fn global_passkey_only_and_the_aaguid_allow_list() {
    let app = TestApp::with(|c| {
        c.passkeys.passkey_only = true;
        c.passkeys.allowed_aaguids = vec![uuid::Uuid::from_bytes(AAGUID).to_string()];
    })
    .await;
    let (_, _) = enrolled(&app, "alice").await;
    let mut b = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut b, "alice").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A user without a passkey still signs in with the password, and may enrol only allowed
    // models.
    add_user(&app, "carol").await;
    assert_eq!(
        password_sign_in(&app, &mut b, "carol").await.status(),
        StatusCode::SEE_OTHER
    );
    let resp = enrol(&app, &b, &mut Authenticator::new([0x22; 16]), "Other").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        failures(&app, "passkey.enrol")
            .await
            .iter()
            .any(|r| r.starts_with("aaguid_not_allowed"))
    );
}

#[tokio::test]
async fn pages_speak_japanese_when_asked() {
    let app = TestApp::new().await;
    let resp = app
        .send(
            Request::get("/account")
                .header(header::ACCEPT_LANGUAGE, "ja-JP,ja;q=0.9,en;q=0.5")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = body_text(resp).await;
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(html.contains("パスキーでサインイン"), "{html}");
    assert!(!html.contains("<script>"), "no inline script");
    // The switcher sets the cookie and returns to a page of ours only.
    let resp = send_form(
        &app,
        "/language",
        &[
            ("lang".into(), "en".into()),
            ("next".into(), "https://evil.example/".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(location(&resp), "/account");
    let cookie = set_cookie(&resp, "__Host-shonin_lang").unwrap();
    assert_eq!(cookie, "en");
    let resp = app
        .send(
            Request::get("/account")
                .header(header::ACCEPT_LANGUAGE, "ja")
                .header(header::COOKIE, "__Host-shonin_lang=en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(body_text(resp).await.contains("Sign in with a passkey"));
}

#[tokio::test]
async fn recovery_codes_are_shown_once_work_once_and_count_towards_lockout() {
    let app = TestApp::new().await;
    let (alice, _) = enrolled(&app, "alice").await;
    // Generating codes needs a fresh sign-in with the strongest method: a password session of a
    // user with a passkey is refused.
    let mut b = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut b, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    let resp = post_form(&app, &b, "/account/recovery-codes", Vec::new()).await;
    assert_eq!(location(&resp), "/account?error=reauth");
    assert_eq!(
        app.state
            .store
            .unused_recovery_codes(&alice.id)
            .await
            .unwrap(),
        0
    );

    // After a fresh passkey sign-in it works.
    let (bob, mut bobs) = enrolled(&app, "bob").await;
    let mut fresh = browser(&app).await;
    let resp = passkey_sign_in(&app, &mut fresh, &mut bobs, None, |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post_form(&app, &fresh, "/account/recovery-codes", Vec::new()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL].to_str().unwrap(),
        "no-store",
        "codes must not be cached"
    );
    let html = body_text(resp).await;
    let codes: Vec<String> = html
        .split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next().map(str::to_owned))
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    let bob_id = bob.id.clone();
    assert_eq!(
        app.state
            .store
            .unused_recovery_codes(&bob_id)
            .await
            .unwrap(),
        10
    );

    // Bob loses his passkey and signs in with a code (retyped in lower case with spaces).
    let recover = |b: &Browser, user: &str, code: &str| {
        vec![
            ("csrf".to_owned(), b.csrf.clone()),
            ("username".to_owned(), user.to_owned()),
            ("code".to_owned(), code.to_owned()),
        ]
    };
    let mut lost = browser(&app).await;
    let typed = codes[0].to_lowercase().replace('-', " ");
    let resp = send_form(
        &app,
        "/account/recovery-sign-in",
        &recover(&lost, "bob", &typed),
        &[("cookie", lost.cookies())],
    )
    .await;
    assert_eq!(location(&resp), "/account");
    lost.session = set_cookie(&resp, "__Host-shonin_session");
    // The recovery session may enrol a new passkey.
    let resp = enrol(&app, &lost, &mut Authenticator::new(AAGUID), "New phone").await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);

    // The same code again: refused, with the same answer as a wrong code or an unknown user.
    let mut answers = Vec::new();
    for (user, code) in [
        ("bob", codes[0].as_str()),
        ("bob", "AAAA-AAAA-AAAA-AAAA"),
        ("nobody", codes[1].as_str()),
    ] {
        let other = browser(&app).await;
        let resp = send_form(
            &app,
            "/account/recovery-sign-in",
            &recover(&other, user, code),
            &[("cookie", other.cookies())],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&resp, "__Host-shonin_session").is_none());
        let html = body_text(resp).await;
        assert!(html.contains("Invalid username or recovery code."));
        answers.push(html.replace(&other.csrf, "CSRF"));
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "one answer for every refusal"
    );
    let reasons = failures(&app, "user.sign_in").await;
    assert!(
        reasons
            .iter()
            .filter(|r| *r == "recovery: wrong_or_used_code")
            .count()
            >= 2,
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r == "recovery: unknown_user"));

    // Wrong codes count towards the lockout: after 10 failures even a right code is refused.
    for _ in 0..10 {
        let other = browser(&app).await;
        send_form(
            &app,
            "/account/recovery-sign-in",
            &recover(&other, "bob", "BBBB-BBBB-BBBB-BBBB"),
            &[("cookie", other.cookies())],
        )
        .await;
    }
    let other = browser(&app).await;
    let resp = send_form(
        &app,
        "/account/recovery-sign-in",
        &recover(&other, "bob", &codes[2]),
        &[("cookie", other.cookies())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        failures(&app, "user.sign_in")
            .await
            .iter()
            .any(|r| r == "recovery: locked")
    );
    assert_eq!(
        app.state
            .store
            .unused_recovery_codes(&bob_id)
            .await
            .unwrap(),
        9,
        "a locked attempt spends nothing"
    );
}

#[tokio::test]
async fn failed_sign_ins_reaching_the_threshold_send_one_signed_alert() {
    let (port, mut hooks) = webhook_receiver().await;
    let secret = "an-operator-secret-of-at-least-32-bytes!";
    let app = TestApp::with(|c| {
        alerts_to(c, port, secret);
        c.alerts.failed_sign_in_threshold = 3;
    })
    .await;
    let alice = add_user(&app, "alice").await;
    let wrong = |b: &Browser| {
        vec![
            ("csrf".to_owned(), b.csrf.clone()),
            ("username".to_owned(), "alice".to_owned()),
            ("password".to_owned(), "not the password at all".to_owned()),
        ]
    };
    for i in 1..=2 {
        let b = browser(&app).await;
        let resp = send_form(
            &app,
            "/account/sign-in",
            &wrong(&b),
            &[("cookie", b.cookies())],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert!(
        no_alert_within(&mut hooks, 300).await,
        "no alert before the threshold"
    );
    let b = browser(&app).await;
    send_form(
        &app,
        "/account/sign-in",
        &wrong(&b),
        &[("cookie", b.cookies())],
    )
    .await;
    let alert = next_signed_alert(&mut hooks, secret).await;
    assert_eq!(alert["event"], "user.sign_in_failures");
    assert_eq!(alert["user_id"], alice.id.as_str());
    assert_eq!(alert["consecutive_failures"], 3);
    // One alert per crossing: the fourth failure sends nothing.
    let b = browser(&app).await;
    send_form(
        &app,
        "/account/sign-in",
        &wrong(&b),
        &[("cookie", b.cookies())],
    )
    .await;
    assert!(
        no_alert_within(&mut hooks, 500).await,
        "no second alert for the same series"
    );
    // The delivery is in the audit log, naming the event.
    let reason = delivery_audited(&app, &alice.id).await;
    assert_eq!(
        reason.as_deref(),
        Some("user.sign_in_failures: HTTP 204"),
        "alert.webhook success audited"
    );
}

#[tokio::test]
async fn a_typed_username_must_own_the_passkey() {
    let app = TestApp::new().await;
    let (_, mut alices) = enrolled(&app, "alice").await;
    add_user(&app, "bob").await;
    for (typed, ok) in [("Alice", true), ("bob", false), ("nobody", false)] {
        let b = browser(&app).await;
        let ch = body_json(call(&app, &b, "/passkeys/sign-in/options", &json!({})).await).await;
        let cred = alices.authenticate(&ch["options"], ISSUER).unwrap();
        let resp = call(
            &app,
            &b,
            "/passkeys/sign-in",
            &json!({"ceremony": ch["ceremony"], "credential": cred, "username": typed}),
        )
        .await;
        let want = if ok {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(resp.status(), want, "typed {typed}");
    }
    let reasons = failures(&app, "user.sign_in").await;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("another username than the one typed"))
            .count(),
        2,
        "{reasons:?}"
    );
}

#[tokio::test]
async fn changing_the_password_needs_a_fresh_sign_in_and_follows_the_rules() {
    let app = TestApp::new().await;
    add_user(&app, "carol").await;
    let mut b = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut b, "carol").await.status(),
        StatusCode::SEE_OTHER
    );
    let change = |b: &Browser, new: &str, confirm: &str| {
        vec![
            ("csrf".to_owned(), b.csrf.clone()),
            ("new_password".to_owned(), new.to_owned()),
            ("confirm_password".to_owned(), confirm.to_owned()),
        ]
    };
    let new = "a much better passphrase";
    let resp = send_form(
        &app,
        "/account/password",
        &change(&b, new, "something else entirely"),
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(location(&resp), "/account?error=password_mismatch");
    let resp = send_form(
        &app,
        "/account/password",
        &change(&b, "short", "short"),
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(location(&resp), "/account?error=password_rule");
    let resp = send_form(
        &app,
        "/account/password",
        &change(&b, new, new),
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(location(&resp), "/account?notice=password");
    // The old password no longer works; the new one does.
    let mut other = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut other, "carol").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let pairs = vec![
        ("csrf".to_owned(), other.csrf.clone()),
        ("username".to_owned(), "carol".to_owned()),
        ("password".to_owned(), new.to_owned()),
    ];
    let resp = send_form(
        &app,
        "/account/sign-in",
        &pairs,
        &[("cookie", other.cookies())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // A user with a passkey, signed in with the password: refused, the password unchanged.
    let (_, _) = enrolled(&app, "dave").await;
    let mut d = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut d, "dave").await.status(),
        StatusCode::SEE_OTHER
    );
    let resp = send_form(
        &app,
        "/account/password",
        &change(&d, new, new),
        &[("cookie", d.cookies())],
    )
    .await;
    assert_eq!(location(&resp), "/account?error=reauth");
    let mut again = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut again, "dave").await.status(),
        StatusCode::SEE_OTHER
    );
    let audited = failures(&app, "user.password_change").await;
    for want in [
        "confirmation differs",
        "password rule",
        "reauthentication required",
    ] {
        assert!(audited.iter().any(|r| r == want), "{want} in {audited:?}");
    }
}
