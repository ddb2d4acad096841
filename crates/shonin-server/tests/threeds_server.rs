//! The 3DS Server (merchant side) with its requestor API, proven with the other two components:
//! Shonin's 3DS Server → `shonin ds-sim` → Shonin's ACS, every link mutual TLS with
//! certificates of one test scheme CA. Frictionless and challenge flows (the challenge's RReq
//! comes back through the DS), the final CRes at the notification URL, a card in no range (U
//! without an AReq), an ACS that cannot be reached (failed, Erro 405 from the DS), the
//! requestor's cancel, and the refusals: no token, wrong scope, bad bodies, an RReq from a
//! certificate not pinned (303), for an unknown transaction (301) or after a cancel (305).
//! A scripted DS answers every Erro code of Annex A and answers the 3DS Server must refuse: each
//! is a failed result naming the code and who reported it, never an HTTP error. The 3DS Method
//! runs before the AReq. On PostgreSQL, a challenge begun on one node ends on another.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::bank::Bank;
use common::oauth::attribute_after;
use common::scheme_pki::SchemePki;
use common::{TestApp, body_json, body_text, failures};
use serde_json::{Value, json};
use shonin_3ds::acs::Scheme;
use shonin_3ds::settings::{AcsSettings, LinkSettings, ServerSettings};
use shonin_3ds::{Message, Versions};
use shonin_ds_sim::DsSim;
use shonin_ds_sim::settings::{DsSimSettings, RangeSettings as DsRange};
use shonin_server::config::Config;
use std::sync::Arc;

const PAN: &str = "4012000000006013";

struct Net {
    /// The node the requestor talks to, and (on PostgreSQL) the node the DS sends RReqs to.
    a: TestApp,
    b: Option<TestApp>,
    pki: SchemePki,
    base: String,
    _db: Option<shonin_store::testing::TestDb>,
    _dir: tempfile::TempDir,
}

fn configure(c: &mut Config, pki: &SchemePki, ds: &str, ds_client: &str, results_url: &str) {
    c.threeds.acs = Some(AcsSettings {
        // The Visa directory's link only, nothing top-level.
        ds_certificate_thumbprints: Vec::new(),
        schemes: [(
            "visa".to_owned(),
            LinkSettings {
                ds_certificate_thumbprints: vec![ds_client.to_owned()],
                results_ca_file: Some(pki.path("ca.pem")),
                results_certificate_file: Some(pki.path("acs-client.pem")),
                results_key_file: Some(pki.path("acs-client.key")),
            },
        )]
        .into(),
        ..common::acs::settings(String::new())
    });
    c.threeds.server = Some(ServerSettings {
        reference_number: "SHONIN-3DSS-TEST".into(),
        operator_id: None,
        requestor_id: "PSP-0001".into(),
        requestor_name: "Example PSP".into(),
        requestor_url: "https://psp.example/".into(),
        versions: vec!["2.2.0".into(), "2.3.1".into()],
        ds_areq_url: format!("{ds}/ds/areq"),
        ds_preq_url: format!("{ds}/ds/preq"),
        ds_ca_file: pki.path("ca.pem"),
        certificate_file: pki.path("3ds-server.pem"),
        key_file: pki.path("3ds-server.key"),
        results_url: Some(results_url.to_owned()),
        ds_certificate_thumbprints: vec![ds_client.to_owned()],
        ds_timeout_secs: 10,
        card_range_refresh_secs: 3_600,
        transaction_retention_secs: 3_600,
    });
}

async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    (listener, url)
}

/// The three components; `two_nodes`: two Shonin nodes on one fresh PostgreSQL database, the
/// DS sending RReqs to the second.
async fn net(two_nodes: bool) -> Net {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki = SchemePki::new(dir.path());
    for server in ["ds", "shonin"] {
        pki.server(server);
    }
    let ds_client = pki.client("ds-client");
    pki.client("acs-client");
    pki.client("3ds-server");
    let (ds_listener, ds) = bind().await;
    let (a_listener, base) = bind().await;
    let (b_listener, b_base) = bind().await;
    let db = if two_nodes {
        Some(
            shonin_store::testing::TestDb::postgres()
                .await
                .expect("PostgreSQL for the two-node test (see docs/testing.md)"),
        )
    } else {
        None
    };
    let url = db.as_ref().map(|d| d.url().to_owned());
    let results_url = if two_nodes { &b_base } else { &base };
    let results_url = format!("{results_url}/3ds/server/rreq");
    let a = TestApp::with(|c| {
        configure(c, &pki, &ds, &ds_client, &results_url);
        if let Some(url) = &url {
            c.storage.url = url.clone();
        }
    })
    .await;
    pki.listen_on(a_listener, "shonin", a.router.clone());
    let b = match &url {
        Some(url) => {
            let keyring = a.state.config.keys.keyring.clone();
            let master = a.state.config.keys.master_key_file.clone();
            let b = TestApp::with(|c| {
                configure(c, &pki, &ds, &ds_client, &results_url);
                c.storage.url = url.clone();
                c.keys.keyring = keyring;
                c.keys.master_key_file = master;
            })
            .await;
            pki.listen_on(b_listener, "shonin", b.router.clone());
            Some(b)
        }
        None => None,
    };
    common::acs::cardholder(&a, "alice", PAN).await;

    let range = |start: &str, end: &str, acs_url: String| DsRange {
        start: start.into(),
        end: end.into(),
        scheme: Scheme::Visa,
        three_ds_method_url: acs_url
            .starts_with(&base)
            .then(|| format!("{base}/3ds/acs/method")),
        acs_url,
        acs_start_version: "2.2.0".into(),
        acs_end_version: "2.3.1".into(),
    };
    let settings = DsSimSettings {
        listen: ds_listener.local_addr().unwrap(),
        public_url: ds.clone(),
        reference_number: "DS-SIM-1".into(),
        versions: vec!["2.2.0".into(), "2.3.1".into()],
        certificate_file: pki.path("ds.pem"),
        key_file: pki.path("ds.key"),
        client_ca_file: pki.path("ca.pem"),
        client_certificate_file: pki.path("ds-client.pem"),
        client_key_file: pki.path("ds-client.key"),
        server_ca_file: pki.path("ca.pem"),
        ranges: vec![
            range(
                "4012000000006000",
                "4012000000006999",
                format!("{base}/3ds/acs/areq"),
            ),
            // An ACS that is not there.
            range(
                "4012000000007000",
                "4012000000007999",
                "https://127.0.0.1:9/3ds/acs/areq".into(),
            ),
        ],
    };
    let sim = Arc::new(DsSim::build(&settings).unwrap());
    let tls = shonin_tls::server_config(
        &settings.certificate_file,
        &settings.key_file,
        shonin_tls::ClientCertMode::Optional,
    )
    .unwrap();
    tokio::spawn(shonin_tls::serve(
        ds_listener,
        Some(tls),
        sim.router(),
        shonin_tls::ServeLimits::default(),
        std::future::pending(),
    ));
    Net {
        a,
        b,
        pki,
        base,
        _db: db,
        _dir: dir,
    }
}

fn request(pan: &str, amount: &str) -> Value {
    json!({
        "card": {"number": pan, "expiry": "3012"},
        "purchase": {"amount": amount, "currency": "643", "exponent": 2},
        "merchant": {"name": "Tea Shop", "mcc": "5812", "country": "643",
                     "acquirer_bin": "400551", "acquirer_merchant_id": "M-1"},
        "browser": {"accept_header": "text/html", "user_agent": "Mozilla/5.0 (X11)",
                    "language": "en-GB", "javascript_enabled": true, "color_depth": 24,
                    "screen_height": 900, "screen_width": 1440, "tz": -60},
        "challenge_window_size": "03",
        "session_data": "c2hvcC1zZXNzaW9uLTE",
    })
}

async fn call(
    app: &TestApp,
    who: &Bank,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let resp = who.send(app, method, path, body).await;
    let status = resp.status();
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store", "{path}");
    (status, body_json(resp).await)
}

async fn start(app: &TestApp, who: &Bank, body: &Value) -> (StatusCode, Value) {
    call(
        app,
        who,
        Method::POST,
        "/3ds/server/authentications",
        Some(body),
    )
    .await
}

async fn load_ranges(app: &TestApp) {
    let applied = app
        .state
        .threeds_server
        .as_ref()
        .unwrap()
        .refresh_ranges()
        .await
        .unwrap();
    assert_eq!(applied.ranges, 2, "{applied:?}");
}

/// Opens the challenge on the ACS with the `creq`, cancels it as the cardholder, and returns
/// the final CRes field the page would post to the notification URL.
async fn cancel_as_cardholder(app: &TestApp, challenge: &Value) -> String {
    let resp = app
        .send(
            Request::post("/3ds/acs/challenge")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "creq={}&threeDSSessionData={}",
                    challenge["creq"].as_str().unwrap(),
                    challenge["threeDSSessionData"].as_str().unwrap()
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body_text(resp).await;
    let token = attribute_after(&page, "data-token=\"");
    let acs_trans_id = attribute_after(&page, "data-trans=\"");
    let resp = app
        .send(
            Request::post("/3ds/acs/challenge/answer")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"acsTransID": acs_trans_id, "token": token, "action": "cancel"})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    let answer = body_json(resp).await;
    assert_eq!(answer["transStatus"], "N", "{answer}");
    answer["cres"].as_str().unwrap().to_owned()
}

fn valid(message: &Value) -> Message {
    shonin_3ds::check(message.to_string().as_bytes(), Versions::ALL)
        .unwrap_or_else(|e| panic!("{message}: {e:?}"))
}

#[tokio::test]
async fn frictionless_and_challenge_across_the_three_components() {
    let n = net(false).await;
    let shop = Bank::with_scope(&n.a, "shop", "3ds").await;
    // No card ranges yet: nothing can be decided.
    let (status, body) = start(&n.a, &shop, &request(PAN, "63551")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    load_ranges(&n.a).await;

    // Frictionless: Y with the ECI and the authentication value, in 2.3.1 (the highest all
    // three speak).
    let (status, y) = start(&n.a, &shop, &request(PAN, "63551")).await;
    assert_eq!(status, StatusCode::CREATED, "{y}");
    assert_eq!(y["state"], "completed", "{y}");
    assert_eq!(y["messageVersion"], "2.3.1");
    assert_eq!(y["result"]["transStatus"], "Y");
    assert_eq!(y["result"]["eci"], "05");
    assert_eq!(
        y["result"]["authenticationValue"].as_str().unwrap().len(),
        28
    );
    assert_eq!(y["card"], "401200******6013");
    assert!(!y.to_string().contains(PAN), "no card number in the answer");
    let path = format!("/3ds/server/authentications/{}", y["id"].as_str().unwrap());
    let (status, read) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["result"], y["result"]);
    // Another requestor's transaction is not there for it.
    let other = Bank::with_scope(&n.a, "other-shop", "3ds").await;
    let (status, _) = call(&n.a, &other, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A challenge: the page opens it, the cardholder cancels, the ACS's RReq comes back
    // through the DS, and the result is the RReq's.
    let (status, c) = start(&n.a, &shop, &request(PAN, "150000")).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["state"], "challenge", "{c}");
    let challenge = &c["challenge"];
    assert_eq!(challenge["challengeWindowSize"], "03");
    assert!(
        challenge["acsURL"]
            .as_str()
            .unwrap()
            .ends_with("/3ds/acs/challenge")
    );
    let cres = cancel_as_cardholder(&n.a, challenge).await;
    let path = format!("/3ds/server/authentications/{}", c["id"].as_str().unwrap());
    let (_, done) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["result"]["transStatus"], "N");
    assert_eq!(done["result"]["challengeCancel"], "01");
    assert!(done.get("challenge").is_none(), "{done}");
    let delivered =
        n.a.audit_entries()
            .await
            .into_iter()
            .filter(|e| e.record.action == "3ds.results")
            .map(|e| e.record.outcome)
            .collect::<Vec<_>>();
    assert_eq!(
        delivered,
        [shonin_audit::Outcome::Success],
        "the ACS got the 3DS Server's RRes through the DS"
    );

    // The browser posts the final CRes to the notification URL; the page tells the checkout.
    let resp =
        n.a.send(
            Request::post("/3ds/server/notification")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "cres={cres}&threeDSSessionData=c2hvcC1zZXNzaW9uLTE"
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors https:"), "{csp}");
    let page = body_text(resp).await;
    assert!(page.contains(&format!(
        "data-transaction=\"{}\"",
        c["id"].as_str().unwrap()
    )));
    let (_, seen) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(seen["final_cres"], "N");
    // An Erro posted instead of a CRes names the transaction: the page tells the checkout, and
    // nothing changes (the RReq carries the result). One naming no transaction is refused.
    let erro = |id: &Value| {
        let e = json!({"messageType": "Erro", "messageVersion": "2.3.1", "errorCode": "203",
                       "errorComponent": "A", "errorDescription": "Format of one or more data elements is invalid",
                       "errorDetail": "challengeWindowSize", "threeDSServerTransID": id});
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            e.to_string(),
        )
    };
    let (status, page) = form(
        &n.a,
        "/3ds/server/notification",
        format!("erro={}", erro(&c["id"])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("data-kind=\"shonin-3ds-complete\""));
    let (status, _) = form(
        &n.a,
        "/3ds/server/notification",
        format!(
            "erro={}",
            erro(&json!("8a880dc0-d2d2-4067-bcb1-b08d1690b26e"))
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = form(
        &n.a,
        "/3ds/server/notification",
        "threeDSSessionData=abc".into(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, same) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(same["result"], done["result"]);
    // A cancel after the end is refused.
    let (status, body) = call(&n.a, &shop, Method::POST, &format!("{path}/cancel"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A card in no range: U, no AReq sent.
    let (status, u) = start(&n.a, &shop, &request("5555555555554444", "100")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (&u["state"], &u["result"]["transStatus"]),
        (&json!("completed"), &json!("U"))
    );
    assert!(
        u.get("dsTransID").is_none() && u.get("messageVersion").is_none(),
        "{u}"
    );
    // The range's ACS is not there: the DS's Erro 405, as a result.
    let (status, f) = start(&n.a, &shop, &request("4012000000007003", "100")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(f["state"], "failed", "{f}");
    assert_eq!(
        (&f["error"]["errorCode"], &f["error"]["errorComponent"]),
        (&json!("405"), &json!("D"))
    );

    // Every authentication is on record, without the card number.
    let entries = n.a.audit_entries().await;
    let started: Vec<_> = entries
        .iter()
        .filter(|e| e.record.action == "3ds.server.authenticate")
        .collect();
    assert_eq!(
        started.len(),
        4 + 1,
        "four answered and the 503: {started:?}"
    );
    let results = entries
        .iter()
        .filter(|e| e.record.action == "3ds.server.results")
        .count();
    assert_eq!(results, 1);
    let printed = format!("{entries:?}");
    for pan in [PAN, "5555555555554444", "4012000000007003"] {
        assert!(!printed.contains(pan));
    }
}

#[tokio::test]
async fn refusals_change_nothing_and_are_audited() {
    let n = net(false).await;
    load_ranges(&n.a).await;
    // No token at all.
    let resp =
        n.a.send(
            Request::post("/3ds/server/authentications")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(request(PAN, "100").to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A token without the scope.
    let vault_only = Bank::with_scope(&n.a, "vault-only", "vault").await;
    let (status, body) = start(&n.a, &vault_only, &request(PAN, "100")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    // Bodies that break a rule: 400 naming the member, never the value.
    let shop = Bank::with_scope(&n.a, "shop", "3ds").await;
    let mut unknown = request(PAN, "100");
    unknown["card"]["cvv"] = json!("737");
    let mut bad_currency = request(PAN, "100");
    bad_currency["purchase"]["currency"] = json!("RUB");
    let mut wrong_type = request(PAN, "100");
    wrong_type["card"]["number"] = json!(4012000000006013_u64);
    for (body, names) in [
        (unknown, "cvv"),
        (request("4012000000006014", "100"), "card.number"),
        (bad_currency, "purchaseCurrency"),
        (wrong_type, "line"),
    ] {
        let (status, refused) = start(&n.a, &shop, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"], "invalid_request");
        let detail = refused["detail"].as_str().unwrap();
        assert!(detail.contains(names), "{detail}");
        assert!(!detail.contains("4012000000006"), "{detail}");
    }
    let refused = failures(&n.a, "3ds.server.authenticate").await;
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(
        !n.a.audit_entries()
            .await
            .iter()
            .any(|e| e.record.action == "3ds.server.authenticate"
                && e.record.outcome == shonin_audit::Outcome::Success),
        "nothing was authenticated"
    );

    // RReqs: a certificate that is not the DS's (303, HTTP 403), an unknown transaction (301),
    // and one after the requestor cancelled (305).
    let client = |name: &str| {
        let pem = [
            std::fs::read(n.pki.path(&format!("{name}.pem"))).unwrap(),
            std::fs::read(n.pki.path(&format!("{name}.key"))).unwrap(),
        ]
        .concat();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(
                &std::fs::read(n.pki.path("ca.pem")).unwrap(),
            )
            .unwrap()])
            .identity(reqwest::Identity::from_pem(&pem).unwrap())
            .build()
            .unwrap()
    };
    let rreq = json!({
        "messageType": "RReq", "messageVersion": "2.3.1", "messageCategory": "01",
        "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
        "dsTransID": "6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
        "acsTransID": "f888079d-dae8-4a18-81b0-be6e77355e71",
        "transStatus": "N", "transStatusReason": "01", "interactionCounter": "01",
        "authenticationMethod": ["02"],
    });
    let post = |c: reqwest::Client, body: Value| {
        let url = format!("{}/3ds/server/rreq", n.base);
        async move {
            let resp = c
                .post(url)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, erro) = post(client("acs-client"), rreq.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        (&erro["errorCode"], &erro["errorComponent"]),
        (&json!("303"), &json!("S"))
    );
    let (status, erro) = post(client("ds-client"), rreq.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(erro["errorCode"], "301", "{erro}");
    assert!(matches!(valid(&erro), Message::Erro(_)));

    let (_, c) = start(&n.a, &shop, &request(PAN, "150000")).await;
    assert_eq!(c["state"], "challenge");
    let path = format!("/3ds/server/authentications/{}", c["id"].as_str().unwrap());
    let (status, cancelled) =
        call(&n.a, &shop, Method::POST, &format!("{path}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    let mut late = rreq;
    late["threeDSServerTransID"] = c["id"].clone();
    late["dsTransID"] = c["dsTransID"].clone();
    late["acsTransID"] = c["acsTransID"].clone();
    let (_, erro) = post(client("ds-client"), late).await;
    assert_eq!(erro["errorCode"], "305", "{erro}");
    let (_, still) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(still["state"], "cancelled");
    assert!(still.get("result").is_none());
    let rejected =
        n.a.audit_entries()
            .await
            .into_iter()
            .filter(|e| e.record.action == "3ds.reject")
            .count();
    assert!(
        rejected >= 1,
        "the RReq refusals are on record (sampled per address)"
    );
}

#[tokio::test]
async fn a_challenge_begun_on_one_node_ends_on_another() {
    let n = net(true).await;
    let b = n.b.as_ref().unwrap();
    load_ranges(&n.a).await;
    let shop = Bank::with_scope(&n.a, "shop", "3ds").await;
    // Frictionless on PostgreSQL too.
    let (status, y) = start(&n.a, &shop, &request(PAN, "63551")).await;
    assert_eq!(status, StatusCode::CREATED, "{y}");
    assert_eq!(y["result"]["transStatus"], "Y", "{y}");
    let (_, c) = start(&n.a, &shop, &request(PAN, "150000")).await;
    assert_eq!(c["state"], "challenge", "{c}");
    // The cardholder's challenge runs on node A; its RReq reaches node B through the DS.
    cancel_as_cardholder(&n.a, &c["challenge"]).await;
    let on_b = b
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.action == "3ds.server.results")
        .count();
    assert_eq!(on_b, 1, "one shared log");
    let path = format!("/3ds/server/authentications/{}", c["id"].as_str().unwrap());
    let (_, done) = call(&n.a, &shop, Method::GET, &path, None).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["result"]["transStatus"], "N");
}

#[tokio::test]
async fn a_card_in_the_vault_is_authenticated_by_its_token() {
    let n = net(false).await;
    load_ranges(&n.a).await;
    let shop = Bank::with_scope(&n.a, "shop", "vault 3ds").await;
    let card = json!({"pan": PAN, "exp_month": 12, "exp_year": 2030});
    let resp = shop
        .send(&n.a, Method::POST, "/vault/cards", Some(&card))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = body_json(resp).await["token"].as_str().unwrap().to_owned();

    let mut body = request(PAN, "63551");
    body["card"] = json!({"vault_token": token});
    let (status, y) = start(&n.a, &shop, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{y}");
    assert_eq!(y["result"]["transStatus"], "Y", "{y}");
    assert_eq!(y["card"], "401200******6013");
    let entry =
        n.a.audit_entries()
            .await
            .into_iter()
            .find(|e| e.record.action == "3ds.server.authenticate" && e.record.target == y["id"])
            .unwrap();
    assert!(
        entry
            .record
            .reason
            .as_deref()
            .unwrap()
            .ends_with(&format!("card=vault:{token}")),
        "{entry:?}"
    );

    // Another client's token is no card; a number and a token together are refused.
    let other = Bank::with_scope(&n.a, "other-shop", "3ds").await;
    let (status, refused) = start(&n.a, &other, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("card.vault_token")
    );
    body["card"]["number"] = json!(PAN);
    let (status, refused) = start(&n.a, &shop, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}

#[tokio::test]
async fn a_ds_that_does_not_answer_in_time_is_erro_402_as_a_result() {
    // A DS that takes the connection and the AReq and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = silent.accept().await {
            keep.lock().await.push(socket);
        }
    });
    let n = net(false).await;
    load_ranges(&n.a).await;
    let slow = TestApp::with(|c| {
        let base = n.a.state.config.threeds.server.clone().unwrap();
        c.threeds.server = Some(ServerSettings {
            ds_areq_url: format!("https://127.0.0.1:{port}/ds/areq"),
            ds_timeout_secs: 1,
            ..base
        });
    })
    .await;
    // Its card ranges come from the real DS; only its AReqs go to the silent one.
    slow.state
        .threeds_server
        .as_ref()
        .unwrap()
        .refresh_ranges()
        .await
        .unwrap();
    let shop = Bank::with_scope(&slow, "shop", "3ds").await;
    let started = std::time::Instant::now();
    let (status, f) = start(&slow, &shop, &request(PAN, "100")).await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    assert_eq!(f["state"], "failed", "{f}");
    assert_eq!(
        (&f["error"]["errorCode"], &f["error"]["errorComponent"]),
        (&json!("402"), &json!("S"))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

async fn form(app: &TestApp, path: &str, body: String) -> (StatusCode, String) {
    let resp = app
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    (resp.status(), body_text(resp).await)
}

#[tokio::test]
async fn the_3ds_method_runs_before_the_areq_and_sets_its_completion() {
    let n = net(false).await;
    load_ranges(&n.a).await;
    let shop = Bank::with_scope(&n.a, "shop", "3ds").await;
    let method = |pan: &str| json!({"card": {"number": pan}});
    let (status, m) = call(
        &n.a,
        &shop,
        Method::POST,
        "/3ds/server/methods",
        Some(&method(PAN)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["state"], "method");
    assert_eq!(m["threeDSCompInd"], "N", "not completed yet");
    let url = m["method"]["threeDSMethodURL"].as_str().unwrap();
    assert!(url.ends_with("/3ds/acs/method"), "{m}");
    let data = m["method"]["threeDSMethodData"]
        .as_str()
        .unwrap()
        .to_owned();
    let decoded: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &data).unwrap(),
    )
    .unwrap();
    let issuer = n.a.state.config.issuer.clone();
    assert_eq!(decoded["threeDSServerTransID"], m["id"]);
    assert_eq!(
        decoded["threeDSMethodNotificationURL"],
        format!("{issuer}/3ds/server/method-notification")
    );

    // The hidden iframe posts it to the ACS's method URL; its page posts it back.
    let (status, page) = form(&n.a, "/3ds/acs/method", format!("threeDSMethodData={data}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(
            "action=\"{issuer}/3ds/server/method-notification\""
        )),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{data}\"")));
    let (status, page) = form(
        &n.a,
        "/3ds/server/method-notification",
        format!("threeDSMethodData={data}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("data-kind=\"shonin-3ds-method-complete\""),
        "{page}"
    );

    // The AReq goes out under the method's transaction with threeDSCompInd Y.
    let mut body = request(PAN, "63551");
    body["method_id"] = m["id"].clone();
    let (status, y) = start(&n.a, &shop, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{y}");
    assert_eq!((&y["id"], &y["state"]), (&m["id"], &json!("completed")));
    assert_eq!(y["threeDSCompInd"], "Y");
    assert_eq!(y["result"]["transStatus"], "Y");
    assert!(y.get("method").is_none(), "{y}");
    // Once only.
    let (status, again) = start(&n.a, &shop, &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // A method whose notification never came: N. Another card's method: refused.
    let (_, quiet) = call(
        &n.a,
        &shop,
        Method::POST,
        "/3ds/server/methods",
        Some(&method(PAN)),
    )
    .await;
    let mut other = request("4012000000006021", "63551");
    other["method_id"] = quiet["id"].clone();
    let (status, refused) = start(&n.a, &shop, &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    body["method_id"] = quiet["id"].clone();
    let (_, n_) = start(&n.a, &shop, &body).await;
    assert_eq!(n_["threeDSCompInd"], "N", "{n_}");
    // Two calls with one method at once: one AReq, one 201, one 409.
    let (_, raced) = call(
        &n.a,
        &shop,
        Method::POST,
        "/3ds/server/methods",
        Some(&method(PAN)),
    )
    .await;
    body["method_id"] = raced["id"].clone();
    let (a, b) = tokio::join!(start(&n.a, &shop, &body), start(&n.a, &shop, &body));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    // Another client cannot use it.
    let stranger = Bank::with_scope(&n.a, "stranger", "3ds").await;
    let (_, fresh) = call(
        &n.a,
        &shop,
        Method::POST,
        "/3ds/server/methods",
        Some(&method(PAN)),
    )
    .await;
    body["method_id"] = fresh["id"].clone();
    let (status, _) = start(&n.a, &stranger, &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // What cannot be read is refused: data naming no method, and an http notification URL.
    let unknown = shonin_3ds::server::areq::method_data(
        "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
        &format!("{issuer}/3ds/server/method-notification"),
    );
    let (status, _) = form(
        &n.a,
        "/3ds/server/method-notification",
        format!("threeDSMethodData={unknown}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let plain = shonin_3ds::server::areq::method_data(
        "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
        "http://merchant.example/notify",
    );
    let (status, _) = form(
        &n.a,
        "/3ds/acs/method",
        format!("threeDSMethodData={plain}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A DS that answers every AReq with what `answer` holds, and PReqs with one card range.
async fn scripted_ds(pki: &SchemePki, answer: Arc<std::sync::Mutex<String>>) -> String {
    use axum::routing::post;
    let preq = |body: String| async move {
        let preq: Value = serde_json::from_str(&body).unwrap();
        axum::Json(json!({
            "messageType": "PRes", "messageVersion": preq["messageVersion"],
            "threeDSServerTransID": preq["threeDSServerTransID"],
            "dsTransID": "6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
            "cardRangeData": [{"startRange": "4012000000006000", "endRange": "4012000000006999",
                "acsProtocolVersions": [{"version": "2.2.0"}, {"version": "2.3.1"}],
                "dsProtocolVersions": ["2.2.0", "2.3.1"]}],
        }))
    };
    let areq = move |body: String| {
        let answer = answer.clone();
        async move {
            let areq: Value = serde_json::from_str(&body).unwrap();
            let text = answer
                .lock()
                .unwrap()
                .replace("{ID}", areq["threeDSServerTransID"].as_str().unwrap());
            ([(header::CONTENT_TYPE, "application/json")], text)
        }
    };
    let app = axum::Router::new()
        .route("/ds/preq", post(preq))
        .route("/ds/areq", post(areq));
    pki.listen("ds", app).await
}

#[tokio::test]
async fn every_erro_and_every_bad_answer_of_the_ds_is_a_failed_result() {
    let n = net(false).await;
    let answer = Arc::new(std::sync::Mutex::new(String::new()));
    let ds = scripted_ds(&n.pki, answer.clone()).await;
    let app = TestApp::with(|c| {
        let base = n.a.state.config.threeds.server.clone().unwrap();
        c.threeds.server = Some(ServerSettings {
            ds_areq_url: format!("{ds}/ds/areq"),
            ds_preq_url: format!("{ds}/ds/preq"),
            ..base
        });
    })
    .await;
    let applied = app
        .state
        .threeds_server
        .as_ref()
        .unwrap()
        .refresh_ranges()
        .await
        .unwrap();
    assert_eq!(applied.ranges, 1);
    let shop = Bank::with_scope(&app, "shop", "3ds").await;
    let erro = |code: &str| {
        json!({"messageType": "Erro", "messageVersion": "2.3.1", "errorCode": code,
               "errorComponent": "D", "errorDescription": "described",
               "errorDetail": "acctNumber", "errorMessageType": "AReq",
               "threeDSServerTransID": "{ID}"})
        .to_string()
    };
    // The codes a DS (or the ACS through it) may answer an AReq with (EMV 3DS Annex A).
    let mut cases: Vec<(String, &str, &str)> = [
        "101", "102", "103", "201", "202", "203", "204", "301", "302", "303", "304", "305", "306",
        "307", "402", "403", "404", "405",
    ]
    .into_iter()
    .map(|c| (erro(c), c, "D"))
    .collect();
    // Answers the 3DS Server itself refuses (component S).
    let ares = |id: &str, status: &str| {
        json!({"messageType": "ARes", "messageVersion": "2.3.1", "threeDSServerTransID": id,
               "dsTransID": "6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
               "acsTransID": "f888079d-dae8-4a18-81b0-be6e77355e71",
               "acsReferenceNumber": "ACS", "dsReferenceNumber": "DS", "transStatus": status,
               "authenticationMethod": ["02"]})
        .to_string()
    };
    cases.push(("<html>busy</html>".into(), "101", "S"));
    cases.push((
        ares("8a880dc0-d2d2-4067-bcb1-b08d1690b26e", "N"),
        "301",
        "S",
    ));
    cases.push((ares("{ID}", "Y"), "201", "S"));
    cases.push((ares("{ID}", "D"), "203", "S"));
    for (text, code, component) in cases {
        *answer.lock().unwrap() = text.clone();
        let (status, f) = start(&app, &shop, &request(PAN, "63551")).await;
        assert_eq!(status, StatusCode::CREATED, "{text}: {f}");
        assert_eq!(f["state"], "failed", "{text}: {f}");
        assert_eq!(
            (
                f["error"]["errorCode"].as_str(),
                f["error"]["errorComponent"].as_str()
            ),
            (Some(code), Some(component)),
            "{text}: {f}"
        );
        assert!(f.get("result").is_none());
    }
}
