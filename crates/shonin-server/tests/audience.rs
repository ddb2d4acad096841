//! FAPI 2.0 Security Profile Final §5.3.2.1 item 8: at every endpoint that authenticates clients
//! (PAR, token, introspection, revocation), a client assertion's `aud` must be the issuer
//! identifier as a JSON string. Endpoint URLs and arrays — even an array holding the issuer — are
//! `invalid_client`, audit-logged with the reason, on SQLite and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::StatusCode;
use common::oauth::*;
use common::{TestApp, body_json};
use serde_json::{Value, json};
use shonin_store::testing::TestDb;

/// The four client-authenticating endpoints, with what each needs besides authentication.
const ENDPOINTS: [&str; 4] = ["/par", "/token", "/introspect", "/revoke"];

fn action(path: &str) -> &'static str {
    match path {
        "/par" => "oauth.par",
        "/token" => "oauth.token",
        "/introspect" => "oauth.introspect",
        _ => "oauth.revoke",
    }
}

/// Every `aud` shape that must be refused, for a request received at `path`.
fn refused_audiences(path: &str) -> Vec<Value> {
    vec![
        json!(format!("{ISSUER}/token")),
        json!(format!("{ISSUER}/par")),
        json!(format!("{ISSUER}{path}")),
        json!(format!("{ISSUER}/")),
        json!("https://other-as.example"),
        json!([ISSUER]),
        json!([ISSUER, "https://other-as.example"]),
        json!(["https://other-as.example", ISSUER]),
    ]
}

/// A request to `path` authenticated by an assertion with `aud`.
async fn send(app: &TestApp, c: &TestClient, path: &str, aud: &Value) -> (StatusCode, Value) {
    let url = format!("{ISSUER}{path}");
    let claims = json!({
        "iss": c.id, "sub": c.id, "aud": aud, "iat": now(), "exp": now() + 60, "jti": jti(),
    });
    let mut pairs = match path {
        "/par" => c.par_params(),
        "/token" => vec![("grant_type".into(), "client_credentials".into())],
        _ => vec![("token".into(), "not-a-token-of-ours".into())],
    };
    pairs.extend([
        ("client_id".into(), c.id.clone()),
        (
            "client_assertion_type".into(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion".into(), c.assertion_with(claims).await),
    ]);
    let headers = match path {
        "/par" | "/token" => vec![("dpop", c.proof("POST", &url, None).await)],
        _ => Vec::new(),
    };
    let resp = send_form(app, path, &pairs, &headers).await;
    let status = resp.status();
    let body = if status == StatusCode::OK && path == "/revoke" {
        Value::Null // RFC 7009 §2.2: an empty 200.
    } else {
        body_json(resp).await
    };
    (status, body)
}

async fn every_endpoint_accepts_only_the_issuer_string(app: TestApp) {
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    for path in ENDPOINTS {
        for aud in refused_audiences(path) {
            let (status, body) = send(&app, &c, path, &aud).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} aud={aud}: {body}");
            assert_eq!(body["error"], "invalid_client", "{path} aud={aud}");
            let description = body["error_description"].as_str().unwrap();
            assert!(
                description.contains("issuer identifier as a string"),
                "{path} aud={aud}: {description}"
            );
        }
        // The issuer as a string is accepted.
        let (status, body) = send(&app, &c, path, &json!(ISSUER)).await;
        let expected = if path == "/par" {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{path} aud=issuer: {body}");
    }
    // Every refusal is in the audit log with its reason, attributed to the client.
    let entries = app.audit_entries().await;
    for path in ENDPOINTS {
        let refusals = entries
            .iter()
            .filter(|e| {
                e.record.action == action(path)
                    && e.record.outcome == shonin_audit::Outcome::Failure
                    && e.record.actor.id == c.id
                    && e.record.reason.as_deref().is_some_and(|r| {
                        r.starts_with("invalid_client: client assertion aud")
                            && r.contains("FAPI 2.0 §5.3.2.1 item 8")
                    })
            })
            .count();
        assert_eq!(refusals, refused_audiences(path).len(), "{path}");
    }
}

#[tokio::test]
async fn sqlite_every_endpoint_accepts_only_the_issuer_string_as_aud() {
    every_endpoint_accepts_only_the_issuer_string(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_every_endpoint_accepts_only_the_issuer_string_as_aud() {
    let db = TestDb::postgres()
        .await
        .expect("PostgreSQL for the audience test (see docs/testing.md)");
    let url = db.url().to_owned();
    let app = TestApp::with(|c| c.storage.url = url).await;
    every_endpoint_accepts_only_the_issuer_string(app).await;
}
