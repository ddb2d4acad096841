//! Certificate-bound tokens (RFC 8705 §3) and their combinations with DPoP and private_key_jwt; operator pins and revocations.

use super::*;

#[tokio::test]
async fn tls_client_auth_issues_a_certificate_bound_bearer_token() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-cc");
    c.register(&app, mtls_registration(&c)).await;
    let leaf = ca.issue("tpp-one");
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    let at = body["access_token"].as_str().unwrap();
    // RFC 8705 §3.1: cnf.x5t#S256 is the thumbprint of the certificate, and nothing else.
    assert_eq!(claims(at)["cnf"], json!({"x5t#S256": leaf.x5t()}));

    // Introspection (the client authenticates with its certificate again) returns the cnf.
    let mut pairs = vec![("client_id".to_owned(), c.id.clone())];
    pairs.push(("token".into(), at.to_owned()));
    let resp = mtls_post(&app, "/introspect", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intro = body_json(resp).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["token_type"], "Bearer");
    assert_eq!(intro["cnf"], json!({"x5t#S256": leaf.x5t()}));

    // Revocation (RFC 7009), also authenticated by the certificate.
    let resp = mtls_post(&app, "/revoke", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = mtls_post(&app, "/introspect", &pairs, Some(&leaf)).await;
    assert_eq!(body_json(resp).await, json!({"active": false}));
}

#[tokio::test]
async fn code_flow_binds_access_and_refresh_tokens_to_the_certificate() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-code");
    c.register(&app, mtls_registration(&c)).await;
    add_user(&app, "alice").await;
    let leaf = ca.issue("tpp-one");

    let mut pairs = c.par_params();
    pairs.push(("client_id".into(), c.id.clone()));
    // DPoP at PAR would bind the code to a key this client never proves at /token.
    let dpop = c.proof("POST", &format!("{ISSUER}/par"), None).await;
    let req = form_req("/par", &pairs, &[("dpop", dpop)]);
    let resp = send_with(&app, "127.0.0.1:40000", Some(leaf.chain()), req).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");
    let resp = mtls_post(&app, "/par", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let request_uri = body_json(resp).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let (redirect, _) = sign_in_and_consent(&app, &c, &request_uri, "alice").await;
    let code = query_param(&redirect, "code").unwrap();
    let pairs = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), VERIFIER.into()),
        ("client_id".into(), c.id.clone()),
    ];
    let resp = mtls_post(&app, "/token", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    let at = body["access_token"].as_str().unwrap().to_owned();
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&at)["cnf"]["x5t#S256"], leaf.x5t());

    // Userinfo over the same certificate works; over another one, or none, it does not.
    assert_eq!(
        userinfo_bearer(&app, &at, Some(&leaf)).await.status(),
        StatusCode::OK
    );
    let other = ca.issue("tpp-one");
    let resp = userinfo_bearer(&app, &at, Some(&other)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        last_reason(&app, "oauth.userinfo")
            .await
            .contains("another client certificate")
    );
    let resp = userinfo_bearer(&app, &at, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await["error"], "invalid_token");
    // A certificate-bound token is not a DPoP token (RFC 9449 §7.1).
    let req = Request::get("/userinfo")
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            c.proof("GET", &format!("{ISSUER}/userinfo"), Some(&at))
                .await,
        )
        .body(Body::empty())
        .unwrap();
    let resp = send_with(&app, "127.0.0.1:40000", Some(leaf.chain()), req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Refresh: the same certificate works; another one of the same subject (it authenticates
    // the client) is not the one the refresh token is bound to.
    let refresh = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".into(), rt),
        ("client_id".into(), c.id.clone()),
    ];
    let resp = mtls_post(&app, "/token", &refresh, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let new_at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&new_at)["cnf"]["x5t#S256"], leaf.x5t());
    let resp = mtls_post(&app, "/token", &refresh, Some(&other)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err = body_json(resp).await;
    assert_eq!(err["error"], "invalid_grant");
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("another client certificate")
    );
}

#[tokio::test]
async fn mtls_authentication_with_dpop_bound_tokens() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-dpop");
    c.register(&app, |r| {
        mtls_registration(&c)(r);
        r.dpop_bound_access_tokens = true;
        r.tls_client_certificate_bound_access_tokens = false;
    })
    .await;
    let leaf = ca.issue("tpp-one");
    let url = format!("{ISSUER}/token");
    let resp = send_with(
        &app,
        "127.0.0.1:40000",
        Some(leaf.chain()),
        form_req(
            "/token",
            &cc_pairs(&c),
            &[("dpop", c.proof("POST", &url, None).await)],
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"],
        json!({"jkt": c.jkt()})
    );
    // The DPoP proof is still required.
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&leaf)).await;
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn private_key_jwt_with_certificate_bound_tokens() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("pkj-mtls");
    c.register(&app, |r| {
        r.dpop_bound_access_tokens = false;
        r.tls_client_certificate_bound_access_tokens = true;
    })
    .await;
    let url = format!("{ISSUER}/token");
    let mut pairs = cc_pairs(&c);
    pairs.retain(|(k, _)| k != "client_id");
    pairs.extend(c.auth_params().await);
    // Binding needs possession only (RFC 8705 §3): a self-signed certificate will do.
    let leaf = self_signed("anything");
    let resp = mtls_post(&app, "/token", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&at)["cnf"], json!({"x5t#S256": leaf.x5t()}));

    let mut pairs = cc_pairs(&c);
    pairs.retain(|(k, _)| k != "client_id");
    pairs.extend(c.auth_params().await);
    let resp = mtls_post(&app, "/token", &pairs, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        last_reason(&app, "oauth.token")
            .await
            .contains("no client certificate")
    );
    // A DPoP proof from a client whose tokens are certificate-bound is refused, not ignored.
    let mut pairs = cc_pairs(&c);
    pairs.retain(|(k, _)| k != "client_id");
    pairs.extend(c.auth_params().await);
    let dpop = c.proof("POST", &url, None).await;
    let resp = send_with(
        &app,
        "127.0.0.1:40000",
        Some(leaf.chain()),
        form_req("/token", &pairs, &[("dpop", dpop)]),
    )
    .await;
    assert_eq!(body_json(resp).await["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn operator_pins_and_revocations() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let pinned = ca.issue("tpp-one");
    let unpinned = ca.issue("tpp-one");
    let c = TestClient::new("mtls-pin");
    let pin = pinned.x5t();
    c.register(&app, |r| {
        mtls_registration(&c)(r);
        r.pinned_certificates = vec![pin];
    })
    .await;
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&unpinned)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(last_reason(&app, "oauth.token").await.contains("pinned"));
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&pinned)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revocation: the store revokes the tokens bound to the certificate, and the certificate is
    // refused from then on.
    use shonin_oauth::{ClientStore, TokenStore};
    let id = shonin_oauth::ClientId::try_from(c.id.as_str()).unwrap();
    let mut client = app.state.store.get_client(&id).await.unwrap().unwrap();
    client.revoked_certificates = vec![pinned.x5t()];
    app.state.store.update_client(&client).await.unwrap();
    let n = app
        .state
        .store
        .revoke_certificate_bound(&id, &pinned.x5t(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let mut pairs = vec![("client_id".to_owned(), c.id.clone())];
    pairs.push(("token".into(), at));
    let resp = mtls_post(&app, "/introspect", &pairs, Some(&pinned)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        last_reason(&app, "oauth.introspect")
            .await
            .contains("revoked by the operator")
    );
}

/// OpenID CIBA with a `tls_client_auth` client: the backchannel request and the token request
/// are authenticated by the certificate, and the tokens are bound to it (RFC 8705 §3).
#[tokio::test]
async fn ciba_tokens_are_bound_to_the_client_certificate() {
    use common::passkey::{browser, enrolled, passkey_sign_in, post_form};
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-ciba");
    c.register(&app, |r| {
        mtls_registration(&c)(r);
        r.grant_types = vec![shonin_oauth::ciba::CIBA_GRANT_TYPE.into()];
        r.redirect_uris = Vec::new();
        r.backchannel_token_delivery_mode = Some("poll".into());
    })
    .await;
    let (_, mut auth) = enrolled(&app, "alice").await;
    let leaf = ca.issue("tpp-one");
    let pairs = vec![
        ("client_id".to_owned(), c.id.clone()),
        ("scope".into(), "openid accounts".into()),
        ("login_hint".into(), "alice".into()),
    ];
    // Without the certificate the client is not authenticated.
    let resp = mtls_post(&app, "/bc-authorize", &pairs, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = mtls_post(&app, "/bc-authorize", &pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let auth_req_id = body_json(resp).await["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let path = format!("/ciba/{}", shonin_oauth::ciba::record_id(&auth_req_id));
    let mut b = browser(&app).await;
    let resp = passkey_sign_in(&app, &mut b, &mut auth, Some(&path), |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post_form(&app, &b, &format!("{path}/approve"), vec![]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let token_pairs = vec![
        ("client_id".to_owned(), c.id.clone()),
        (
            "grant_type".into(),
            shonin_oauth::ciba::CIBA_GRANT_TYPE.into(),
        ),
        ("auth_req_id".into(), auth_req_id),
    ];
    let resp = mtls_post(&app, "/token", &token_pairs, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens = body_json(resp).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"], json!({"x5t#S256": leaf.x5t()}));
    // The token works only over that certificate.
    let resp = userinfo_bearer(&app, at, Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = userinfo_bearer(&app, at, Some(&ca.issue("tpp-one"))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
