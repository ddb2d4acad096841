//! The ACS's browser challenge end to end: AReq → ARes C → the CReq form → the challenge page →
//! a software passkey signs the purchase → the final CRes, with the RReq delivered over mutual
//! TLS to a DS listener of the test (a real rustls server through `shonin_tls::serve`). Also:
//! wrong signatures until N 19, cancel, the 30 s timer, an invalid CReq (Erro to the requestor
//! and RReq U 06), a replayed CReq, a wrong answer token, and no results link configured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::passkey::{data_attr, enrolled};
use common::scheme_pki::{Delivered, Received, SchemePki};
use common::{TestApp, body_json, body_text};
use serde_json::{Value, json};
use shonin_3ds::acs::auth_value::{self, AuthValueInput};
use shonin_3ds::acs::store::AcsStore;
use shonin_3ds::{Message, TransStatus, Versions};
use shonin_tls::ConnectionInfo;
use std::sync::Arc;
use tower::ServiceExt;

const PAN: &str = "4012000000006013";
const SESSION_DATA: &str = "c2Vzc2lvbi0x";
const WEBHOOK_SECRET: &str = "a-webhook-secret-of-at-least-32-bytes!!";
/// Carol's card: she has no passkey.
const CAROL_PAN: &str = "4012000000006021";

struct World {
    app: TestApp,
    received: Received,
    ds_url: String,
    acs_client_thumbprint: String,
    ds_der: rustls::pki_types::CertificateDer<'static>,
    user: shonin_identity::User,
    auth: shonin_testkit::Authenticator,
    _pki_dir: tempfile::TempDir,
}

async fn world(results: bool) -> World {
    world_with(results, None).await
}

/// With `alerts`, the operator's webhook goes to the receiver on that port (`secret`).
async fn world_with(results: bool, alerts: Option<u16>) -> World {
    world_rules(results, alerts, false).await
}

/// With `new_browser`, the ACS challenges browsers the card has not passed a challenge in.
async fn world_rules(results: bool, alerts: Option<u16>, new_browser: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = SchemePki::new(dir.path());
    let ds_thumbprint = pki.server("ds");
    let acs_client_thumbprint = pki.client("acs");
    let (ds_url, received) = pki.results_listener("ds").await;
    let ds_der = pki.der("ds");
    let mut settings = common::acs::settings(ds_thumbprint);
    settings.risk.challenge_new_browser = new_browser;
    if results {
        settings.results_ca_file = Some(pki.path("ca.pem"));
        settings.results_certificate_file = Some(pki.path("acs.pem"));
        settings.results_key_file = Some(pki.path("acs.key"));
    }
    let app = TestApp::with(move |c| {
        c.threeds.acs = Some(settings);
        if let Some(port) = alerts {
            common::webhook::alerts_to(c, port, WEBHOOK_SECRET);
        }
    })
    .await;
    let (user, auth) = enrolled(&app, "alice").await;
    common::acs::enrol_card(&app, &user.id, PAN).await;
    World {
        app,
        received,
        ds_url,
        acs_client_thumbprint,
        ds_der,
        user,
        auth,
        _pki_dir: dir,
    }
}

impl World {
    /// An AReq over 1,000.00 RUB (challenged), through the DS; the ARes.
    async fn areq(&self) -> Value {
        self.areq_for(PAN).await
    }

    async fn areq_for(&self, pan: &str) -> Value {
        let ares = self.send_areq(pan, "150000", None).await;
        assert_eq!(ares["transStatus"], "C", "{ares}");
        ares
    }

    /// Sends, as the DS over mutual TLS, the AReq for card `pan` and `amount` (minor units, RUB)
    /// from the browser whose user agent is `agent` (the sample's when `None`); the answer.
    async fn send_areq(&self, pan: &str, amount: &str, agent: Option<&str>) -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json"
        );
        let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["acctNumber"] = json!(pan);
        v["dsTransID"] = json!(uuid::Uuid::new_v4().to_string());
        v["dsReferenceNumber"] = json!("DSServerRef123456");
        v["dsURL"] = json!(self.ds_url);
        v["threeDSRequestorChallengeInd"] = json!("01");
        v["purchaseAmount"] = json!(amount);
        v["merchantName"] = json!("Books <&> Co");
        if let Some(agent) = agent {
            v["browserUserAgent"] = json!(agent);
        }
        let mut req = Request::post("/3ds/acs/areq")
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap();
        req.extensions_mut().insert(ConnectionInfo {
            peer_addr: "192.0.2.10:40000".parse().unwrap(),
            tls: true,
            client_cert_chain: Some(Arc::from(vec![self.ds_der.clone()])),
        });
        body_json(self.app.router.clone().oneshot(req).await.unwrap()).await
    }

    async fn creq_form(&self, creq: &Value, session_data: Option<&str>) -> Response<Body> {
        let mut form = format!("creq={}", URL_SAFE_NO_PAD.encode(creq.to_string()));
        if let Some(s) = session_data {
            form.push_str(&format!("&threeDSSessionData={s}"));
        }
        self.app
            .send(
                Request::post("/3ds/acs/challenge")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
    }

    /// Posts the CReq of `ares`; the challenge page.
    async fn challenge(&self, ares: &Value) -> String {
        let resp = self.creq_form(&creq(ares), Some(SESSION_DATA)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        body_text(resp).await
    }

    async fn answer(&self, body: Value) -> (StatusCode, Value) {
        let resp = self
            .app
            .send(
                Request::post("/3ds/acs/challenge/answer")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        let status = resp.status();
        (status, body_json(resp).await)
    }

    /// Starts the challenge of `ares` and confirms it with alice's passkey; the answer.
    async fn confirm_with_passkey(&mut self, ares: &Value) -> Value {
        let page = self.challenge(ares).await;
        let options: Value = serde_json::from_str(&data_attr(&page, "options")).unwrap();
        let assertion = self
            .auth
            .authenticate(&options, common::oauth::ISSUER)
            .unwrap();
        let (status, done) = self
            .answer(answer_body(ares, &page, "confirm", Some(assertion)))
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        done
    }

    fn rreqs(&self) -> Vec<Delivered> {
        self.received.all()
    }

    async fn actions(&self) -> Vec<(String, shonin_audit::Outcome, String)> {
        self.app
            .audit_entries()
            .await
            .into_iter()
            .map(|e| {
                (
                    e.record.action,
                    e.record.outcome,
                    e.record.reason.unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn creq(ares: &Value) -> Value {
    json!({
        "threeDSServerTransID": ares["threeDSServerTransID"],
        "acsTransID": ares["acsTransID"],
        "messageType": "CReq",
        "messageVersion": ares["messageVersion"],
        "challengeWindowSize": "05",
    })
}

fn decoded(field: &str) -> Message {
    let bytes = URL_SAFE_NO_PAD.decode(field).unwrap();
    shonin_3ds::check(&bytes, Versions::ALL).unwrap()
}

fn answer_body(ares: &Value, page: &str, action: &str, assertion: Option<Value>) -> Value {
    let mut body = json!({
        "acsTransID": ares["acsTransID"],
        "token": data_attr(page, "token"),
        "action": action,
    });
    if let Some(a) = assertion {
        body["assertion"] = a;
    }
    body
}

#[tokio::test]
async fn a_passkey_signs_the_purchase_and_the_rreq_and_final_cres_say_y() {
    let mut w = world(true).await;
    let ares = w.areq().await;
    assert_eq!(
        ares["acsURL"],
        format!("{}/3ds/acs/challenge", w.app.state.config.issuer)
    );
    let resp = w.creq_form(&creq(&ares), Some(SESSION_DATA)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The page is framed by the merchant's checkout and posts to its notificationURL.
    let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors https:"), "{csp}");
    assert!(
        csp.contains("form-action 'self' https://www.visa.ru"),
        "{csp}"
    );
    assert!(resp.headers().get(header::X_FRAME_OPTIONS).is_none());
    let page = body_text(resp).await;
    // The stored purchase, escaped, with the amount in its own exponent, and the masked card.
    assert!(page.contains("Books &#60;&#38;&#62; Co"), "{page}");
    assert!(page.contains("1,500.00 RUB"), "{page}");
    assert!(page.contains("401200******6013"), "{page}");
    assert!(!page.contains(PAN));
    assert!(
        page.contains(r#"action="https://www.visa.ru/notify""#),
        "{page}"
    );
    assert!(page.contains(&format!(r#"value="{SESSION_DATA}""#)));

    // The options allow only alice's passkey and carry the purchase's challenge.
    let options: Value = serde_json::from_str(&data_attr(&page, "options")).unwrap();
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], w.auth.credential_ids()[0]);
    let acs_trans_id = ares["acsTransID"].as_str().unwrap();
    let stored = w
        .app
        .state
        .store
        .acs_transaction(acs_trans_id, w.app.state.clock.now())
        .await
        .unwrap()
        .unwrap();
    let challenge = stored.data.challenge.as_ref().unwrap();
    let expected = shonin_3ds::acs::PurchaseChallenge {
        acs_trans_id,
        purchase: stored.data.purchase.as_ref().unwrap(),
        nonce: &challenge.page.as_ref().unwrap().nonce,
        expires_at: challenge.due_at.unix_timestamp(),
    }
    .challenge();
    assert_eq!(
        options["publicKey"]["challenge"],
        URL_SAFE_NO_PAD.encode(expected)
    );
    // The answer token is kept only as its digest.
    assert!(
        !serde_json::to_string(&stored.data)
            .unwrap()
            .contains(&data_attr(&page, "token"))
    );

    let assertion = w
        .auth
        .authenticate(&options, common::oauth::ISSUER)
        .unwrap();
    let (status, done) = w
        .answer(answer_body(
            &ares,
            &page,
            "confirm",
            Some(assertion.clone()),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["done"].as_bool(), done["transStatus"].as_str()),
        (Some(true), Some("Y"))
    );
    let Message::CRes(cres) = decoded(done["cres"].as_str().unwrap()) else {
        panic!("not a CRes")
    };
    assert_eq!(cres.trans_status, Some(TransStatus::Y));
    assert_eq!(cres.challenge_completion_ind.as_deref(), Some("Y"));
    assert_eq!(cres.acs_trans_id, acs_trans_id);

    // One RReq, over mutual TLS with the ACS's client certificate, Y with ECI and a value that
    // verifies under the ACS's key for this card and purchase.
    let rreqs = w.rreqs();
    assert_eq!(rreqs.len(), 1);
    let (rreq, client) = &rreqs[0];
    assert_eq!(client.as_deref(), Some(w.acs_client_thumbprint.as_str()));
    let Message::RReq(r) = shonin_3ds::check(rreq.to_string().as_bytes(), Versions::ALL).unwrap()
    else {
        panic!("not an RReq")
    };
    assert_eq!(r.trans_status, Some(TransStatus::Y));
    assert_eq!(r.eci.as_deref(), Some("05"));
    assert_eq!(r.interaction_counter.as_deref(), Some("01"));
    assert_eq!(r.ds_trans_id, ares["dsTransID"].as_str().unwrap());
    let acs = w.app.state.acs.as_ref().unwrap();
    let input = AuthValueInput {
        status: TransStatus::Y,
        eci: "05",
        ds_trans_id: &r.ds_trans_id,
        acs_trans_id,
        card: &stored.card_fingerprint,
        purchase_amount: Some("150000"),
        purchase_currency: Some("643"),
    };
    assert!(
        auth_value::verify(
            acs.value_key.as_ref(),
            &input,
            r.authentication_value.as_deref().unwrap()
        )
        .await
    );

    let actions = w.actions().await;
    for action in ["3ds.challenge.start", "3ds.challenge.answer", "3ds.results"] {
        assert!(
            actions
                .iter()
                .any(|(a, o, _)| a == action && *o == shonin_audit::Outcome::Success),
            "{action}: {actions:?}"
        );
    }

    // Afterwards: the same assertion again gets the same final CRes and nothing moves; the
    // CReq replayed is refused (305) on an error page and logged.
    let (_, again) = w
        .answer(answer_body(&ares, &page, "confirm", Some(assertion)))
        .await;
    assert_eq!(again["cres"], done["cres"]);
    assert_eq!(w.rreqs().len(), 1, "one RReq");
    let replay = w.creq_form(&creq(&ares), None).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(
        w.actions()
            .await
            .iter()
            .any(|(a, _, r)| a == "3ds.reject" && r.contains("Erro 305")),
    );
    let _ = &w.user;
}

#[tokio::test]
async fn wrong_signatures_end_n_19_and_a_foreign_passkey_does_not_count_as_alice() {
    let mut w = world(true).await;
    let ares = w.areq().await;
    let page = w.challenge(&ares).await;
    let mut options: Value = serde_json::from_str(&data_attr(&page, "options")).unwrap();
    // The passkey signs another purchase's challenge: refused, attempts count down.
    options["publicKey"]["challenge"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    for left in [2, 1] {
        let wrong = w
            .auth
            .authenticate(&options, common::oauth::ISSUER)
            .unwrap();
        let (status, pending) = w
            .answer(answer_body(&ares, &page, "confirm", Some(wrong)))
            .await;
        assert_eq!(status, StatusCode::OK, "{pending}");
        assert_eq!(pending["done"], false);
        assert_eq!(pending["attemptsLeft"], left);
    }
    assert!(w.rreqs().is_empty());
    let (_, done) = w
        .answer(answer_body(
            &ares,
            &page,
            "confirm",
            Some(json!({"type": "nonsense"})),
        ))
        .await;
    assert_eq!(done["transStatus"], "N", "{done}");
    let rreqs = w.rreqs();
    assert_eq!(rreqs.len(), 1);
    assert_eq!(rreqs[0].0["transStatus"], "N");
    assert_eq!(rreqs[0].0["transStatusReason"], "19");
    assert_eq!(rreqs[0].0["interactionCounter"], "03");
    assert!(rreqs[0].0.get("authenticationValue").is_none());
    let refused: Vec<_> = w
        .actions()
        .await
        .into_iter()
        .filter(|(a, o, _)| a == "3ds.challenge.answer" && *o == shonin_audit::Outcome::Failure)
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");

    // Bob's passkey on bob's challenge page cannot answer alice's.
    let ares = w.areq().await;
    let page = w.challenge(&ares).await;
    let options: Value = serde_json::from_str(&data_attr(&page, "options")).unwrap();
    let (bob, mut bob_auth) = enrolled(&w.app, "bob").await;
    let mut bob_options = options.clone();
    bob_options["publicKey"]["allowCredentials"] = json!([]);
    let foreign = bob_auth
        .authenticate(&bob_options, common::oauth::ISSUER)
        .unwrap();
    let (_, pending) = w
        .answer(answer_body(&ares, &page, "confirm", Some(foreign)))
        .await;
    assert_eq!(pending["done"], false, "{pending}");
    assert!(
        w.actions()
            .await
            .iter()
            .any(|(_, _, r)| r.contains("credential_of_another_user")),
        "bob {}",
        bob.id
    );
}

#[tokio::test]
async fn cancel_ends_n_01_and_a_wrong_token_moves_nothing() {
    let w = world(true).await;
    let ares = w.areq().await;
    let page = w.challenge(&ares).await;
    let mut forged = answer_body(&ares, &page, "cancel", None);
    forged["token"] = json!("AAAA");
    let (status, problem) = w.answer(forged).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["error"], "unknown_challenge");
    assert!(w.rreqs().is_empty());
    assert!(
        w.actions()
            .await
            .iter()
            .any(|(a, _, r)| a == "3ds.reject" && r.contains("wrong token"))
    );
    let (status, bad) = w.answer(json!({"acsTransID": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let resp = w
        .app
        .send(
            Request::post("/3ds/acs/challenge/answer")
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from(
                    answer_body(&ares, &page, "cancel", None).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let refusals: Vec<_> = w
        .actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "3ds.reject")
        .collect();
    assert!(
        refusals.iter().any(|(_, _, r)| r.contains("wrong token")),
        "{refusals:?}"
    );
    assert!(w.rreqs().is_empty(), "nothing moved");

    let (_, done) = w.answer(answer_body(&ares, &page, "cancel", None)).await;
    assert_eq!(done["transStatus"], "N", "{done}");
    let Message::CRes(cres) = decoded(done["cres"].as_str().unwrap()) else {
        panic!()
    };
    assert_eq!(cres.trans_status, Some(TransStatus::N));
    let rreqs = w.rreqs();
    assert_eq!(rreqs[0].0["challengeCancel"], "01");
    assert_eq!(rreqs[0].0["interactionCounter"], "00");
}

#[tokio::test]
async fn the_first_creq_timer_sends_rreq_n_14_05_and_a_late_creq_is_refused() {
    use shonin_server::threeds::timers::fire_due;
    let w = world(true).await;
    let ares = w.areq().await;
    let now = w.app.state.clock.now();
    assert_eq!(
        fire_due(&w.app.state, now + time::Duration::seconds(31))
            .await
            .unwrap(),
        1
    );
    let rreqs = w.rreqs();
    assert_eq!(rreqs.len(), 1);
    assert_eq!(
        (
            rreqs[0].0["transStatus"].as_str(),
            rreqs[0].0["transStatusReason"].as_str(),
            rreqs[0].0["challengeCancel"].as_str()
        ),
        (Some("N"), Some("14"), Some("05"))
    );
    let late = w.creq_form(&creq(&ares), None).await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(
        w.actions()
            .await
            .iter()
            .any(|(a, _, r)| a == "3ds.reject" && r.contains("Erro 402")),
    );
}

#[tokio::test]
async fn a_browser_the_card_passed_a_challenge_in_is_not_challenged_as_new_again() {
    let mut w = world_rules(true, None, true).await;
    let laptop = "Mozilla/5.0 (X11; Linux x86_64) laptop";
    // 10.00 RUB passes the amount rule; the browser is new: challenged.
    let ares = w.send_areq(PAN, "1000", Some(laptop)).await;
    assert_eq!(ares["transStatus"], "C", "{ares}");
    // A cancelled challenge proves nothing: still new.
    let page = w.challenge(&ares).await;
    w.answer(answer_body(&ares, &page, "cancel", None)).await;
    let ares = w.send_areq(PAN, "1000", Some(laptop)).await;
    assert_eq!(ares["transStatus"], "C", "{ares}");
    // Passed with the passkey: the browser is remembered with the card.
    let done = w.confirm_with_passkey(&ares).await;
    assert_eq!(done["transStatus"], "Y", "{done}");
    let again = w.send_areq(PAN, "1000", Some(laptop)).await;
    assert_eq!(again["transStatus"], "Y", "{again}");
    assert!(again["authenticationValue"].is_string());
    // Another browser is new; the known one is still challenged above the amount threshold.
    let phone = w
        .send_areq(PAN, "1000", Some("Mozilla/5.0 (iPhone) phone"))
        .await;
    assert_eq!(phone["transStatus"], "C", "{phone}");
    let large = w.send_areq(PAN, "150000", Some(laptop)).await;
    assert_eq!(large["transStatus"], "C", "{large}");
    // The store keeps the browser's keyed hash, never its user agent.
    w.app.state.store.close().await;
    let mut dirs = vec![w.app.dir.path().to_owned()];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(6).any(|w| w == b"laptop"),
                    "{}",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0);
}

/// The pending RReq of `ares`'s transaction at `now`.
async fn pending_rreq(
    w: &World,
    ares: &Value,
    now: time::OffsetDateTime,
) -> Option<shonin_3ds::acs::store::PendingResults> {
    w.app
        .state
        .store
        .acs_transaction(ares["acsTransID"].as_str().unwrap(), now)
        .await
        .unwrap()
        .unwrap()
        .data
        .results_pending
}

#[tokio::test]
async fn an_rreq_the_ds_did_not_take_is_sent_again_from_the_store_once_per_attempt() {
    use shonin_server::threeds::timers::fire_due;
    let w = world(true).await;
    w.received.fail_next(2);
    let ares = w.areq().await;
    let t0 = w.app.state.clock.now();
    let at = |s: i64| t0 + time::Duration::seconds(s);
    // The 30 s timer ends the challenge; the DS answers 503: attempt 2 is due 10 s later.
    assert_eq!(fire_due(&w.app.state, at(31)).await.unwrap(), 1);
    assert_eq!((w.received.refused(), w.rreqs().len()), (1, 0));
    let pending = pending_rreq(&w, &ares, at(31)).await.unwrap();
    assert_eq!((pending.attempts, pending.next_at), (1, at(41)));
    fire_due(&w.app.state, at(40)).await.unwrap();
    assert_eq!(w.received.refused(), 1, "not due yet");
    // Two nodes' workers at once: one claims the attempt, one request goes out (503 again).
    let (a, b) = tokio::join!(
        fire_due(&w.app.state, at(41)),
        fire_due(&w.app.state, at(41))
    );
    a.unwrap();
    b.unwrap();
    assert_eq!((w.received.refused(), w.rreqs().len()), (2, 0));
    let pending = pending_rreq(&w, &ares, at(41)).await.unwrap();
    assert_eq!((pending.attempts, pending.next_at), (2, at(71)));
    // Attempt 3 is taken: the same RReq, nothing pending, nothing due any more.
    fire_due(&w.app.state, at(71)).await.unwrap();
    let rreqs = w.rreqs();
    assert_eq!(rreqs.len(), 1);
    assert_eq!(rreqs[0].0["acsTransID"], ares["acsTransID"]);
    assert_eq!(rreqs[0].0["transStatus"], "N");
    assert_eq!(pending_rreq(&w, &ares, at(71)).await, None);
    fire_due(&w.app.state, at(5_000)).await.unwrap();
    assert_eq!((w.received.refused(), w.rreqs().len()), (2, 1));
    let deliveries: Vec<String> = w
        .actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "3ds.results")
        .map(|(_, _, r)| r)
        .collect();
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    assert!(
        deliveries[0].contains("attempt 1: HTTP 503; next attempt at"),
        "{deliveries:?}"
    );
    assert!(
        deliveries[1].contains("attempt 2: HTTP 503"),
        "{deliveries:?}"
    );
    assert!(
        deliveries[2].contains("attempt 3: RRes resultsStatus=01"),
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn an_rreq_the_ds_never_takes_is_given_up_after_six_attempts() {
    use shonin_server::threeds::timers::fire_due;
    let w = world(true).await;
    w.received.fail_next(100);
    let ares = w.areq().await;
    let t0 = w.app.state.clock.now();
    let mut at = t0 + time::Duration::seconds(31);
    fire_due(&w.app.state, at).await.unwrap();
    while let Some(p) = pending_rreq(&w, &ares, at).await {
        at = p.next_at;
        fire_due(&w.app.state, at).await.unwrap();
    }
    assert_eq!(w.received.refused(), 6);
    // 10 s, 30 s, 1, 5 and 15 minutes after each failure.
    assert_eq!(
        at - t0,
        time::Duration::seconds(31 + 10 + 30 + 60 + 300 + 900)
    );
    fire_due(&w.app.state, at + time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(w.received.refused(), 6);
    assert!(
        w.actions()
            .await
            .iter()
            .any(|(a, _, r)| a == "3ds.results"
                && r.contains("attempt 6: HTTP 503; no attempt left"))
    );
}

#[tokio::test]
async fn an_invalid_creq_of_a_waiting_transaction_posts_erro_and_sends_rreq_u_06() {
    let w = world(true).await;
    let ares = w.areq().await;
    let mut bad = creq(&ares);
    bad["challengeWindowSize"] = json!("09");
    let resp = w.creq_form(&bad, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body_text(resp).await;
    assert!(
        page.contains(r#"action="https://www.visa.ru/notify""#),
        "{page}"
    );
    let field = common::oauth::attribute_after(&page, r#"name="erro" value=""#);
    let Message::Erro(erro) = decoded(&field) else {
        panic!()
    };
    assert_eq!(erro.error_code, "203");
    assert_eq!(erro.error_component, "A");
    let rreqs = w.rreqs();
    assert_eq!(rreqs.len(), 1);
    assert_eq!(
        (
            rreqs[0].0["transStatus"].as_str(),
            rreqs[0].0["challengeCancel"].as_str()
        ),
        (Some("U"), Some("06"))
    );
    // Garbage that identifies nothing: an error page, nothing sent.
    let resp = w
        .app
        .send(
            Request::post("/3ds/acs/challenge")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("creq=%%%"))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.rreqs().len(), 1);
}

#[tokio::test]
async fn without_a_results_link_the_rreq_is_not_sent_and_the_audit_log_says_so() {
    let w = world(false).await;
    let ares = w.areq().await;
    let page = w.challenge(&ares).await;
    let (_, done) = w.answer(answer_body(&ares, &page, "cancel", None)).await;
    assert_eq!(done["done"], true);
    assert!(w.rreqs().is_empty());
    assert!(w.actions().await.iter().any(|(a, o, r)| a == "3ds.results"
        && *o == shonin_audit::Outcome::Failure
        && r.contains("not sent")));
}

/// The next `threeds.challenge_code` notification: its body, after checking its signature.
async fn next_code(rx: &mut tokio::sync::mpsc::Receiver<(String, Vec<u8>)>) -> Value {
    let (head, body) = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a webhook within 10 s")
        .unwrap();
    assert!(head.contains("shonin-signature: t="), "{head}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["event"], "threeds.challenge_code", "{v}");
    v
}

#[tokio::test]
async fn without_a_passkey_a_one_time_code_through_the_webhook_confirms_and_a_resend_replaces_it() {
    let (port, mut rx) = common::webhook::webhook_receiver().await;
    let w = world_with(true, Some(port)).await;
    let carol = common::acs::cardholder(&w.app, "carol", CAROL_PAN).await;

    let ares = w.areq_for(CAROL_PAN).await;
    let page = w.challenge(&ares).await;
    assert!(page.contains(r#"id="acs-code""#), "{page}");
    assert!(!page.contains(r#"id="acs-confirm""#));
    // The notification names the purchase with the code, and only the masked card.
    let sent = next_code(&mut rx).await;
    assert_eq!(sent["acs_trans_id"], ares["acsTransID"]);
    assert_eq!(sent["user_id"], carol.id);
    assert_eq!(sent["amount"], "1,500.00 RUB");
    assert_eq!(sent["merchant"], "Books <&> Co");
    assert_eq!(sent["card"], "401200******6021");
    let first = sent["code"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 6);

    // A wrong code counts; a resend replaces the code, and the first one stops working.
    let wrong = if first == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut body = answer_body(&ares, &page, "code", None);
    body["code"] = json!(wrong);
    let (_, pending) = w.answer(body).await;
    assert_eq!(pending["attemptsLeft"], 2, "{pending}");
    let (status, _) = w.answer(answer_body(&ares, &page, "resend", None)).await;
    assert_eq!(status, StatusCode::OK);
    let second = next_code(&mut rx).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    if second != first {
        let mut body = answer_body(&ares, &page, "code", None);
        body["code"] = json!(first);
        let (_, pending) = w.answer(body).await;
        assert_eq!(
            pending["attemptsLeft"], 1,
            "the replaced code is wrong now: {pending}"
        );
    }
    let (status, _) = w.answer(answer_body(&ares, &page, "resend", None)).await;
    assert_eq!(status, StatusCode::OK);
    let third = next_code(&mut rx).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, problem) = w.answer(answer_body(&ares, &page, "resend", None)).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "three codes at most: {problem}"
    );

    let mut body = answer_body(&ares, &page, "code", None);
    body["code"] = json!(format!("{} {}", &third[..3], &third[3..]));
    let (_, done) = w.answer(body).await;
    assert_eq!(done["transStatus"], "Y", "{done}");
    let rreq = &w.rreqs()[0].0;
    assert_eq!(rreq["transStatus"], "Y");
    assert_eq!(rreq["eci"], "05");

    // No code anywhere in the audit log.
    let entries = w.app.audit_entries().await;
    // (The entries' own text: hashes and IDs are left out, where six digits can occur by chance.)
    let text: String = entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {:?}\n",
                e.record.action, e.record.target, e.record.reason
            )
        })
        .collect();
    for code in [&first, &second, &third] {
        assert!(!text.contains(code.as_str()), "a code in the audit log");
    }
    assert!(entries.iter().any(|e| {
        e.record.action == "3ds.challenge.answer"
            && e.record
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("one-time code")
    }),);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.record.action == "3ds.challenge.resend")
            .count(),
        2
    );
}

/// PCI DSS 3.3, 3.5: after challenges answered by passkey, by code, cancelled and refused, no
/// Luhn-valid 13–19-digit number is in the database files, the audit log (as the export writes
/// it) or the webhook bodies. (The server's log lines are not captured here; they carry no
/// message bodies.)
#[tokio::test]
async fn no_card_number_in_the_database_the_audit_log_or_the_webhooks_after_challenges() {
    let (port, mut rx) = common::webhook::webhook_receiver().await;
    let mut w = world_with(true, Some(port)).await;
    let ares = w.areq().await;
    assert_eq!(w.confirm_with_passkey(&ares).await["transStatus"], "Y");
    let ares = w.areq().await;
    let page = w.challenge(&ares).await;
    w.answer(answer_body(&ares, &page, "cancel", None)).await;
    let mut bad = creq(&w.areq().await);
    bad["challengeWindowSize"] = json!("09");
    w.creq_form(&bad, None).await;
    common::acs::cardholder(&w.app, "carol", CAROL_PAN).await;
    let ares = w.areq_for(CAROL_PAN).await;
    let page = w.challenge(&ares).await;
    let code = next_code(&mut rx).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = answer_body(&ares, &page, "code", None);
    body["code"] = json!(code);
    assert_eq!(w.answer(body).await.1["transStatus"], "Y");

    let mut scanned = serde_json::to_vec(&w.app.audit_entries().await).unwrap();
    for (rreq, _) in w.rreqs() {
        scanned.extend(rreq.to_string().as_bytes());
    }
    assert_eq!(common::pci::card_numbers(&scanned), Vec::<String>::new());
    let mut webhooks = Vec::new();
    while let Ok((_, body)) = rx.try_recv() {
        webhooks.extend(body);
    }
    assert_eq!(common::pci::card_numbers(&webhooks), Vec::<String>::new());
    w.app.state.store.close().await;
    let (files, found) = common::pci::scan_dir(w.app.dir.path());
    assert!(files > 0, "the database files were scanned");
    assert_eq!(found, Vec::<String>::new());
}

/// The scanner itself finds a card number and nothing inside tokens.
#[test]
fn the_card_number_scan_finds_card_numbers_and_not_hashes() {
    assert_eq!(
        common::pci::card_numbers(b"x \"4012000000006013\" y"),
        ["4012000000006013"]
    );
    assert!(
        common::pci::card_numbers(b"4012000000006014").is_empty(),
        "not Luhn-valid"
    );
    assert!(
        common::pci::card_numbers(b"ab4012000000006013cd").is_empty(),
        "inside a token"
    );
    assert!(
        common::pci::card_numbers(b"401200000006").is_empty(),
        "12 digits"
    );
}
