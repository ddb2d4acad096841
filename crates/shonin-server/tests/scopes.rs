//! `oauth.scopes`: discovery's `scopes_supported` is the operator's list (RFC 8414 §2), and a
//! scope the operator removed is no longer granted to any client, whatever its registration says.
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
use shonin_server::config::{Config, ConfigSource};

#[tokio::test]
async fn discovery_lists_the_configured_scopes() {
    let app = TestApp::with(|c| {
        c.oauth.scopes = vec!["payments".into(), "openid".into(), "fx:quotes".into()];
    })
    .await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = body_json(app.get(path).await).await;
        assert_eq!(
            doc["scopes_supported"],
            serde_json::json!(["openid", "payments", "fx:quotes"]),
            "{path}"
        );
        // Userinfo is never signed, so no algorithm is advertised for it.
        assert!(doc.get("userinfo_signing_alg_values_supported").is_none());
    }
}

async fn par(app: &TestApp, c: &TestClient, scope: &str) -> (StatusCode, serde_json::Value) {
    let url = format!("{ISSUER}/par");
    let mut pairs: Vec<(String, String)> = c
        .par_params()
        .into_iter()
        .map(|(k, v)| {
            if k == "scope" {
                (k, scope.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    let resp = send_form(app, "/par", &pairs, &[("dpop", proof)]).await;
    (resp.status(), body_json(resp).await)
}

#[tokio::test]
async fn a_scope_removed_from_the_configuration_is_refused_to_registered_clients() {
    // The client was registered for openid, accounts and payments; the operator now grants only
    // openid and payments.
    let app = TestApp::with(|c| c.oauth.scopes = vec!["openid".into(), "payments".into()]).await;
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    let (status, body) = par(&app, &c, "openid accounts").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    let (status, body) = par(&app, &c, "openid payments").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let resp = client_credentials(&app, &c).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_scope");
}

fn load(toml: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shonin.toml");
    std::fs::write(&file, toml).unwrap();
    let source = ConfigSource {
        file: Some(file),
        file_required: true,
        dev: true,
        data_dir: dir.path().to_owned(),
    };
    Config::load_with_env(&source, &[]).map_err(|e| e.to_string())
}

#[test]
fn the_scope_list_is_checked_and_clients_must_fit_it() {
    assert!(load("").is_ok());
    let e = load("[oauth]\nscopes = []\n").unwrap_err();
    assert!(e.contains("oauth.scopes"), "{e}");
    let e = load("[oauth]\nscopes = [\"openid\", \"a b\"]\n").unwrap_err();
    assert!(e.contains("oauth.scopes[1]"), "{e}");
    let e = load("[oauth]\nscopes = [\"openid\", \"openid\"]\n").unwrap_err();
    assert!(e.contains("listed twice"), "{e}");
    let client = r#"
[oauth]
scopes = ["openid", "payments"]

[[clients]]
client_id = "budget-app"
client_name = "Budget App"
redirect_uris = ["https://budget.example/cb"]
scope = ["openid", "accounts"]
jwks = { keys = [{ kty = "OKP", crv = "Ed25519", x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid = "k1" }] }
"#;
    let e = load(client).unwrap_err();
    assert!(
        e.contains("clients[0].scope") && e.contains("accounts not in oauth.scopes"),
        "{e}"
    );
}
