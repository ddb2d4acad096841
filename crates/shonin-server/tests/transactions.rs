//! The first-party transaction approval API (`/transactions`) through the HTTP surface, with a
//! software authenticator: one test per item of the OWASP Transaction Authorization checklist
//! and per clause of PSD2 RTS Art. 5(1) that the server can be held to
//! (`../shared/specs/transaction-authorization.md` §5.1, §5.2), each named for it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::bank::*;
use common::oauth::*;
use common::passkey::*;
use common::{TestApp, body_json, failures, two_nodes_on_postgres};
use serde_json::{Value, json};

#[tokio::test]
async fn create_challenge_approve_execute_with_a_verifiable_receipt() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;

    let (status, created) = bank.post(&app, "/transactions", &new_txn(&user.id)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "created");
    // F1 / RTS 5(1)(a): what the user is shown is the stored data, formatted per language.
    assert_eq!(created["display"]["en"]["amount"], "€123.50");
    assert_eq!(created["display"]["en"]["payee"], "Acme GmbH");
    assert_eq!(
        created["display"]["en"]["account"],
        "DE89 3704 0044 0532 0130 00"
    );
    assert_eq!(
        created["amount"],
        json!({"value": "123.50", "currency": "EUR"})
    );
    let id = created["id"].as_str().unwrap();

    let (status, ch) = bank
        .post(&app, &format!("/transactions/{id}/challenge"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    assert_eq!(ch["transaction"]["state"], "challenged");
    assert_eq!(ch["options"]["publicKey"]["userVerification"], "required");

    let assertion = auth.authenticate(&ch["options"], ISSUER).unwrap();
    let (status, approved) = bank.approve(&app, id, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "approved");
    let receipt = approved["approval"]["receipt"].as_str().unwrap();

    // The receipt verifies offline with the server's public keys…
    let jwks = shonin_keys::KeySource::verification_jwks(&app.state.keys);
    let claims = shonin_txn::receipt::verify(receipt, &jwks).unwrap();
    assert_eq!(claims.txn.id, id);
    assert_eq!(claims.user, user.id);
    assert_eq!(claims.txn.amount.canonical(), "123.50");
    // …and is kept apart from the transaction's record.
    let kept = shonin_txn::receipt::ReceiptStore::get_receipt(&app.state.store, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.receipt, receipt);

    // N8: the final gate with the approved data.
    let (status, executed) = bank
        .post(&app, &format!("/transactions/{id}/execute"), &terms())
        .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    assert_eq!(executed["state"], "executed");
    // Executed once only.
    let (status, again) = bank
        .post(&app, &format!("/transactions/{id}/execute"), &terms())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"], "transaction_state");

    // Each step is counted with its outcome.
    let metrics = common::body_text(app.get("/metrics").await).await;
    let counted = |action: &str, outcome: &str| {
        metrics.lines().any(|l| {
            l.starts_with("shonin_transactions_total{")
                && l.contains(&format!("action=\"{action}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
    };
    assert!(counted("txn.approve", "ok"), "{metrics}");
    assert!(counted("txn.execute", "transaction_state"), "{metrics}");
}

#[tokio::test]
async fn n5_steps_happen_in_order() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let id = bank.create(&app, &user.id).await;
    // Execute before approval, approve before the challenge: 409, and audited.
    let (status, v) = bank
        .post(&app, &format!("/transactions/{id}/execute"), &terms())
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("transaction_state"))
    );
    let fake = auth
        .authenticate(
            &json!({"publicKey": {"challenge": "AAAA", "rpId": "localhost"}}),
            ISSUER,
        )
        .unwrap();
    let (status, _) = bank.approve(&app, &id, &fake).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!failures(&app, "txn.execute").await.is_empty());
    assert!(!failures(&app, "txn.approve").await.is_empty());
}

#[tokio::test]
async fn n10_an_assertion_replayed_on_the_same_or_another_transaction_is_refused() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (first, options) = bank.challenged(&app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    assert_eq!(
        bank.approve(&app, &first, &assertion).await.0,
        StatusCode::OK
    );
    // The same transaction again: it is no longer awaiting approval.
    assert_eq!(
        bank.approve(&app, &first, &assertion).await.0,
        StatusCode::CONFLICT
    );
    // Another transaction with identical data: its challenge differs (id, nonce).
    let (second, _) = bank.challenged(&app, &user.id).await;
    let (status, v) = bank.approve(&app, &second, &assertion).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], "approval_refused");
    assert_eq!(v["attempts_left"], 4);
}

#[tokio::test]
async fn f4_a_sign_in_assertion_cannot_approve_a_transaction() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, _) = bank.challenged(&app, &user.id).await;
    // A real sign-in challenge, answered by the user's passkey.
    let b = browser(&app).await;
    let ch = body_json(call(&app, &b, "/passkeys/sign-in/options", &json!({})).await).await;
    let sign_in = auth.authenticate(&ch["options"], ISSUER).unwrap();
    let (status, v) = bank.approve(&app, &id, &sign_in).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    // The audit log says why; the answer does not (RTS Art. 4(3)(a)).
    assert!(v["detail"].as_str().unwrap().contains("refused"));
    assert!(
        failures(&app, "txn.approve")
            .await
            .iter()
            .any(|r| r.contains("challenge"))
    );
}

#[tokio::test]
async fn n4_five_failed_attempts_lock_the_transaction() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let good = auth.authenticate(&options, ISSUER).unwrap();
    let mut bad = good.clone();
    bad["response"]["signature"] = json!("MEUCIQ");
    for left in (0..5).rev() {
        let (status, v) = bank.approve(&app, &id, &bad).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["attempts_left"], left);
    }
    // Locked: even the right assertion no longer approves it.
    let (status, v) = bank.approve(&app, &id, &good).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("transaction_locked"))
    );
    let resp = bank
        .send(&app, Method::GET, &format!("/transactions/{id}"), None)
        .await;
    assert_eq!(body_json(resp).await["state"], "locked");
}

#[tokio::test]
async fn n6_rts_5_1_d_a_change_after_the_challenge_voids_it_and_is_logged() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    let mut changed = terms();
    changed["amount"]["value"] = json!("9999.00");
    let resp = bank
        .send(
            &app,
            Method::PATCH,
            &format!("/transactions/{id}"),
            Some(&changed),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["state"], "created");
    let voided = app
        .audit_entries()
        .await
        .into_iter()
        .any(|e| e.record.action == "txn.modify.challenge_voided" && e.record.target == id);
    assert!(voided);
    // The assertion over the old amount no longer approves anything.
    assert_eq!(
        bank.approve(&app, &id, &assertion).await.0,
        StatusCode::CONFLICT
    );
    // A new challenge over the new amount does.
    let (status, ch) = bank
        .post(&app, &format!("/transactions/{id}/challenge"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ch["transaction"]["display"]["en"]["amount"], "€9,999.00");
    let fresh = auth.authenticate(&ch["options"], ISSUER).unwrap();
    assert_eq!(bank.approve(&app, &id, &fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn n8_rts_5_1_c_execution_with_other_data_than_approved_is_caught() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    assert_eq!(bank.approve(&app, &id, &assertion).await.0, StatusCode::OK);
    for (pointer, value) in [
        ("/payee/name", json!("Mallory Ltd")),
        ("/payee/account/iban", json!("GB82WEST12345698765432")),
        ("/amount/value", json!("123.51")),
        ("/amount/currency", json!("USD")),
        ("/reference", json!("Invoice 43")),
    ] {
        let mut swapped = terms();
        *swapped.pointer_mut(pointer).unwrap() = value;
        let (status, v) = bank
            .post(&app, &format!("/transactions/{id}/execute"), &swapped)
            .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::CONFLICT, Some("transaction_mismatch")),
            "{pointer}"
        );
    }
    assert_eq!(failures(&app, "txn.execute").await.len(), 5);
    // The approved data still executes.
    let (status, _) = bank
        .post(&app, &format!("/transactions/{id}/execute"), &terms())
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn n2_the_request_cannot_choose_the_method() {
    let app = TestApp::new().await;
    let (user, _) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let mut body = new_txn(&user.id);
    body["method"] = json!("sms");
    let (status, v) = bank.post(&app, "/transactions", &body).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(
        failures(&app, "txn.create")
            .await
            .iter()
            .any(|r| r == "method_parameter_refused")
    );
}

#[tokio::test]
async fn n9_an_assertion_after_the_deadline_is_refused() {
    let app = TestApp::with(|c| c.transactions.lifetime_secs = 1).await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, v) = bank.approve(&app, &id, &assertion).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("transaction_expired"))
    );
    let resp = bank
        .send(&app, Method::GET, &format!("/transactions/{id}"), None)
        .await;
    assert_eq!(body_json(resp).await["state"], "expired");
}

#[tokio::test]
async fn another_clients_transaction_is_not_found_and_another_users_passkey_does_not_approve() {
    let app = TestApp::new().await;
    let (alice, _) = enrolled(&app, "alice").await;
    let (_, mut mallory_auth) = enrolled(&app, "mallory").await;
    let bank = Bank::new(&app, "bank-app").await;
    let other = Bank::new(&app, "other-app").await;
    let (id, options) = bank.challenged(&app, &alice.id).await;
    let resp = other
        .send(&app, Method::GET, &format!("/transactions/{id}"), None)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Mallory's passkey signs Alice's challenge: refused.
    let mut options = options;
    options["publicKey"]
        .as_object_mut()
        .unwrap()
        .remove("allowCredentials");
    let assertion = mallory_auth.authenticate(&options, ISSUER).unwrap();
    let (status, _) = bank.approve(&app, &id, &assertion).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        failures(&app, "txn.approve")
            .await
            .iter()
            .any(|r| r.contains("another_user"))
    );
}

#[tokio::test]
async fn parallel_approvals_exactly_one_wins() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(bank.approve(&app, &id, &assertion));
    }
    let results = futures_util::future::join_all(tasks).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    let receipts = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| {
            e.record.action == "txn.approve" && e.record.outcome == shonin_audit::Outcome::Success
        })
        .count();
    assert_eq!(receipts, 1);
}

#[tokio::test]
async fn the_api_needs_a_sender_constrained_token_with_the_scope() {
    let app = TestApp::new().await;
    let (user, _) = enrolled(&app, "alice").await;
    // No token: 401 with a bare challenge.
    let resp = app
        .send(
            Request::post("/transactions")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(new_txn(&user.id).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A token without the scope: 403 insufficient_scope.
    let c = TestClient::new("no-scope");
    c.register(&app, |_| {}).await;
    let at = body_json(client_credentials(&app, &c).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bank = Bank {
        client: c,
        token: at,
    };
    let (status, v) = bank.post(&app, "/transactions", &new_txn(&user.id)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], "insufficient_scope");
    assert!(!failures(&app, "txn.create").await.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_changes_nothing() {
    let app = TestApp::new().await;
    let (user, _) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let cases: Vec<(&str, Value)> = vec![
        ("/amount/value", json!("0")),
        ("/amount/value", json!("1.234")),
        ("/amount/value", json!(12)),
        ("/amount/currency", json!("XAU")),
        ("/payee/account/iban", json!("DE89370400440532013001")),
        ("/payee/name", json!("Acme\u{202e}GmbH")),
        ("/user_id", json!("no-such-user")),
    ];
    for (pointer, value) in cases {
        let mut body = new_txn(&user.id);
        *body.pointer_mut(pointer).unwrap() = value;
        let (status, v) = bank.post(&app, "/transactions", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer}: {v}");
    }
    let resp = bank
        .send(
            &app,
            Method::GET,
            "/transactions/0123456789abcdef0123456789abcdef",
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = bank.post(&app, "/transactions", &json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let deep = (0..20).fold(json!(1), |v, _| json!({"a": v}));
    let (status, _) = bank.post(&app, "/transactions", &deep).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rejecting_ends_the_transaction() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let (status, v) = bank
        .post(&app, &format!("/transactions/{id}/reject"), &json!({}))
        .await;
    assert_eq!(
        (status, v["state"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    assert_eq!(
        bank.approve(&app, &id, &assertion).await.0,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn a_user_without_a_passkey_cannot_be_challenged() {
    let app = TestApp::new().await;
    let user = add_user(&app, "bob").await;
    let bank = Bank::new(&app, "bank-app").await;
    let id = bank.create(&app, &user.id).await;
    let (status, v) = bank
        .post(&app, &format!("/transactions/{id}/challenge"), &json!({}))
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("no_passkey"))
    );
}

#[tokio::test]
async fn parallel_approvals_on_two_nodes_on_postgres_exactly_one_wins() {
    let (db, a, b) = two_nodes_on_postgres().await;
    let (user, mut auth) = enrolled(&a, "alice").await;
    let bank = Bank::new(&a, "bank-app").await;
    let (id, options) = bank.challenged(&a, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { &a } else { &b };
        tasks.push(bank.approve(node, &id, &assertion));
    }
    let results = futures_util::future::join_all(tasks).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    // The losers were refused as out of order or as a lost race, never approved twice.
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT)
    );
    db.destroy().await.unwrap();
}

// --- The user's approval page (/approve/{id}) ---

/// A browser signed in as `name` (with a password), on the approval page's JSON API.
async fn signed_in(app: &TestApp, name: &str) -> Browser {
    let mut b = browser(app).await;
    let resp = password_sign_in(app, &mut b, name).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    b
}

async fn page(app: &TestApp, b: Option<&Browser>, path: &str, lang: &str) -> (StatusCode, String) {
    let mut req = Request::get(path).header(header::ACCEPT_LANGUAGE, lang);
    if let Some(b) = b {
        req = req.header(header::COOKIE, b.cookies());
    }
    let resp = app.send(req.body(Body::empty()).unwrap()).await;
    (resp.status(), common::body_text(resp).await)
}

#[tokio::test]
async fn the_approval_page_shows_the_stored_data_and_approves_with_a_passkey() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let mut body = new_txn(&user.id);
    body["payee"]["name"] = json!("Acme <b>GmbH</b>");
    body["amount"] = json!({"value": "12000", "currency": "JPY"});
    let (status, v) = bank.post(&app, "/transactions", &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/approve/{id}");

    // Not signed in: the passkey sign-in, continuing here; no password form.
    let (status, html) = page(&app, None, &path, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("data-next=\"{path}\"")), "{html}");
    assert!(!html.contains("type=\"password\""));

    // The user's page, in Japanese: the stored data, escaped, the amount as the locale writes it.
    let b = signed_in(&app, "alice").await;
    let (status, html) = page(&app, Some(&b), &path, "ja").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("12,000円"), "{html}");
    assert!(
        html.contains("Acme &#60;b&#62;GmbH&#60;/b&#62;")
            || html.contains("Acme &lt;b&gt;GmbH&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>GmbH"));
    assert!(html.contains("DE89 3704 0044 0532 0130 00"));
    // …and in English.
    let (_, html) = page(&app, Some(&b), &path, "en").await;
    assert!(html.contains("¥12,000"));

    // Another user sees nothing.
    add_user(&app, "mallory").await;
    let m = signed_in(&app, "mallory").await;
    assert_eq!(
        page(&app, Some(&m), &path, "en").await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        failures(&app, "txn.read")
            .await
            .iter()
            .any(|r| r == "not_found"),
        "another user's look is audited"
    );
    let resp = call(&app, &m, &format!("{path}/options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Options, then the passkey, as /static/approve.js does.
    let resp = call(&app, &b, &format!("{path}/options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let options = body_json(resp).await["options"].clone();
    // A reload asks again and gets the same challenge.
    let again = body_json(call(&app, &b, &format!("{path}/options"), &json!({})).await).await;
    assert_eq!(
        again["options"]["publicKey"]["challenge"],
        options["publicKey"]["challenge"]
    );
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    let resp = call(&app, &b, &path, &json!({"assertion": assertion})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["state"], "approved");
    let (_, html) = page(&app, Some(&b), &path, "en").await;
    assert!(html.contains("This payment is approved."));
    assert!(!html.contains("approve-passkey"));
    // The client sees the approval and its receipt.
    let resp = bank
        .send(&app, Method::GET, &format!("/transactions/{id}"), None)
        .await;
    let v = body_json(resp).await;
    assert_eq!(v["state"], "approved");
    assert!(v["approval"]["receipt"].is_string());
}

#[tokio::test]
async fn the_approval_page_needs_its_csrf_value_and_rejects_by_form() {
    let app = TestApp::new().await;
    let (user, _) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let id = bank.create(&app, &user.id).await;
    let path = format!("/approve/{id}");
    let b = signed_in(&app, "alice").await;
    // A JSON call without the CSRF header: 403, nothing issued.
    let resp = app
        .send(
            Request::post(format!("{path}/options"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, b.cookies())
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The reject form with the wrong csrf value: refused; with the right one: rejected.
    let bad = vec![("csrf".to_owned(), "nope".to_owned())];
    let resp = send_form(
        &app,
        &format!("{path}/reject"),
        &bad,
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let good = vec![("csrf".to_owned(), b.csrf.clone())];
    let resp = send_form(
        &app,
        &format!("{path}/reject"),
        &good,
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, Some(&b), &path, "en").await;
    assert!(html.contains("This payment was rejected."));
}
