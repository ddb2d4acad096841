//! Payment consent in the FAPI code flow: a `payment_initiation` request is approved by a
//! passkey signature over the payment (PSD2 RTS Art. 5(1), OWASP Transaction Authorization),
//! never by the button, and the tokens and introspection carry the approval.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::StatusCode;
use common::oauth::*;
use common::passkey::{approve_payment, call, consent_with_passkey, data_attr};
use common::{TestApp, body_json, body_text, failures};
use serde_json::{Value, json};
use shonin_txn::TxnState;

async fn setup() -> (TestApp, TestClient) {
    let app = TestApp::new().await;
    let c = TestClient::new("tpp");
    c.register(&app, |_| {}).await;
    add_user(&app, "alice").await;
    (app, c)
}

async fn txn_state(app: &TestApp, request_uri: &str, user: &str) -> Option<(TxnState, Value)> {
    let user_id = user_id(app, user).await;
    let reference = shonin_oauth::par::reference_of(request_uri).unwrap();
    let id = shonin_txn::consent::transaction_id(reference, &user_id);
    let flow =
        shonin_types::flow::get::<TxnState>(&app.state.store, &id, time::OffsetDateTime::now_utc())
            .await
            .unwrap()?;
    Some((flow.state, serde_json::from_slice(&flow.data).unwrap()))
}

async fn par_with_details(app: &TestApp, c: &TestClient, details: &Value) -> (StatusCode, Value) {
    let mut pairs = c.par_params();
    pairs.retain(|(k, _)| k != "authorization_details");
    pairs.push(("authorization_details".into(), details.to_string()));
    pairs.extend(c.auth_params().await);
    let resp = send_form(app, "/par", &pairs, &[]).await;
    (resp.status(), body_json(resp).await)
}

#[tokio::test]
async fn a_payment_is_consented_with_a_passkey_and_the_tokens_carry_the_approval() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let (b, html) = sign_in_to_consent(&app, &c, &request_uri, "alice").await;
    // RTS 5(1)(a): the payment as the signature covers it, formatted, escaped; no button.
    assert!(html.contains("€123.45"), "{html}");
    assert!(
        html.contains("DE89 3704 0044 0532 0130 00") || html.contains("DE89370400440532013000")
    );
    assert!(!html.contains("<script>alert"), "escaped");
    assert!(
        !html.contains("value=\"approve\""),
        "no approve button for a payment"
    );
    assert!(html.contains("/static/approve.js"));

    let location = consent_with_passkey(&app, &b, &html, "alice").await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    let (state, txn) = txn_state(&app, &request_uri, "alice").await.unwrap();
    assert_eq!(state, TxnState::Approved);
    assert_eq!(txn["client_id"], "tpp");

    let resp = redeem(&app, &c, &query_param(&location, "code").unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens = body_json(resp).await;
    let granted = &tokens["authorization_details"][0];
    assert_eq!(granted["type"], "payment_initiation");
    assert_eq!(granted["creditorAccount"]["iban"], "DE89370400440532013000");
    let approval = &granted["approval"];
    assert_eq!(approval["transaction_id"], txn["id"]);
    assert_eq!(approval["challenge"], txn["approval"]["challenge"]);
    assert_eq!(approval["credential_id"], txn["approval"]["credential_id"]);

    // The access token and introspection carry the same details.
    let at = tokens["access_token"].as_str().unwrap();
    let jwks = body_json(app.get("/jwks").await).await;
    let claims = shonin_jose::verify_jwt(
        at,
        &jwks,
        &shonin_jose::VerifyOptions::new(time::OffsetDateTime::now_utc()),
    )
    .unwrap();
    assert_eq!(claims["authorization_details"][0]["approval"], *approval);
    let mut pairs = vec![("token".to_owned(), at.to_owned())];
    pairs.extend(c.auth_params().await);
    let intro = body_json(send_form(&app, "/introspect", &pairs, &[]).await).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["authorization_details"][0]["approval"], *approval);

    // The receipt of the approval verifies offline against the server's keys.
    let receipt = txn["approval"]["receipt"].as_str().unwrap();
    let verified = shonin_txn::receipt::verify(receipt, &jwks);
    assert!(verified.is_ok(), "{verified:?}");
    // The consent's audit entry commits to that receipt by its digest (the audit export then
    // carries the receipt beside it).
    let entries = app.audit_entries().await;
    let consent = entries
        .iter()
        .find(|e| {
            e.record.action == "oauth.consent" && e.record.outcome == shonin_audit::Outcome::Success
        })
        .expect("a consent entry");
    assert_eq!(consent.record.target, txn["id"].as_str().unwrap());
    assert_eq!(
        consent.record.reason.as_deref(),
        Some(shonin_txn::receipt::audit_reason(receipt).as_str())
    );

    // The request was used once: approving again is refused and issues nothing.
    let resp = approve_payment(&app, &b, &html, "alice", |_| {}).await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        body_text(resp).await
    );
}

#[tokio::test]
async fn the_approve_button_cannot_consent_to_a_payment() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let (b, html) = sign_in_to_consent(&app, &c, &request_uri, "alice").await;
    let resp = decide(&app, &c, &b, &request_uri, "approve").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(resp).await.contains("passkey"));
    let refused = failures(&app, "oauth.authorize").await;
    assert!(refused.iter().any(|r| r.contains("passkey")), "{refused:?}");
    // Nothing changed: the request can still be approved, with the passkey.
    let location = consent_with_passkey(&app, &b, &html, "alice").await;
    assert!(query_param(&location, "code").is_some());
}

#[tokio::test]
async fn a_refused_signature_counts_as_an_attempt_and_issues_no_code() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let (b, html) = sign_in_to_consent(&app, &c, &request_uri, "alice").await;
    let resp = approve_payment(&app, &b, &html, "alice", |a| {
        // Another signature: any byte of it changed.
        let sig = a["response"]["signature"].as_str().unwrap().to_owned();
        let mut bytes = shonin_jose::b64url_decode(&sig).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        a["response"]["signature"] = json!(shonin_jose::b64url_encode(&bytes));
    })
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let problem = body_json(resp).await;
    assert_eq!(problem["error"], "approval_refused");
    assert_eq!(problem["attempts_left"], 4);
    let (state, txn) = txn_state(&app, &request_uri, "alice").await.unwrap();
    assert_eq!(state, TxnState::Challenged);
    assert_eq!(txn["attempts"], 1);
    assert!(
        failures(&app, "oauth.consent")
            .await
            .iter()
            .any(|r| r.contains("refused"))
    );
    // The pushed request is unused: the next, good signature consents.
    let location = consent_with_passkey(&app, &b, &html, "alice").await;
    assert!(query_param(&location, "code").is_some());
}

#[tokio::test]
async fn denying_a_payment_rejects_its_transaction() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let (b, html) = sign_in_to_consent(&app, &c, &request_uri, "alice").await;
    common::passkey::payment_passkey(&app, &b, "alice").await;
    // The page asked for the challenge (the transaction exists), then the user denies.
    let resp = call(&app, &b, &data_attr(&html, "options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    let resp = decide(&app, &c, &b, &request_uri, "deny").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query_param(&location(&resp), "error").as_deref(),
        Some("access_denied")
    );
    let (state, _) = txn_state(&app, &request_uri, "alice").await.unwrap();
    assert_eq!(state, TxnState::Rejected);
}

#[tokio::test]
async fn the_payment_calls_need_the_page_csrf_and_a_session() {
    let (app, c) = setup().await;
    let request_uri = push(&app, &c).await;
    let (mut b, html) = sign_in_to_consent(&app, &c, &request_uri, "alice").await;
    let options = data_attr(&html, "options");
    // A header that is not the page's CSRF value (the cookie's).
    let resp = app
        .send(
            axum::http::Request::post(options.as_str())
                .header("content-type", "application/json")
                .header("x-csrf-token", "x".repeat(43))
                .header("cookie", b.cookies())
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    b.session = None;
    let resp = call(&app, &b, &options, &json!({})).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = call(
        &app,
        &b,
        "/authorize/payment/options?client_id=tpp&request_uri=urn%3Ax",
        &json!({}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // No transaction was made by any of them, nor for a user without a passkey.
    assert!(txn_state(&app, &request_uri, "alice").await.is_none());
    let second = push(&app, &c).await;
    let (b, html) = sign_in_to_consent(&app, &c, &second, "alice").await;
    let resp = call(&app, &b, &data_attr(&html, "options"), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(body_json(resp).await["error"], "no_passkey");
    assert!(txn_state(&app, &second, "alice").await.is_none());
}

#[tokio::test]
async fn par_refuses_payments_that_cannot_be_signed_one_by_one() {
    let (app, c) = setup().await;
    let payment = |currency: &str, amount: &str| {
        json!({
            "type": "payment_initiation",
            "instructedAmount": {"currency": currency, "amount": amount},
            "creditorName": "Shop",
            "creditorAccount": {"iban": "DE89370400440532013000"}
        })
    };
    // The schema lets both through: the yen has no minor unit, XAU is not a currency.
    for bad in [payment("JPY", "1.50"), payment("XAU", "1.00")] {
        let (status, body) = par_with_details(&app, &c, &json!([bad])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_authorization_details", "{body}");
    }
    let (status, body) = par_with_details(
        &app,
        &c,
        &json!([payment("EUR", "1.00"), payment("EUR", "2.00")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("at most one")
    );
    let (status, _) = par_with_details(&app, &c, &json!([payment("JPY", "12000")])).await;
    assert_eq!(status, StatusCode::CREATED);
}
