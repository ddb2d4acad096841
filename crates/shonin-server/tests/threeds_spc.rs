//! EMV 3DS 2.3.1 Secure Payment Confirmation at the ACS: an AReq from a requestor that supports
//! SPC is answered S with `spcTransData` and `webAuthnCredList`; the requestor runs
//! `PaymentRequest` as an EMV 3DS web SDK does (here: the testkit's software authenticator, as
//! headless Chromium cannot show the SPC dialog); the follow-up AReq carries the assertion and
//! is answered Y with ECI and authentication value — once. Every way the signed payment can
//! differ from the stored purchase answers N; a requestor whose SPC failed gets the ordinary
//! challenge.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::passkey::enrolled;
use common::scheme_pki::SchemePki;
use common::{TestApp, body_json};
use serde_json::{Value, json};
use shonin_3ds::acs::spc::Instrument;
use shonin_3ds::{Message, TransStatus, Versions};
use shonin_tls::ConnectionInfo;
use std::sync::Arc;
use tower::ServiceExt;

const PAN: &str = "4012000000006013";
const SHOP: &str = "https://merchant.example";
const CARD_NAME: &str = "Shonin Visa ••6013";
const ICON: &str = "https://bank.example/card.png";

struct World {
    app: TestApp,
    ds_der: rustls::pki_types::CertificateDer<'static>,
    auth: shonin_testkit::Authenticator,
    _pki_dir: tempfile::TempDir,
}

async fn world(spc: bool) -> World {
    world_rules(spc, false).await
}

/// With `new_browser`, the ACS challenges browsers the card has not passed a challenge in.
async fn world_rules(spc: bool, new_browser: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = SchemePki::new(dir.path());
    let ds_thumbprint = pki.server("ds");
    let ds_der = pki.der("ds");
    let mut settings = common::acs::settings(ds_thumbprint);
    settings.risk.challenge_new_browser = new_browser;
    settings.spc = spc.then(|| Instrument {
        display_name: CARD_NAME.into(),
        icon: ICON.into(),
    });
    let app = TestApp::with(move |c| c.threeds.acs = Some(settings)).await;
    let (user, auth) = enrolled(&app, "alice").await;
    common::acs::enrol_card(&app, &user.id, PAN).await;
    World {
        app,
        ds_der,
        auth,
        _pki_dir: dir,
    }
}

/// A 2.3.1 browser AReq for 1,500.00 RUB (challenged) from a requestor that supports SPC.
fn areq() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json"
    );
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let m = v.as_object_mut().unwrap();
    for key in [
        "threeDSRequestorAuthenticationInfo",
        "threeDSRequestorPriorAuthenticationInfo",
    ] {
        m.remove(key);
    }
    v["messageVersion"] = json!("2.3.1");
    v["threeDSRequestorChallengeInd"] = json!(["01"]);
    v["acceptLanguage"] = json!(["en"]);
    v["acquirerCountryCode"] = json!("643");
    v["acquirerCountryCodeSource"] = json!("01");
    v["threeDSRequestorURL"] = json!("https://merchant.example/");
    v["acctNumber"] = json!(PAN);
    v["dsReferenceNumber"] = json!("DSServerRef123456");
    v["purchaseAmount"] = json!("150000");
    v["merchantName"] = json!("Tokyo Books");
    v["threeDSRequestorSpcSupport"] = json!("Y");
    v["payeeOrigin"] = json!(SHOP);
    v
}

impl World {
    /// Sends `areq` (with a fresh dsTransID) as the DS over mutual TLS; the answer.
    async fn send(&self, mut areq: Value) -> Value {
        areq["dsTransID"] = json!(uuid::Uuid::new_v4().to_string());
        let mut req = Request::post("/3ds/acs/areq")
            .header("content-type", "application/json")
            .body(Body::from(areq.to_string()))
            .unwrap();
        req.extensions_mut().insert(ConnectionInfo {
            peer_addr: "192.0.2.10:40000".parse().unwrap(),
            tls: true,
            client_cert_chain: Some(Arc::from(vec![self.ds_der.clone()])),
        });
        body_json(self.app.router.clone().oneshot(req).await.unwrap()).await
    }

    /// What a 3DS web SDK does with an ARes S: `PaymentRequest` from `spcTransData` and
    /// `webAuthnCredList` with the purchase's alphabetic currency; the credential as the SDK
    /// serialises it (`rawId`, no `id`).
    fn run_spc(&mut self, ares: &Value, currency: &str, value: Option<&str>) -> String {
        let data = &ares["spcTransData"];
        let list = ares["webAuthnCredList"].as_array().unwrap();
        let request = json!({
            "methodData": [{
                "supportedMethods": "secure-payment-confirmation",
                "data": {
                    "credentialIds": list.iter().map(|c| c["credentialIds"].clone()).collect::<Vec<_>>(),
                    "challenge": data["challenge"],
                    "timeout": data["timeout"],
                    "payeeOrigin": data["payeeOrigin"],
                    "rpId": list[0]["rpID"],
                    "instrument": {"displayName": data["displayName"], "icon": data["icon"]},
                }
            }],
            "details": {"total": {"label": "Total", "amount": {
                "currency": currency,
                "value": value.map_or(data["value"].clone(), |v| json!(v)),
            }}}
        });
        let mut credential = self
            .auth
            .secure_payment_confirmation(&request, SHOP, SHOP)
            .unwrap();
        credential.as_object_mut().unwrap().remove("id");
        credential.to_string()
    }
}

/// The follow-up AReq carrying `credential` for the transaction `prior` answered S.
fn follow_up(prior: &Value, credential: &str) -> Value {
    let mut v = areq();
    v["threeDSRequestorAuthenticationInfo"] = json!([{
        "threeDSReqAuthMethod": "09",
        "threeDSReqAuthData": credential,
    }]);
    v["threeDSRequestorPriorAuthenticationInfo"] = json!([{
        "threeDSReqPriorRef": prior["acsTransID"],
        "threeDSReqPriorAuthMethod": "05",
    }]);
    v
}

fn assert_valid_ares(ares: &Value) {
    match shonin_3ds::check(ares.to_string().as_bytes(), Versions::ALL) {
        Ok(Message::ARes(_)) => {}
        other => panic!("not a valid ARes: {other:?}\n{ares}"),
    }
}

#[tokio::test]
async fn an_spc_requestor_gets_s_and_the_signed_purchase_authenticates_once() {
    let mut w = world(true).await;
    let s = w.send(areq()).await;
    assert_eq!(s["transStatus"], "S", "{s}");
    assert_valid_ares(&s);
    assert!(s.get("acsURL").is_none(), "{s}");
    assert_eq!(s["authenticationMethod"], json!(["14"]));
    let data = &s["spcTransData"];
    assert_eq!(data["payeeOrigin"], SHOP);
    assert_eq!(data["value"], "1500.00");
    assert_eq!(data["currency"], "643");
    assert_eq!(data["displayName"], CARD_NAME);
    assert_eq!(data["icon"], ICON);
    assert_eq!(data["challenge"].as_str().unwrap().len(), 43);
    let creds = s["webAuthnCredList"].as_array().unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0]["rpID"], "localhost");

    let credential = w.run_spc(&s, "RUB", None);
    let y = w.send(follow_up(&s, &credential)).await;
    assert_eq!(y["transStatus"], "Y", "{y}");
    assert_valid_ares(&y);
    assert_eq!(y["eci"], "05");
    assert!(
        y["authenticationValue"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(y["authenticationMethod"], json!(["14"]));
    assert_ne!(y["acsTransID"], s["acsTransID"]);
    // The new transaction is stored Y for the card's holder.
    use shonin_3ds::acs::store::AcsStore;
    let stored = w
        .app
        .state
        .store
        .acs_transaction(y["acsTransID"].as_str().unwrap(), w.app.state.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.trans_status, TransStatus::Y);
    let entries = w.app.audit_entries().await;
    assert!(
        entries.iter().any(|e| e.record.action == "3ds.authenticate"
            && e.record
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("transStatus=Y by SPC") && r.contains(SHOP))),
        "no audit entry for the SPC result"
    );

    // The same assertion again (a new dsTransID): the challenge was answered.
    let again = w.send(follow_up(&s, &credential)).await;
    assert_eq!(again["messageType"], "Erro", "{again}");
    assert_eq!(again["errorCode"], "305");
    assert!(
        again["errorDetail"]
            .as_str()
            .unwrap()
            .contains("threeDSReqPriorRef")
    );
}

#[tokio::test]
async fn a_signed_payment_that_differs_from_the_stored_purchase_answers_n() {
    let mut w = world(true).await;
    // The dialog showed another amount, or another currency: the signed total differs.
    for (currency, value) in [("RUB", Some("15.00")), ("USD", None)] {
        let s = w.send(areq()).await;
        let credential = w.run_spc(&s, currency, value);
        let n = w.send(follow_up(&s, &credential)).await;
        assert_eq!(n["transStatus"], "N", "{currency} {value:?}: {n}");
        assert_eq!(n["transStatusReason"], "01");
        assert!(n.get("authenticationValue").is_none());
        assert_valid_ares(&n);
    }
    // The follow-up names another amount than the S offered.
    let s = w.send(areq()).await;
    let credential = w.run_spc(&s, "RUB", None);
    let mut other = follow_up(&s, &credential);
    other["purchaseAmount"] = json!("150001");
    let n = w.send(other).await;
    assert_eq!(n["transStatus"], "N", "{n}");
    assert!(
        n["transStatusReasonInfo"]
            .as_str()
            .unwrap()
            .contains("purchase")
    );
    // That used the challenge: the right follow-up comes too late.
    let late = w.send(follow_up(&s, &credential)).await;
    assert_eq!(late["errorCode"], "305", "{late}");
    // A plain WebAuthn assertion over the same challenge (a sign-in ceremony) is not an SPC one.
    let s = w.send(areq()).await;
    let options = json!({"publicKey": {
        "challenge": s["spcTransData"]["challenge"],
        "rpId": "localhost",
        "allowCredentials": [{"type": "public-key", "id": s["webAuthnCredList"][0]["credentialIds"]}],
    }});
    let plain = w.auth.authenticate(&options, SHOP).unwrap();
    let n = w.send(follow_up(&s, &plain.to_string())).await;
    assert_eq!(n["transStatus"], "N", "{n}");
    assert!(
        n["transStatusReasonInfo"]
            .as_str()
            .unwrap()
            .contains("type"),
        "{n}"
    );
}

#[tokio::test]
async fn follow_ups_that_name_no_spc_challenge_are_refused() {
    let mut w = world(true).await;
    let s = w.send(areq()).await;
    let credential = w.run_spc(&s, "RUB", None);
    // Unknown prior transaction.
    let mut unknown = s.clone();
    unknown["acsTransID"] = json!(uuid::Uuid::new_v4().to_string());
    let e = w.send(follow_up(&unknown, &credential)).await;
    assert_eq!(e["errorCode"], "305", "{e}");
    // A prior transaction that was not answered S (a frictionless one).
    let mut small = areq();
    small["purchaseAmount"] = json!("1000");
    small
        .as_object_mut()
        .unwrap()
        .remove("threeDSRequestorSpcSupport");
    let y = w.send(small).await;
    assert_eq!(y["transStatus"], "Y", "{y}");
    let e = w.send(follow_up(&y, &credential)).await;
    assert_eq!(e["errorCode"], "305", "{e}");
    // No assertion, or not JSON: 201 and 203 naming the element.
    let mut missing = follow_up(&s, &credential);
    missing["threeDSRequestorAuthenticationInfo"][0]
        .as_object_mut()
        .unwrap()
        .remove("threeDSReqAuthData");
    let e = w.send(missing).await;
    assert_eq!(e["errorCode"], "201", "{e}");
    let e = w.send(follow_up(&s, "not json")).await;
    assert_eq!(e["errorCode"], "203", "{e}");
    // None of those used the challenge.
    let y = w.send(follow_up(&s, &credential)).await;
    assert_eq!(y["transStatus"], "Y", "{y}");
}

#[tokio::test]
async fn without_spc_the_challenge_is_the_ordinary_one() {
    // The requestor's SPC failed (spcIncompInd), or it does not support SPC, or 2.2.0.
    let w = world(true).await;
    let mut failed = areq();
    failed["spcIncompInd"] = json!("02");
    let mut unsupported = areq();
    unsupported
        .as_object_mut()
        .unwrap()
        .remove("threeDSRequestorSpcSupport");
    for a in [failed, unsupported] {
        let c = w.send(a).await;
        assert_eq!(c["transStatus"], "C", "{c}");
        assert_eq!(
            c["authenticationMethod"],
            json!(["13"]),
            "2.3.1 names WebAuthn"
        );
        assert!(c["acsURL"].as_str().is_some());
        assert!(c.get("spcTransData").is_none());
        assert_valid_ares(&c);
    }
    // SPC not configured at the ACS.
    let w = world(false).await;
    let c = w.send(areq()).await;
    assert_eq!(c["transStatus"], "C", "{c}");
}

#[tokio::test]
async fn a_browser_that_passed_spc_is_known_to_the_new_browser_rule() {
    let mut w = world_rules(true, true).await;
    let mut small = areq();
    small["purchaseAmount"] = json!("1000");
    // 10.00 RUB passes the amount rule, but the browser is new: SPC.
    let s = w.send(small.clone()).await;
    assert_eq!(s["transStatus"], "S", "{s}");
    let credential = w.run_spc(&s, "RUB", None);
    let mut follow = follow_up(&s, &credential);
    follow["purchaseAmount"] = json!("1000");
    let y = w.send(follow).await;
    assert_eq!(y["transStatus"], "Y", "{y}");
    // The same browser: frictionless now. Another one: SPC again.
    let again = w.send(small.clone()).await;
    assert_eq!(again["transStatus"], "Y", "{again}");
    let mut other = small;
    other["browserUserAgent"] = json!("Mozilla/5.0 (another browser)");
    let s = w.send(other).await;
    assert_eq!(s["transStatus"], "S", "{s}");
}
