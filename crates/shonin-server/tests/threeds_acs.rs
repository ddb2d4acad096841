//! The ACS's AReq endpoint (`POST /3ds/acs/areq`) end to end in process: the DS's client
//! certificate, each refusal as an Erro from component A, frictionless and challenge answers from
//! the configured rules and the enrolled card, the stored transaction, the audit entries — and no
//! card number anywhere in the database file or the audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use common::{TestApp, body_json};
use serde_json::{Value, json};
use shonin_3ds::TransStatus;
use shonin_3ds::acs::ChallengeState;
use shonin_3ds::acs::store::AcsStore;
use shonin_3ds::settings::AcsSettings;
use shonin_identity::user::User;
use shonin_tls::ConnectionInfo;
use std::sync::Arc;
use tower::ServiceExt;

/// A Luhn-valid Visa test number, put into the scheme sample AReq in place of its own.
const PAN: &str = "4012000000006013";
const NOT_ENROLLED: &str = "4012000000006005";

struct Ds {
    der: rustls::pki_types::CertificateDer<'static>,
    thumbprint: String,
}

fn ds_certificate(cn: &str) -> Ds {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().clone();
    let thumbprint = shonin_oauth::mtls::x5t_s256(&der);
    Ds { der, thumbprint }
}

/// The common test ACS (635.51 RUB passes; above 1,000.00 RUB is challenged) with an operator
/// ID.
fn settings(ds: &Ds) -> AcsSettings {
    AcsSettings {
        operator_id: Some("00000014".into()),
        ..common::acs::settings(ds.thumbprint.clone())
    }
}

async fn app(ds: &Ds) -> TestApp {
    let s = settings(ds);
    TestApp::with(move |c| c.threeds.acs = Some(s)).await
}

/// The Visa 2.2.0 browser sample as the DS relays it: with the DS's IDs and our test card.
fn areq() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json"
    );
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["acctNumber"] = json!(PAN);
    v["dsTransID"] = json!("897e20c5-76b7-4ee4-9e43-f2ba9dd90044");
    v["dsReferenceNumber"] = json!("DSServerRef123456");
    v["threeDSRequestorChallengeInd"] = json!("01");
    v
}

async fn post(
    app: &TestApp,
    cert: Option<&Ds>,
    content_type: &str,
    body: String,
) -> Response<Body> {
    let mut req = Request::post("/3ds/acs/areq")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectionInfo {
        peer_addr: "192.0.2.10:40000".parse().unwrap(),
        tls: true,
        client_cert_chain: cert.map(|c| Arc::from(vec![c.der.clone()])),
    });
    app.router.clone().oneshot(req).await.unwrap()
}

async fn send(app: &TestApp, ds: &Ds, body: &Value) -> (StatusCode, Value) {
    let resp = post(app, Some(ds), "application/json", body.to_string()).await;
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, body_json(resp).await)
}

async fn enrol(app: &TestApp, pan: &str) -> User {
    common::acs::cardholder(app, "alice", pan).await
}

fn assert_erro(body: &Value, code: &str, detail_starts: &str) {
    assert_eq!(body["messageType"], "Erro", "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert_eq!(body["errorComponent"], "A", "{body}");
    assert!(
        body["errorDetail"]
            .as_str()
            .unwrap()
            .starts_with(detail_starts),
        "{body}"
    );
}

#[tokio::test]
async fn an_enrolled_card_under_the_threshold_is_authenticated_frictionless() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    enrol(&app, PAN).await;
    let sent = areq();
    let (status, ares) = send(&app, &ds, &sent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ares["messageType"], "ARes", "{ares}");
    assert_eq!(
        (ares["transStatus"].as_str(), ares["eci"].as_str()),
        (Some("Y"), Some("05"))
    );
    assert_eq!(ares["authenticationValue"].as_str().unwrap().len(), 28);
    assert_eq!(ares["threeDSServerTransID"], sent["threeDSServerTransID"]);
    assert_eq!(ares["dsTransID"], sent["dsTransID"]);
    assert_eq!(ares["acsReferenceNumber"], "ACSRefNum1234");
    // The answer is a valid ARes of the AReq's version.
    assert!(shonin_3ds::check(ares.to_string().as_bytes(), shonin_3ds::Versions::ALL).is_ok());

    let id = ares["acsTransID"].as_str().unwrap();
    let stored = app
        .state
        .store
        .acs_transaction(id, app.state.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.trans_status, TransStatus::Y);
    assert!(stored.data.challenge.is_none());
    let entries = app.audit_entries().await;
    let entry = entries
        .iter()
        .find(|e| e.record.action == "3ds.authenticate")
        .unwrap();
    assert_eq!(entry.record.target, id);
    assert!(
        entry
            .record
            .reason
            .as_deref()
            .unwrap()
            .starts_with("transStatus=Y reason=- card="),
        "{entry:?}"
    );
    assert!(entry.record.actor.id.starts_with("ds:"));
}

#[tokio::test]
async fn above_the_threshold_the_answer_is_a_challenge_with_the_first_creq_timer() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    enrol(&app, PAN).await;
    let mut sent = areq();
    sent["purchaseAmount"] = json!("100001");
    let before = app.state.clock.now();
    let (_, ares) = send(&app, &ds, &sent).await;
    assert_eq!(ares["transStatus"], "C", "{ares}");
    assert_eq!(
        ares["acsURL"],
        format!("{}/3ds/acs/challenge", app.state.config.issuer)
    );
    assert_eq!(ares["acsChallengeMandated"], "Y");
    assert!(ares.get("eci").is_none() && ares.get("authenticationValue").is_none());
    let stored = app
        .state
        .store
        .acs_transaction(ares["acsTransID"].as_str().unwrap(), app.state.clock.now())
        .await
        .unwrap()
        .unwrap();
    let challenge = stored.data.challenge.as_ref().unwrap();
    assert_eq!(challenge.state, ChallengeState::AwaitingCreq);
    assert!(challenge.due_at >= before + time::Duration::seconds(30));
    let purchase = stored.data.purchase.as_ref().unwrap();
    assert_eq!(
        (purchase.amount.as_str(), purchase.currency.as_str()),
        ("100001", "643")
    );
}

#[tokio::test]
async fn a_repeated_ds_transaction_id_is_erro_301_even_when_sent_at_once() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    enrol(&app, PAN).await;
    let sent = areq();
    let ((_, a), (_, b)) = tokio::join!(send(&app, &ds, &sent), send(&app, &ds, &sent));
    let mut kinds = [a["messageType"].clone(), b["messageType"].clone()];
    kinds.sort_by_key(|k| k.to_string());
    assert_eq!(kinds, [json!("ARes"), json!("Erro")], "{a}\n{b}");
    let erro = if a["messageType"] == "Erro" { a } else { b };
    assert_erro(&erro, "301", "dsTransID: ");
    let (_, again) = send(&app, &ds, &sent).await;
    assert_erro(&again, "301", "dsTransID: ");
    let mut fresh = areq();
    fresh["dsTransID"] = json!("997e20c5-76b7-4ee4-9e43-f2ba9dd90044");
    let (_, ares) = send(&app, &ds, &fresh).await;
    assert_eq!(ares["messageType"], "ARes");
}

#[tokio::test]
async fn cards_outside_the_ranges_or_not_enrolled_are_answered_n() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    let mut sent = areq();
    sent["acctNumber"] = json!(NOT_ENROLLED);
    let (_, ares) = send(&app, &ds, &sent).await;
    assert_eq!(
        (
            ares["transStatus"].as_str(),
            ares["transStatusReason"].as_str()
        ),
        (Some("N"), Some("13"))
    );
    sent["acctNumber"] = json!("5555555555554444");
    sent["dsTransID"] = json!("997e20c5-76b7-4ee4-9e43-f2ba9dd90044");
    let (_, ares) = send(&app, &ds, &sent).await;
    assert_eq!(
        (
            ares["transStatus"].as_str(),
            ares["transStatusReason"].as_str()
        ),
        (Some("N"), Some("08"))
    );
}

#[tokio::test]
async fn only_the_configured_ds_certificate_is_answered() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    let resp = post(&app, None, "application/json", areq().to_string()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_erro(&body_json(resp).await, "303", "");
    let other = ds_certificate("mallory.example");
    let resp = post(&app, Some(&other), "application/json", areq().to_string()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_erro(&body_json(resp).await, "303", "");
    assert!(app.state.store.enrolled_cards().await.unwrap().is_empty());
    let entries = app.audit_entries().await;
    let rejects: Vec<_> = entries
        .iter()
        .filter(|e| e.record.action == "3ds.reject")
        .collect();
    assert!(!rejects.is_empty());
    assert!(
        rejects[0]
            .record
            .reason
            .as_deref()
            .unwrap()
            .starts_with("Erro 303"),
        "{rejects:?}"
    );
}

#[tokio::test]
async fn each_bad_message_is_answered_by_its_erro_and_stores_nothing() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    let mut bad = areq();
    bad["purchaseAmount"] = json!("12.34");
    let (status, erro) = send(&app, &ds, &bad).await;
    assert_eq!(status, StatusCode::OK);
    assert_erro(&erro, "203", "purchaseAmount: ");
    assert_eq!(erro["threeDSServerTransID"], bad["threeDSServerTransID"]);
    assert_eq!(erro["errorMessageType"], "AReq");

    let mut no_ds = areq();
    no_ds.as_object_mut().unwrap().remove("dsTransID");
    no_ds.as_object_mut().unwrap().remove("dsReferenceNumber");
    let (_, erro) = send(&app, &ds, &no_ds).await;
    assert_erro(&erro, "201", "dsTransID,dsReferenceNumber: ");

    let mut old = areq();
    old["messageVersion"] = json!("2.1.0");
    let (_, erro) = send(&app, &ds, &old).await;
    assert_erro(&erro, "102", "messageVersion");
    assert_eq!(
        erro["messageVersion"], "2.3.1",
        "answered in a version this ACS accepts"
    );

    let ares = json!({"messageType": "ARes", "messageVersion": "2.2.0"});
    let (_, erro) = send(&app, &ds, &ares).await;
    assert_erro(&erro, "101", "messageType");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shonin-3ds/tests/vectors/visa/3DSS-220-101/ares.json"
    );
    let valid_ares: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let (_, erro) = send(&app, &ds, &valid_ares).await;
    assert_erro(&erro, "101", "messageType");
    assert_eq!(erro["errorMessageType"], "ARes");

    let resp = post(&app, Some(&ds), "text/plain", areq().to_string()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_erro(&body_json(resp).await, "101", "");

    let (_, erro) = send(&app, &ds, &json!("not an object")).await;
    assert_erro(&erro, "101", "");
    // Nothing was stored for any of them.
    let due = app
        .state
        .store
        .due_challenges(app.state.clock.now() + time::Duration::days(1), 10)
        .await
        .unwrap();
    assert!(due.is_empty());
}

#[tokio::test]
async fn without_the_acs_configured_the_endpoint_does_not_exist() {
    let app = TestApp::new().await;
    let resp = app
        .send(
            Request::post("/3ds/acs/areq")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_card_number_is_written_to_the_database_or_the_audit_log() {
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    enrol(&app, PAN).await;
    for (amount, id) in [("63551", "1"), ("100001", "2")] {
        let mut sent = areq();
        sent["purchaseAmount"] = json!(amount);
        sent["dsTransID"] = json!(format!("897e20c5-76b7-4ee4-9e43-f2ba9dd9004{id}"));
        send(&app, &ds, &sent).await;
    }
    let mut bad = areq();
    bad["purchaseCurrency"] = json!("RUB");
    send(&app, &ds, &bad).await;
    let entries = app.audit_entries().await;
    let audit = serde_json::to_string(&entries).unwrap();
    assert!(!audit.contains(PAN), "the audit log holds the card number");
    app.state.store.close().await;
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes()),
                "{} holds the card number",
                path.display()
            );
        }
    }
}

/// The first-CReq timer lives in the store: nothing fires before 30 s, the due transaction ends N
/// (14, `challengeCancel` 05) with its audit entry, and of two nodes firing at once one moves it.
#[tokio::test]
async fn a_challenge_nobody_continues_times_out_by_the_stored_timer() {
    use shonin_server::threeds::timers::fire_due;
    let ds = ds_certificate("ds.example");
    let app = app(&ds).await;
    enrol(&app, PAN).await;
    let mut sent = areq();
    sent["purchaseAmount"] = json!("100001");
    let (_, ares) = send(&app, &ds, &sent).await;
    assert_eq!(ares["transStatus"], "C");
    let id = ares["acsTransID"].as_str().unwrap();
    let now = app.state.clock.now();
    assert_eq!(
        fire_due(&app.state, now + time::Duration::seconds(29))
            .await
            .unwrap(),
        0
    );
    let at = now + time::Duration::seconds(31);
    let (a, b) = tokio::join!(fire_due(&app.state, at), fire_due(&app.state, at));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one node moves it");
    assert_eq!(fire_due(&app.state, at).await.unwrap(), 0, "fired once");
    let stored = app
        .state
        .store
        .acs_transaction(id, at)
        .await
        .unwrap()
        .unwrap();
    let challenge = stored.data.challenge.unwrap();
    assert_eq!(challenge.state, ChallengeState::Completed);
    let result = challenge.result.unwrap();
    assert_eq!(
        (
            result.status,
            result.reason.as_deref(),
            result.challenge_cancel.as_deref()
        ),
        (TransStatus::N, Some("14"), Some("05"))
    );
    assert_eq!(stored.version, 2);
    let entries = app.audit_entries().await;
    let fired: Vec<_> = entries
        .iter()
        .filter(|e| e.record.action == "3ds.challenge.timeout")
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].record.target, id);
    assert_eq!(
        fired[0].record.reason.as_deref(),
        Some("transStatus=N reason=14 challengeCancel=05")
    );
}

/// EMV 3DS §6.1: each scheme's directory has its own PKI. With a `schemes.visa` link, a Visa card
/// comes only through the Visa DS; the top-level DS still reaches the ACS (303 for this card,
/// from component A), and a stranger is refused before anything is read.
#[tokio::test]
async fn a_scheme_with_its_own_link_is_served_only_through_its_own_ds() {
    use shonin_3ds::settings::LinkSettings;
    let visa_ds = ds_certificate("visa-ds.example");
    let other_ds = ds_certificate("other-ds.example");
    let mut s = settings(&other_ds);
    s.schemes.insert(
        "visa".into(),
        LinkSettings {
            ds_certificate_thumbprints: vec![visa_ds.thumbprint.clone()],
            ..LinkSettings::default()
        },
    );
    let app = TestApp::with(move |c| c.threeds.acs = Some(s)).await;
    enrol(&app, PAN).await;
    let (status, body) = send(&app, &other_ds, &areq()).await;
    assert_eq!(status, StatusCode::OK);
    assert_erro(
        &body,
        "303",
        "this card's scheme is not served through this Directory Server",
    );
    let (status, ares) = send(&app, &visa_ds, &areq()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ares["messageType"], "ARes", "{ares}");

    let mut bad = settings(&other_ds);
    bad.schemes.insert("diners".into(), LinkSettings::default());
    assert!(bad.validate().unwrap_err().1.contains("`diners`"));
}
