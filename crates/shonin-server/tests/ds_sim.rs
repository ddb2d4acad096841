//! The DS simulator (`shonin ds-sim`) between a 3DS Server (the test, with its client
//! certificate and an RReq listener) and Shonin's ACS (a real `TestApp` served over TLS), every
//! link mutual TLS with certificates of one test scheme CA: a frictionless AReq answered Y
//! through the DS, a challenge whose RReq the DS relays to the 3DS Server, PReq → PRes, and the
//! DS's refusals (a stranger's certificate 303, a card in no range 305, an RReq for an unknown
//! transaction 301, an unreachable ACS 405).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oauth::attribute_after;
use common::scheme_pki::{Received, SchemePki};
use common::{TestApp, body_json, body_text};
use serde_json::{Value, json};
use shonin_3ds::acs::Scheme;
use shonin_3ds::settings::{AcsSettings, LinkSettings};
use shonin_3ds::{Message, Versions};
use shonin_ds_sim::DsSim;
use shonin_ds_sim::settings::{DsSimSettings, RangeSettings as DsRange};
use std::sync::Arc;

const PAN: &str = "4012000000006013";

struct Net {
    app: TestApp,
    ds: String,
    server_url: String,
    received: Received,
    client: reqwest::Client,
    stranger: reqwest::Client,
    pki: SchemePki,
    _dir: tempfile::TempDir,
}

fn client(pki: &SchemePki, name: Option<&str>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().tls_certs_only([reqwest::Certificate::from_pem(
        &std::fs::read(pki.path("ca.pem")).unwrap(),
    )
    .unwrap()]);
    if let Some(name) = name {
        let pem = [
            std::fs::read(pki.path(&format!("{name}.pem"))).unwrap(),
            std::fs::read(pki.path(&format!("{name}.key"))).unwrap(),
        ]
        .concat();
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

async fn net() -> Net {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki = SchemePki::new(dir.path());
    for server in ["ds", "acs-server", "server-rreq"] {
        pki.server(server);
    }
    let ds_client = pki.client("ds-client");
    pki.client("acs-client");
    pki.client("3ds-server");

    // The 3DS Server's RReq listener.
    let (server_url, received) = pki.results_listener("server-rreq").await;

    // The ACS: Shonin, trusting the DS's client certificate, its RReq link to the DS.
    let acs = AcsSettings {
        // The Visa directory's link only, nothing top-level.
        ds_certificate_thumbprints: Vec::new(),
        schemes: [(
            "visa".to_owned(),
            LinkSettings {
                ds_certificate_thumbprints: vec![ds_client],
                results_ca_file: Some(pki.path("ca.pem")),
                results_certificate_file: Some(pki.path("acs-client.pem")),
                results_key_file: Some(pki.path("acs-client.key")),
            },
        )]
        .into(),
        ..common::acs::settings(String::new())
    };
    let app = TestApp::with(move |c| c.threeds.acs = Some(acs)).await;
    let acs_base = pki.listen("acs-server", app.router.clone()).await;
    common::acs::cardholder(&app, "alice", PAN).await;

    // The DS simulator, on a port of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ds = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let range = |start: &str, end: &str, acs_url: String| DsRange {
        start: start.into(),
        end: end.into(),
        scheme: Scheme::Visa,
        acs_url,
        acs_start_version: "2.2.0".into(),
        acs_end_version: "2.3.1".into(),
        three_ds_method_url: None,
    };
    let settings = DsSimSettings {
        listen: listener.local_addr().unwrap(),
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
                format!("{acs_base}/3ds/acs/areq"),
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
        listener,
        Some(tls),
        sim.router(),
        shonin_tls::ServeLimits::default(),
        std::future::pending(),
    ));
    // A stranger: a certificate of its own making.
    let stranger_key = rcgen::KeyPair::generate().unwrap();
    let stranger_cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&stranger_key)
        .unwrap();
    let stranger_pem = format!("{}{}", stranger_cert.pem(), stranger_key.serialize_pem());
    let stranger = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(
            &std::fs::read(pki.path("ca.pem")).unwrap(),
        )
        .unwrap()])
        .identity(reqwest::Identity::from_pem(stranger_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    Net {
        app,
        ds,
        server_url,
        received,
        client: client(&pki, Some("3ds-server")),
        stranger,
        pki,
        _dir: dir,
    }
}

impl Net {
    fn areq(&self, pan: &str, amount: &str) -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json"
        );
        let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["acctNumber"] = json!(pan);
        v["purchaseAmount"] = json!(amount);
        v["threeDSServerURL"] = json!(self.server_url);
        v["threeDSRequestorChallengeInd"] = json!("01");
        v
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let resp = client
            .post(format!("{}{path}", self.ds))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }
}

fn valid(message: &Value) -> Message {
    shonin_3ds::check(message.to_string().as_bytes(), Versions::ALL)
        .unwrap_or_else(|e| panic!("{message}: {e:?}"))
}

#[tokio::test]
async fn frictionless_and_challenge_through_the_ds_over_mutual_tls() {
    let n = net().await;
    let (status, ares) = n.post(&n.client, "/ds/areq", &n.areq(PAN, "63551")).await;
    assert_eq!(status, StatusCode::OK, "{ares}");
    assert_eq!(ares["transStatus"], "Y", "{ares}");
    assert!(matches!(valid(&ares), Message::ARes(_)));
    let ds_trans_id = ares["dsTransID"].as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(ds_trans_id).is_ok(),
        "the DS's own dsTransID"
    );

    // A challenge: the ACS's RReq reaches the 3DS Server through the DS.
    let (_, ares) = n.post(&n.client, "/ds/areq", &n.areq(PAN, "150000")).await;
    assert_eq!(ares["transStatus"], "C", "{ares}");
    let creq = json!({
        "threeDSServerTransID": ares["threeDSServerTransID"],
        "acsTransID": ares["acsTransID"],
        "messageType": "CReq",
        "messageVersion": ares["messageVersion"],
        "challengeWindowSize": "05",
    });
    let resp = n
        .app
        .send(
            Request::post("/3ds/acs/challenge")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "creq={}",
                    URL_SAFE_NO_PAD.encode(creq.to_string())
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body_text(resp).await;
    let token = attribute_after(&page, "data-token=\"");
    let resp = n
        .app
        .send(
            Request::post("/3ds/acs/challenge/answer")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"acsTransID": ares["acsTransID"], "token": token, "action": "cancel"})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(body_json(resp).await["transStatus"], "N");
    let received = n.received.messages();
    assert_eq!(received.len(), 1);
    assert!(matches!(valid(&received[0]), Message::RReq(_)));
    assert_eq!(received[0]["dsTransID"], ares["dsTransID"]);
    assert_eq!(received[0]["challengeCancel"], "01");
    // The ACS heard the RRes back through the DS.
    let results: Vec<_> = n
        .app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.action == "3ds.results")
        .collect();
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].record.outcome,
        shonin_audit::Outcome::Success,
        "{results:?}"
    );
}

#[tokio::test]
async fn the_pres_lists_the_ranges_and_the_ds_refuses_what_it_must() {
    let n = net().await;
    let preq = json!({
        "messageType": "PReq",
        "messageVersion": "2.2.0",
        "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
        "threeDSServerRefNumber": "3DS_LOA_SER_PPFU_020100_00008",
        "threeDSServerOperatorID": "1jpeeLAWgGFgS1Ri9tX9",
    });
    let (_, pres) = n.post(&n.client, "/ds/preq", &preq).await;
    assert!(matches!(valid(&pres), Message::PRes(_)), "{pres}");
    assert_eq!(pres["cardRangeData"].as_array().unwrap().len(), 2);
    assert_eq!(pres["cardRangeData"][0]["startRange"], "4012000000006000");

    let erro = |v: &Value, code: &str| {
        assert_eq!(v["messageType"], "Erro", "{v}");
        assert_eq!(v["errorCode"], code, "{v}");
        assert_eq!(v["errorComponent"], "D", "{v}");
        assert!(matches!(valid(v), Message::Erro(_)));
    };
    // A caller whose certificate is not of the scheme: 303 with HTTP 403; none at all too.
    let (status, v) = n.post(&n.stranger, "/ds/areq", &n.areq(PAN, "100")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    erro(&v, "303");
    let (status, v) = n.post(&client(&n.pki, None), "/ds/preq", &preq).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    erro(&v, "303");
    // A card in no range: 305, naming the element and not the number.
    let (_, v) = n
        .post(&n.client, "/ds/areq", &n.areq("5555555555554444", "100"))
        .await;
    erro(&v, "305");
    assert!(!v.to_string().contains("5555555555554444"));
    // The range's ACS is not there: 405.
    let (_, v) = n
        .post(&n.client, "/ds/areq", &n.areq("4012000000007003", "100"))
        .await;
    erro(&v, "405");
    // An RReq the DS never relayed an AReq for: 301. Another message type on an endpoint: 101.
    let rreq = json!({
        "messageType": "RReq", "messageVersion": "2.2.0",
        "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
        "dsTransID": "6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
        "acsTransID": "f888079d-dae8-4a18-81b0-be6e77355e71",
        "messageCategory": "01", "transStatus": "N", "interactionCounter": "01",
        "authenticationType": "02", "transStatusReason": "01",
    });
    let (_, v) = n
        .post(&client(&n.pki, Some("acs-client")), "/ds/rreq", &rreq)
        .await;
    erro(&v, "301");
    let (_, v) = n.post(&n.client, "/ds/areq", &preq).await;
    erro(&v, "101");
}
