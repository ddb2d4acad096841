//! Secure Payment Confirmation (W3C SPC) through the transactions API: the bank asks for an SPC
//! challenge naming its checkout, the checkout runs `PaymentRequest` with what Shonin returns,
//! and the assertion (made by the software authenticator: headless Chromium on Linux cannot run
//! SPC) approves the stored transaction only if its `payment` member names exactly the stored
//! payee and amount, the checkout, the frame and the instrument. Each refusal counts as an
//! attempt; the receipt of an SPC approval verifies offline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::StatusCode;
use common::bank::*;
use common::oauth::*;
use common::passkey::*;
use common::{TestApp, failures};
use serde_json::{Value, json};
use shonin_testkit::Authenticator;

const SHOP: &str = "https://shop.example";
const PSP: &str = "https://psp.example";
const ICON: &str = "https://bank.example/card.png";

async fn spc_app() -> TestApp {
    TestApp::with(|c| {
        c.transactions.spc_instrument_name = Some("Shonin Bank •••• 4242".into());
        c.transactions.spc_instrument_icon = Some(ICON.into());
    })
    .await
}

struct Fixture {
    app: TestApp,
    bank: Bank,
    auth: Authenticator,
    user_id: String,
}

async fn setup() -> Fixture {
    let app = spc_app().await;
    let (user, auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    Fixture {
        app,
        bank,
        auth,
        user_id: user.id,
    }
}

/// A new transaction and its SPC challenge for `spc`; returns the id and the answer.
async fn spc_challenge(f: &Fixture, spc: &Value) -> (String, StatusCode, Value) {
    let id = f.bank.create(&f.app, &f.user_id).await;
    let (status, ch) = f
        .bank
        .post(
            &f.app,
            &format!("/transactions/{id}/challenge"),
            &json!({ "spc": spc }),
        )
        .await;
    (id, status, ch)
}

/// Flips the JSON of an SPC assertion's `clientDataJSON` through `tweak`, then re-signs nothing:
/// the signature no longer covers it unless `tweak` changes nothing.
fn with_client_data(assertion: &mut Value, tweak: impl FnOnce(&mut Value)) {
    let raw = shonin_jose::b64url_decode(assertion["response"]["clientDataJSON"].as_str().unwrap())
        .unwrap();
    let mut cd: Value = serde_json::from_slice(&raw).unwrap();
    tweak(&mut cd);
    assertion["response"]["clientDataJSON"] = json!(shonin_jose::b64url_encode(
        &serde_json::to_vec(&cd).unwrap()
    ));
}

#[tokio::test]
async fn an_spc_assertion_approves_exactly_the_stored_payment() {
    let mut f = setup().await;
    let (id, status, ch) = spc_challenge(&f, &json!({"top_origin": SHOP})).await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    // What the checkout passes to PaymentRequest: the stored payee and amount, the instrument.
    let spc = &ch["spc"];
    let data = &spc["methodData"][0]["data"];
    assert_eq!(
        spc["methodData"][0]["supportedMethods"],
        "secure-payment-confirmation"
    );
    assert_eq!(data["rpId"], "localhost");
    assert_eq!(data["payeeName"], "Acme GmbH");
    assert_eq!(data["instrument"]["icon"], ICON);
    assert_eq!(data["challenge"], ch["options"]["publicKey"]["challenge"]);
    assert_eq!(
        spc["details"]["total"]["amount"],
        json!({"currency": "EUR", "value": "123.50"})
    );
    assert_eq!(
        data["credentialIds"].as_array().unwrap().len(),
        1,
        "the user's passkey"
    );

    let assertion = f.auth.secure_payment_confirmation(spc, SHOP, SHOP).unwrap();
    let (status, approved) = f.bank.approve(&f.app, &id, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "approved");
    // The receipt says it was SPC, and verifies offline with the payment member checked.
    let receipt = approved["approval"]["receipt"].as_str().unwrap();
    let jwks = shonin_keys::KeySource::verification_jwks(&f.app.state.keys);
    let claims = shonin_txn::receipt::verify(receipt, &jwks).unwrap();
    let ctx = claims.spc.expect("an SPC receipt");
    assert_eq!((ctx.top_origin.as_str(), ctx.origin.as_str()), (SHOP, SHOP));
    // `shonin txn verify` says so, offline.
    let keys = f.app.path("keys.json");
    std::fs::write(&keys, jwks.to_string()).unwrap();
    let saved = f.app.path("receipt.json");
    std::fs::write(&saved, json!({ "receipt": receipt }).to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shonin"))
        .args(["--dev", "--data-dir"])
        .arg(f.app.dir.path())
        .args(["txn", "verify"])
        .arg(&saved)
        .arg("--jwks")
        .arg(&keys)
        .env_remove("SHONIN_CONFIG")
        .current_dir(f.app.dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("via       Secure Payment Confirmation on https://shop.example"),
        "{printed}"
    );
    // The final gate is the same.
    let (status, executed) = f
        .bank
        .post(&f.app, &format!("/transactions/{id}/execute"), &terms())
        .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
}

#[tokio::test]
async fn from_a_psp_iframe_on_the_checkout() {
    let mut f = setup().await;
    let (id, status, ch) = spc_challenge(&f, &json!({"top_origin": SHOP, "origin": PSP})).await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    let assertion = f
        .auth
        .secure_payment_confirmation(&ch["spc"], PSP, SHOP)
        .unwrap();
    let (status, approved) = f.bank.approve(&f.app, &id, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
}

/// Every way an SPC assertion can differ from what was stored or asked for is a refused
/// attempt, audited; the fifth locks the transaction.
#[tokio::test]
async fn spc_assertions_that_differ_are_refused_attempts() {
    let mut f = setup().await;
    let (id, _, ch) = spc_challenge(&f, &json!({"top_origin": SHOP})).await;
    let spc = ch["spc"].clone();
    let good = f
        .auth
        .secure_payment_confirmation(&spc, SHOP, SHOP)
        .unwrap();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    // The browser's dialog showed another amount, payee or instrument: the signed data differs.
    for (what, pointer, value) in [
        ("amount", "/details/total/amount/value", json!("1.00")),
        ("currency", "/details/total/amount/currency", json!("USD")),
        (
            "payee",
            "/methodData/0/data/payeeName",
            json!("Mallory Ltd"),
        ),
        (
            "instrument",
            "/methodData/0/data/instrument/displayName",
            json!("Another card"),
        ),
    ] {
        let mut changed = spc.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        cases.push((
            what,
            f.auth
                .secure_payment_confirmation(&changed, SHOP, SHOP)
                .unwrap(),
        ));
    }
    // Another checkout, another frame.
    cases.push((
        "top origin",
        f.auth
            .secure_payment_confirmation(&spc, "https://evil.example", "https://evil.example")
            .unwrap(),
    ));
    // A plain sign-in ceremony's type on the same challenge, from the shop: not our origin.
    let mut relabelled = good.clone();
    with_client_data(&mut relabelled, |cd| cd["type"] = json!("webauthn.get"));
    cases.push(("webauthn.get from the shop", relabelled.clone()));
    // The payment member edited after signing.
    with_client_data(&mut relabelled, |cd| {
        cd["type"] = json!("payment.get");
        cd["payment"]["total"]["value"] = json!("0.01");
    });
    cases.push(("edited after signing", relabelled));
    let mut attempts = 0;
    for (what, assertion) in cases {
        let (status, body) = f.bank.approve(&f.app, &id, &assertion).await;
        attempts += 1;
        if attempts < 5 {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
            assert_eq!(body["error"], "approval_refused", "{what}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
            break;
        }
    }
    let reasons = failures(&f.app, "txn.approve").await;
    assert!(
        reasons.iter().any(|r| r.contains("spc: payment.total")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("spc: payment.payeeName")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("locked")), "{reasons:?}");
    // Locked: even the good assertion no longer approves.
    let (status, body) = f.bank.approve(&f.app, &id, &good).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "transaction_locked");
}

#[tokio::test]
async fn an_spc_assertion_is_single_use_and_only_for_an_spc_challenge() {
    let mut f = setup().await;
    let (id, _, ch) = spc_challenge(&f, &json!({"top_origin": SHOP})).await;
    let assertion = f
        .auth
        .secure_payment_confirmation(&ch["spc"], SHOP, SHOP)
        .unwrap();
    let (status, _) = f.bank.approve(&f.app, &id, &assertion).await;
    assert_eq!(status, StatusCode::OK);
    // Replayed: the transaction is approved already.
    let (status, body) = f.bank.approve(&f.app, &id, &assertion).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A plain challenge (no spc asked): an SPC assertion of it is refused; the passkey page's
    // assertion still approves it.
    let (other, plain) = f.bank.challenged(&f.app, &f.user_id).await;
    let spc_like = json!({
        "methodData": [{"data": {
            "challenge": plain["publicKey"]["challenge"],
            "rpId": "localhost",
            "credentialIds": f.auth.credential_ids(),
            "payeeName": "Acme GmbH",
            "instrument": {"displayName": "Shonin Bank •••• 4242", "icon": ICON}
        }}],
        "details": {"total": {"amount": {"currency": "EUR", "value": "123.50"}}}
    });
    let forged = f
        .auth
        .secure_payment_confirmation(&spc_like, SHOP, SHOP)
        .unwrap();
    let (status, body) = f.bank.approve(&f.app, &other, &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let reasons = failures(&f.app, "txn.approve").await;
    assert!(
        reasons.iter().any(|r| r.contains("not issued for SPC")),
        "{reasons:?}"
    );
    let assertion = f.auth.authenticate(&plain, ISSUER).unwrap();
    let (status, _) = f.bank.approve(&f.app, &other, &assertion).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn spc_challenges_need_configuration_and_https_origins() {
    // Not configured: refused, and nothing moves.
    let app = TestApp::new().await;
    let (user, _) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let id = bank.create(&app, &user.id).await;
    let (status, body) = bank
        .post(
            &app,
            &format!("/transactions/{id}/challenge"),
            &json!({"spc": {"top_origin": SHOP}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");

    let f = setup().await;
    for bad in [
        json!({"top_origin": "http://shop.example"}),
        json!({"top_origin": "https://shop.example/checkout"}),
        json!({"top_origin": SHOP, "origin": "https://psp.example/frame"}),
        json!({"top_origin": SHOP, "extra": true}),
        json!({}),
    ] {
        let (_, status, body) = spc_challenge(&f, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
