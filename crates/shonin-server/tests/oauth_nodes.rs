//! Two nodes on one PostgreSQL database: any node continues a flow another began, and one-time
//! values (DPoP `jti`, authorization codes) are one-time across nodes. The two nodes are two
//! complete application states with their own connection pools in one test process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::StatusCode;
use common::oauth::*;
use common::{body_json, two_nodes_on_postgres};

#[tokio::test]
async fn two_nodes_on_postgres_share_flows_and_replay_state() {
    let (db, a, b) = two_nodes_on_postgres().await;
    assert_eq!(
        body_json(a.get("/readyz").await).await["storage"],
        "postgres"
    );
    let c = TestClient::new("bank-app");
    c.register(&a, |_| {}).await;
    add_user(&a, "alice").await;

    // PAR on A; sign-in and consent on B; token on A; userinfo on B.
    let request_uri = push(&a, &c).await;
    let (redirect, _) = sign_in_and_consent(&b, &c, &request_uri, "alice").await;
    let code = query_param(&redirect, "code").unwrap();
    let resp = redeem(&a, &c, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(userinfo(&b, &c, &at).await.status(), StatusCode::OK);

    // The code is single-use across nodes, and its reuse on B revokes what A issued.
    let resp = redeem(&b, &c, &code).await;
    assert_eq!(body_json(resp).await["error"], "invalid_grant");
    assert_eq!(
        userinfo(&a, &c, &at).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A DPoP proof accepted by A is a replay at B.
    let token_url = format!("{ISSUER}/token");
    let proof = c.proof("POST", &token_url, None).await;
    let mut pairs = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    pairs.extend(c.auth_params().await);
    let first = send_form(&a, "/token", &pairs, &[("dpop", proof.clone())]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let mut pairs = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    pairs.extend(c.auth_params().await);
    let replay = send_form(&b, "/token", &pairs, &[("dpop", proof)]).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(replay).await["error"], "invalid_dpop_proof");

    // And a client assertion accepted by A is a replay at B.
    let assertion = c.assertion(ISSUER).await;
    let with = |p: String| {
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".into(), c.id.clone()),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion".into(), p),
        ]
    };
    let ok = send_form(
        &a,
        "/token",
        &with(assertion.clone()),
        &[("dpop", c.proof("POST", &token_url, None).await)],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let again = send_form(
        &b,
        "/token",
        &with(assertion),
        &[("dpop", c.proof("POST", &token_url, None).await)],
    )
    .await;
    assert_eq!(body_json(again).await["error"], "invalid_client");

    a.state.audit.clone().shutdown().await;
    b.state.audit.clone().shutdown().await;
    let report = shonin_audit::verify(
        &a.state.store,
        &shonin_keys::KeySource::verification_jwks(&a.state.keys),
    )
    .await
    .unwrap();
    assert!(
        report.first_bad.is_none(),
        "one audit chain across both nodes: {report:?}"
    );
    a.state.store.close().await;
    b.state.store.close().await;
    db.destroy().await.unwrap();
}
