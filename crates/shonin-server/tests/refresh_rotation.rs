//! Optional refresh-token rotation (`oauth.rotate_refresh_tokens`): a new refresh token per
//! refresh, the old one usable to retry for `oauth.refresh_retry_grace_secs` (FAPI 2.0 §5.3.2.1
//! item 8), RFC 7009 revocation final either way, and no rotation by default.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use common::oauth::*;
use common::{TestApp, body_json};
use serde_json::Value;
use shonin_jose::Alg;
use shonin_keys::LocalSigner;
use shonin_oauth::token_record::{TokenStore, token_hash};

async fn setup(rotate: bool, grace: u64) -> (TestApp, TestClient) {
    let app = TestApp::with(|c| {
        c.oauth.rotate_refresh_tokens = rotate;
        c.oauth.refresh_retry_grace_secs = grace;
    })
    .await;
    let c = TestClient::new("bank-app");
    c.register(&app, |_| {}).await;
    add_user(&app, "alice").await;
    (app, c)
}

/// The code flow's token response.
async fn tokens(app: &TestApp, c: &TestClient) -> Value {
    let request_uri = push(app, c).await;
    let (redirect, _) = sign_in_and_consent(app, c, &request_uri, "alice").await;
    let code = query_param(&redirect, "code").unwrap();
    let resp = redeem(app, c, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body_json(resp).await
}

async fn refresh_with(
    app: &TestApp,
    c: &TestClient,
    rt: &str,
    scope: Option<&str>,
) -> Response<Body> {
    let url = format!("{ISSUER}/token");
    let mut pairs = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".into(), rt.to_owned()),
    ];
    if let Some(s) = scope {
        pairs.push(("scope".into(), s.to_owned()));
    }
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    send_form(app, "/token", &pairs, &[("dpop", proof)]).await
}

async fn refresh(app: &TestApp, c: &TestClient, rt: &str) -> Response<Body> {
    refresh_with(app, c, rt, None).await
}

/// Refreshes successfully; returns the response body.
async fn refreshed(app: &TestApp, c: &TestClient, rt: &str) -> Value {
    let resp = refresh(app, c, rt).await;
    let status = resp.status();
    let body = body_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refused(app: &TestApp, c: &TestClient, rt: &str) -> Value {
    let resp = refresh(app, c, rt).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    body_json(resp).await
}

async fn revoke(app: &TestApp, c: &TestClient, token: &str) {
    let mut pairs = vec![("token".to_owned(), token.to_owned())];
    pairs.extend(c.auth_params().await);
    assert_eq!(
        send_form(app, "/revoke", &pairs, &[]).await.status(),
        StatusCode::OK
    );
}

fn rt(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap().to_owned()
}

async fn userinfo_status(app: &TestApp, c: &TestClient, v: &Value) -> StatusCode {
    userinfo(app, c, v["access_token"].as_str().unwrap())
        .await
        .status()
}

/// Moves every refresh token of the grant that expires within a day (the rotated ones, whose
/// grace window is running) a minute and more into the past.
async fn end_grace_windows(app: &TestApp) {
    let day = 86_400_000_000_i64;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let n = shonin_store::testing::raw_execute(
        &app.state.store,
        &format!(
            "UPDATE oauth_tokens SET expires_at = {} WHERE kind = 'refresh' AND expires_at < {}",
            now - 61_000_000,
            now + day
        ),
    )
    .await
    .unwrap();
    assert!(n >= 1, "a rotated token to age");
}

#[tokio::test]
async fn without_rotation_the_refresh_token_is_kept() {
    let (app, c) = setup(false, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    for _ in 0..2 {
        let r = refreshed(&app, &c, &old).await;
        assert!(r.get("refresh_token").is_none(), "not rotated (FAPI 2.0)");
    }
    let rec = app
        .state
        .store
        .get_token(&token_hash(&old))
        .await
        .unwrap()
        .unwrap();
    assert!(rec.revoked_at.is_none());
    assert!(rec.expires_at > time::OffsetDateTime::now_utc() + time::Duration::days(29));
}

#[tokio::test]
async fn rotation_returns_a_new_bound_refresh_token_of_the_same_grant() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let r = refreshed(&app, &c, &old).await;
    let new = rt(&r);
    assert_ne!(new, old);
    assert!(new.len() >= 43, "≥ 256-bit refresh token");
    assert_eq!(userinfo_status(&app, &c, &r).await, StatusCode::OK);

    let store = &app.state.store;
    let o = store.get_token(&token_hash(&old)).await.unwrap().unwrap();
    let n = store.get_token(&token_hash(&new)).await.unwrap().unwrap();
    assert_eq!(n.grant_id, o.grant_id);
    assert_eq!(n.cnf_jkt.as_deref(), Some(c.jkt().as_str()));
    assert_eq!(n.scope, o.scope);
    assert_eq!(n.authorization_details, o.authorization_details);
    assert_eq!(n.subject, o.subject);
    // Rotation does not prolong the grant: the successor expires when the original would have.
    assert_eq!(n.issued_at, o.issued_at);
    let grant_end = o.issued_at + time::Duration::seconds(30 * 86400);
    assert_eq!(n.expires_at, grant_end);
    // The old token is not revoked, only ends its grace window soon.
    assert!(o.revoked_at.is_none());
    assert!(o.expires_at <= time::OffsetDateTime::now_utc() + time::Duration::seconds(60));

    // The successor rotates in turn.
    let r2 = refreshed(&app, &c, &new).await;
    assert_ne!(rt(&r2), new);
    let n2 = store
        .get_token(&token_hash(&rt(&r2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n2.expires_at, grant_end);

    // A narrower scope narrows the access token only; the successor keeps the grant's scope.
    let r3 = refresh_with(&app, &c, &rt(&r2), Some("openid")).await;
    assert_eq!(r3.status(), StatusCode::OK);
    let r3 = body_json(r3).await;
    assert_eq!(r3["scope"], "openid");
    let n3 = store
        .get_token(&token_hash(&rt(&r3)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n3.scope, o.scope);
}

#[tokio::test]
async fn old_token_retries_within_grace_and_fails_after_it() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let first = refreshed(&app, &c, &old).await;
    let window = app
        .state
        .store
        .get_token(&token_hash(&old))
        .await
        .unwrap()
        .unwrap()
        .expires_at;

    // The response was "lost": retry with the old token, inside the window.
    let retry = refreshed(&app, &c, &old).await;
    assert_ne!(rt(&retry), rt(&first));
    assert_eq!(userinfo_status(&app, &c, &retry).await, StatusCode::OK);
    let after = app
        .state
        .store
        .get_token(&token_hash(&old))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.expires_at, window,
        "a retry does not extend the window"
    );
    // The retry's successor still ends with the grant, not with the old token's window.
    let succ = app
        .state
        .store
        .get_token(&token_hash(&rt(&retry)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(succ.expires_at, after.issued_at + time::Duration::days(30));

    // Only the bound client and DPoP key may retry.
    let thief = TestClient {
        id: c.id.clone(),
        key: c.key.clone(),
        dpop: LocalSigner::generate(Alg::ES256).unwrap(),
    };
    let resp = refresh(&app, &thief, &old).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");
    let other = TestClient::new("other-app");
    other.register(&app, |_| {}).await;
    assert_eq!(refused(&app, &other, &old).await["error"], "invalid_grant");

    // After the window, a party without the bound key or another client gets invalid_grant and
    // changes nothing: a leaked token alone cannot cut off the legitimate client.
    end_grace_windows(&app).await;
    assert_eq!(refused(&app, &thief, &old).await["error"], "invalid_grant");
    assert_eq!(refused(&app, &other, &old).await["error"], "invalid_grant");
    let first = refreshed(&app, &c, &rt(&first)).await;
    assert_eq!(userinfo_status(&app, &c, &first).await, StatusCode::OK);
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_grant() {
    // RFC 9700 §4.14.2: the rotated token used again means two parties hold it.
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let next = refreshed(&app, &c, &old).await;
    let after_next = refreshed(&app, &c, &rt(&next)).await;
    end_grace_windows(&app).await;

    let resp = refresh(&app, &c, &old).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = body_json(resp).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("rotated and used again"),
        "{body}"
    );
    // Every token of the grant is refused: refresh tokens and access tokens alike.
    assert_eq!(
        refused(&app, &c, &rt(&after_next)).await["error"],
        "invalid_grant"
    );
    for v in [&t, &next, &after_next] {
        assert_eq!(userinfo_status(&app, &c, v).await, StatusCode::UNAUTHORIZED);
    }
    let rec = app
        .state
        .store
        .get_token(&token_hash(&rt(&after_next)))
        .await
        .unwrap()
        .unwrap();
    assert!(rec.revoked_at.is_some(), "the successor is revoked");
    // And the detection is in the audit log.
    assert!(app.audit_entries().await.iter().any(|e| {
        e.record.action == "oauth.token"
            && e.record
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("rotated and used again"))
    }));
}

#[tokio::test]
async fn a_refresh_token_that_expired_unrotated_revokes_nothing() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    // The grant ran its whole 30 days: its refresh token expired without being rotated.
    let month = 31 * 86_400_000_000_i64;
    let n = shonin_store::testing::raw_execute(
        &app.state.store,
        &format!(
            "UPDATE oauth_tokens SET issued_at = issued_at - {month}, \
             expires_at = expires_at - {month} WHERE kind = 'refresh'"
        ),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    let body = refused(&app, &c, &rt(&t)).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap()
            .contains("rotated"),
        "{body}"
    );
    // Nothing was revoked: the grant's access token still answers.
    assert_eq!(userinfo_status(&app, &c, &t).await, StatusCode::OK);
}

#[tokio::test]
async fn zero_grace_invalidates_the_old_token_at_once() {
    let (app, c) = setup(true, 0).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let r = refreshed(&app, &c, &old).await;
    // No retry window: the next use of the old token is a reuse, and revokes the grant.
    assert_eq!(refused(&app, &c, &old).await["error"], "invalid_grant");
    assert_eq!(refused(&app, &c, &rt(&r)).await["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&app, &c, &r).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revoking_the_old_token_within_grace_revokes_the_grant() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let r = refreshed(&app, &c, &old).await;
    revoke(&app, &c, &old).await;
    assert_eq!(refused(&app, &c, &old).await["error"], "invalid_grant");
    assert_eq!(refused(&app, &c, &rt(&r)).await["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&app, &c, &r).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&app, &c, &t).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revoking_the_new_token_revokes_the_grant_and_the_old_one() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    let r = refreshed(&app, &c, &old).await;
    revoke(&app, &c, &rt(&r)).await;
    assert_eq!(refused(&app, &c, &rt(&r)).await["error"], "invalid_grant");
    // Revocation is not rotation: the old token's grace window does not revive it.
    assert_eq!(refused(&app, &c, &old).await["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&app, &c, &r).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_token_is_never_rotated() {
    let (app, c) = setup(true, 60).await;
    let t = tokens(&app, &c).await;
    let old = rt(&t);
    revoke(&app, &c, &old).await;
    assert_eq!(refused(&app, &c, &old).await["error"], "invalid_grant");
}
