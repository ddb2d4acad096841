//! A storage failure in the middle of a handler — after the storage gate let the request in —
//! answers 503 `temporarily_unavailable` with `Retry-After`, never 500, at every endpoint that
//! writes or reads protocol state (PAR, token, introspection, revocation, userinfo). Faults are
//! injected into the real database: a trigger that refuses writes (on PostgreSQL with SQLSTATE
//! 23514, a constraint failure, which used to become `server_error`), or a table moved away.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use common::oauth::*;
use common::{TestApp, body_json};
use shonin_store::Store;
use shonin_store::testing::{TestDb, raw_execute};

/// A trigger that makes every `op` (INSERT or UPDATE) on `table` fail.
async fn refuse_writes(app: &TestApp, table: &str, op: &str) {
    let name = format!("fault_{}_{}", table, op.to_lowercase());
    let sql = match &app.state.store {
        Store::Sqlite(_) => format!(
            "CREATE TRIGGER {name} BEFORE {op} ON {table} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        ),
        Store::Postgres(_) => format!(
            "CREATE OR REPLACE FUNCTION shonin_injected_fault() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = '23514'; END $$; \
             CREATE TRIGGER {name} BEFORE {op} ON {table} \
             FOR EACH ROW EXECUTE FUNCTION shonin_injected_fault();"
        ),
    };
    raw_execute(&app.state.store, &sql).await.unwrap();
}

async fn heal_writes(app: &TestApp, table: &str, op: &str) {
    let name = format!("fault_{}_{}", table, op.to_lowercase());
    let sql = match &app.state.store {
        Store::Sqlite(_) => format!("DROP TRIGGER {name};"),
        Store::Postgres(_) => format!("DROP TRIGGER {name} ON {table};"),
    };
    raw_execute(&app.state.store, &sql).await.unwrap();
}

async fn rename(app: &TestApp, from: &str, to: &str) {
    let sql = format!("ALTER TABLE {from} RENAME TO {to};");
    raw_execute(&app.state.store, &sql).await.unwrap();
}

/// The handler itself answered 503 in the OAuth shape (the gate answers problem+json), with
/// `Retry-After`, no internal detail, and no challenge.
async fn assert_unavailable(what: &str, resp: Response<Body>) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert_eq!(resp.headers()[header::RETRY_AFTER], "5", "{what}");
    assert!(
        resp.headers().get(header::WWW_AUTHENTICATE).is_none(),
        "{what}"
    );
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/json",
        "{what}: answered by the handler, not by the storage gate"
    );
    let body = body_json(resp).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
    assert_eq!(
        body["error_description"], "the server could not complete the request",
        "{what}"
    );
}

async fn token_request(app: &TestApp, c: &TestClient, extra: &[(&str, &str)]) -> Response<Body> {
    let url = format!("{ISSUER}/token");
    let mut pairs: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    send_form(app, "/token", &pairs, &[("dpop", proof)]).await
}

async fn authenticated(app: &TestApp, c: &TestClient, path: &str, token: &str) -> Response<Body> {
    let mut pairs = vec![("token".to_owned(), token.to_owned())];
    pairs.extend(c.auth_params().await);
    send_form(app, path, &pairs, &[]).await
}

async fn storage_faults_mid_handler_are_503(app: TestApp) {
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    add_user(&app, "alice").await;
    let request_uri = push(&app, &c).await;
    let (redirect, _) = sign_in_and_consent(&app, &c, &request_uri, "alice").await;
    let resp = redeem(&app, &c, &query_param(&redirect, "code").unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens = body_json(resp).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    // PAR: the pushed request cannot be stored.
    refuse_writes(&app, "flow_records", "INSERT").await;
    let url = format!("{ISSUER}/par");
    let mut pairs = c.par_params();
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    let resp = send_form(&app, "/par", &pairs, &[("dpop", proof)]).await;
    assert_unavailable("PAR", resp).await;
    heal_writes(&app, "flow_records", "INSERT").await;

    // Token: no token record can be written (client_credentials and refresh_token).
    refuse_writes(&app, "oauth_tokens", "INSERT").await;
    let resp = token_request(&app, &c, &[("grant_type", "client_credentials")]).await;
    assert_unavailable("token (client_credentials)", resp).await;
    let resp = token_request(
        &app,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_unavailable("token (refresh_token)", resp).await;
    heal_writes(&app, "oauth_tokens", "INSERT").await;

    // Revocation: the record cannot be updated.
    refuse_writes(&app, "oauth_tokens", "UPDATE").await;
    let resp = authenticated(&app, &c, "/revoke", &rt).await;
    assert_unavailable("revoke", resp).await;
    heal_writes(&app, "oauth_tokens", "UPDATE").await;

    // Introspection and userinfo: the token table cannot be read.
    rename(&app, "oauth_tokens", "oauth_tokens_away").await;
    let resp = authenticated(&app, &c, "/introspect", &at).await;
    assert_unavailable("introspect", resp).await;
    let resp = userinfo(&app, &c, &at).await;
    assert_unavailable("userinfo", resp).await;
    rename(&app, "oauth_tokens_away", "oauth_tokens").await;

    // The gate never closed, and with the fault gone everything works again, nothing half done:
    // the refresh token was neither revoked nor replaced.
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(userinfo(&app, &c, &at).await.status(), StatusCode::OK);
    let resp = token_request(
        &app,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Each refusal is in the audit log.
    let entries = app.audit_entries().await;
    for action in [
        "oauth.par",
        "oauth.token",
        "oauth.revoke",
        "oauth.introspect",
        "oauth.userinfo",
    ] {
        assert!(
            entries.iter().any(|e| e.record.action == action
                && e.record
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("temporarily_unavailable"))),
            "{action} refusal audited"
        );
    }
}

#[tokio::test]
async fn sqlite_storage_faults_mid_handler_are_503() {
    storage_faults_mid_handler_are_503(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_storage_faults_mid_handler_are_503() {
    let db = TestDb::postgres()
        .await
        .expect("PostgreSQL for the storage fault test (see docs/testing.md)");
    let url = db.url().to_owned();
    storage_faults_mid_handler_are_503(TestApp::with(|c| c.storage.url = url).await).await;
}
