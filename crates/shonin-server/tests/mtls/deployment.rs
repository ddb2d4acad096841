//! Deployment: the trusted-proxy header, discovery, real TLS handshakes, the alias listener, configuration rules and the admin CLI.

use super::*;

#[tokio::test]
async fn proxy_header_is_believed_only_from_a_trusted_proxy() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |c| {
        c.server.mode = ServerMode::Proxy;
        c.server.client_certificates = ClientCertificates::None;
        c.server.trusted_proxies = vec!["10.0.0.2".parse().unwrap()];
        c.server.client_certificate_header = Some("x-ssl-client-cert".into());
    })
    .await;
    let c = TestClient::new("mtls-proxy");
    c.register(&app, mtls_registration(&c)).await;
    let leaf = ca.issue("tpp-one");
    let header = ("x-ssl-client-cert", escaped_pem(&leaf));

    let resp = send_with(
        &app,
        "10.0.0.2:5000",
        None,
        form_req("/token", &cc_pairs(&c), std::slice::from_ref(&header)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&at)["cnf"]["x5t#S256"], leaf.x5t());

    // The same header straight from a client: ignored, audited, and the client has no
    // certificate.
    let resp = send_with(
        &app,
        "203.0.113.9:5000",
        None,
        form_req("/token", &cc_pairs(&c), std::slice::from_ref(&header)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let entries = app.audit_entries().await;
    let spoof = entries
        .iter()
        .find(|e| e.record.action == "mtls.certificate_header_spoofed")
        .expect("spoof attempt audited");
    assert_eq!(spoof.record.source_ip, Some("203.0.113.9".parse().unwrap()));
    // Repeats from the same peer within the minute are counted, not written one by one.
    for _ in 0..5 {
        let req = form_req("/token", &cc_pairs(&c), std::slice::from_ref(&header));
        let resp = send_with(&app, "203.0.113.9:5001", None, req).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let spoofs = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.action == "mtls.certificate_header_spoofed")
        .count();
    assert_eq!(spoofs, 1, "one entry per peer per minute");
    assert!(
        last_reason(&app, "oauth.token")
            .await
            .contains("no client certificate")
    );

    // A garbled header from the trusted proxy is not a certificate.
    let resp = send_with(
        &app,
        "10.0.0.2:5000",
        None,
        form_req(
            "/token",
            &cc_pairs(&c),
            &[("x-ssl-client-cert", "%%%".into())],
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        last_reason(&app, "oauth.token")
            .await
            .contains("could not be parsed")
    );
}

#[tokio::test]
async fn metadata_advertises_mtls_only_when_certificates_can_arrive() {
    let plain = TestApp::new().await;
    let doc = body_json(plain.get("/.well-known/openid-configuration").await).await;
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], false);
    assert!(doc.get("mtls_endpoint_aliases").is_none());

    // Certificates can arrive, but without a CA bundle tls_client_auth cannot succeed.
    let no_ca =
        TestApp::with(|c| c.server.client_certificates = ClientCertificates::Optional).await;
    let doc = body_json(no_ca.get("/.well-known/openid-configuration").await).await;
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt", "self_signed_tls_client_auth"])
    );
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);

    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |c| {
        c.server.mtls_listen = Some("127.0.0.1:0".parse().unwrap());
        c.server.mtls_base_url = Some("https://mtls.localhost:8444".into());
    })
    .await;
    let doc = body_json(app.get("/.well-known/oauth-authorization-server").await).await;
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!([
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ])
    );
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(
        doc["mtls_endpoint_aliases"]["token_endpoint"],
        "https://mtls.localhost:8444/token"
    );
    assert_eq!(
        doc["mtls_endpoint_aliases"]["pushed_authorization_request_endpoint"],
        "https://mtls.localhost:8444/par"
    );
}

/// The whole path over a real TLS 1.3 handshake: the TLS layer takes any certificate whose key
/// the client holds, and the token endpoint then applies RFC 8705.
#[tokio::test]
async fn real_tls_handshake_with_a_client_certificate() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-real");
    c.register(&app, mtls_registration(&c)).await;
    let leaf = ca.issue("tpp-one");
    let tls_dir = app.path("tls");
    let (pki, _) = shonin_tls::dev_pki::ensure(&tls_dir).unwrap();
    let server_tls = shonin_tls::server_config(
        &pki.server_cert,
        &pki.server_key,
        shonin_tls::ClientCertMode::Optional,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shonin_tls::serve(
        listener,
        Some(server_tls),
        app.router.clone(),
        shonin_tls::ServeLimits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let dev_ca = std::fs::read(&pki.ca_cert).unwrap();
    let identity =
        reqwest::Identity::from_pem(format!("{}{}", leaf.cert_pem, leaf.key_pem).as_bytes())
            .unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&dev_ca).unwrap()])
        .identity(identity)
        .build()
        .unwrap();
    let resp = client
        .post(format!("https://127.0.0.1:{}/token", addr.port()))
        .form(&cc_pairs(&c))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["x5t#S256"],
        leaf.x5t()
    );
    // Without a certificate the handshake still succeeds and the endpoint refuses the client.
    let anonymous = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&dev_ca).unwrap()])
        .build()
        .unwrap();
    let resp = anonymous
        .post(format!("https://127.0.0.1:{}/token", addr.port()))
        .form(&cc_pairs(&c))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn configuration_rules_for_mtls_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let check = |tweak: &dyn Fn(&mut Config)| {
        let mut c = Config::defaults(true, dir.path());
        tweak(&mut c);
        c.validate(false).err().map(|e| e.to_string())
    };
    let e = check(&|c| c.server.client_certificate_header = Some("x-ssl-client-cert".into()));
    assert!(e.unwrap().contains("server.client_certificate_header"));
    let e = check(&|c| {
        c.server.mode = ServerMode::Proxy;
        c.server.trusted_proxies = vec!["10.0.0.2".parse().unwrap()];
        c.server.client_certificate_header = Some("x ssl".into());
    });
    assert!(e.unwrap().contains("must be an HTTP header name"));
    let e = check(&|c| c.server.mtls_listen = Some("127.0.0.1:9443".parse().unwrap()));
    assert!(e.unwrap().contains("server.mtls_base_url"));
    let e = check(&|c| {
        c.server.mtls_listen = Some("127.0.0.1:9443".parse().unwrap());
        c.server.mtls_base_url = Some("http://mtls.example".into());
    });
    assert!(e.unwrap().contains("https"));
    let e = check(&|c| c.server.client_ca_file = Some(dir.path().join("missing.pem")));
    assert!(e.unwrap().contains("server.client_ca_file"));
    let ok = check(&|c| {
        c.server.mtls_listen = Some("127.0.0.1:9443".parse().unwrap());
        c.server.mtls_base_url = Some("https://mtls.localhost:9443".into());
    });
    assert_eq!(ok, None);
}

/// `server.mtls_listen`: a second listener that asks for certificates, whose endpoints live
/// under `mtls_base_url` (RFC 8705 §5): a DPoP proof there must name the alias URL.
#[tokio::test]
async fn mtls_alias_listener_serves_the_endpoints_under_its_own_url() {
    let ca = TestCa::new("Client CA");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let alias = format!("https://localhost:{port}");
    let alias_for_config = alias.clone();
    let (app, _pki) = app_with_ca(&ca, move |c| {
        c.server.client_certificates = ClientCertificates::None;
        c.server.mtls_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
        c.server.mtls_base_url = Some(alias_for_config);
    })
    .await;
    let (pki, _) = shonin_tls::dev_pki::ensure(&app.path("tls")).unwrap();
    let c = TestClient::new("mtls-alias");
    c.register(&app, |r| {
        mtls_registration(&c)(r);
        r.dpop_bound_access_tokens = true;
    })
    .await;
    let leaf = ca.issue("tpp-one");
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shonin_server::runtime::run(
        app.state.clone(),
        main,
        async {
            let _ = stopped.await;
        },
    ));
    let dev_ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_cert).unwrap()).unwrap();
    let identity =
        reqwest::Identity::from_pem(format!("{}{}", leaf.cert_pem, leaf.key_pem).as_bytes())
            .unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([dev_ca])
        .identity(identity)
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let token_url = format!("{alias}/token");
    let mut status = None;
    for _ in 0..400 {
        match http.get(format!("{alias}/readyz")).send().await {
            Ok(r) => {
                status = Some(r.status());
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(status.map(|s| s.as_u16()), Some(200));
    for (htu, expected) in [(token_url.clone(), 200), (format!("{ISSUER}/token"), 400)] {
        let resp = http
            .post(&token_url)
            .header("dpop", c.proof("POST", &htu, None).await)
            .form(&cc_pairs(&c))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), expected, "proof for {htu}");
        let body: Value = resp.json().await.unwrap();
        if expected == 200 {
            // Authenticated by the certificate, bound to the DPoP key and the certificate.
            let cnf = &claims(body["access_token"].as_str().unwrap())["cnf"];
            assert_eq!(cnf["jkt"], c.jkt());
            assert_eq!(cnf["x5t#S256"], leaf.x5t());
        } else {
            assert_eq!(body["error"], "invalid_dpop_proof");
        }
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn admin_cli_prints_thumbprints_pins_and_revokes_certificates() {
    const BIN: &str = env!("CARGO_BIN_EXE_shonin");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .current_dir(dir.path())
            .arg("--dev")
            .args(args)
            .env_remove("SHONIN_MASTER_KEY")
            .env_remove("SHONIN_CONFIG")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    std::fs::create_dir(dir.path().join("shonin-data")).unwrap();
    assert!(run(&["migrate"]).0);
    let ca = TestCa::new("Client CA");
    let leaf = ca.issue("tpp-one");
    let pem = dir.path().join("leaf.pem");
    std::fs::write(&pem, &leaf.cert_pem).unwrap();
    let (ok, out, err) = run(&["clients", "thumbprint", pem.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), leaf.x5t());

    let (ok, _, err) = run(&[
        "clients",
        "add",
        "--client-id",
        "tpp-1",
        "--name",
        "TPP One",
        "--grant-type",
        "client_credentials",
        "--scope",
        "accounts",
        "--auth-method",
        "tls_client_auth",
        "--tls-subject-dn",
        DN,
        "--dpop-bound=false",
        "--certificate-bound",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "clients",
        "update",
        "tpp-1",
        "--pin-certificate",
        "not-a-thumbprint",
    ]);
    assert!(!ok);
    assert!(err.contains("pinned_certificates"), "{err}");

    // A token bound to the certificate, then the revocation takes it with it.
    {
        use shonin_oauth::{TokenKind, TokenRecord, TokenStore};
        let url = format!(
            "sqlite:{}",
            dir.path().join("shonin-data/shonin.db").display()
        );
        let store = shonin_store::Store::connect(&url, &shonin_store::StoreOptions::default())
            .await
            .unwrap();
        let now = OffsetDateTime::now_utc();
        store
            .insert_token(&TokenRecord {
                token_hash: shonin_oauth::token_hash("bound"),
                kind: TokenKind::Access,
                client_id: shonin_oauth::ClientId::try_from("tpp-1").unwrap(),
                subject: None,
                grant_id: "g".into(),
                scope: "accounts".into(),
                authorization_details: None,
                cnf_jkt: None,
                cnf_x5t_s256: Some(leaf.x5t()),
                issued_at: now,
                expires_at: now + Duration::minutes(5),
                revoked_at: None,
            })
            .await
            .unwrap();
        store.close().await;
    }
    let x5t = leaf.x5t();
    let (ok, out, err) = run(&[
        "clients",
        "update",
        "tpp-1",
        "--pin-certificate",
        &x5t,
        "--revoke-certificate",
        &x5t,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("1 token(s) bound to it revoked"), "{out}");
    let (ok, out, _) = run(&["clients", "show", "tpp-1"]);
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["revoked_certificates"], json!([x5t]));
    assert_eq!(shown["pinned_certificates"], json!([x5t]));
    assert_eq!(shown["tls_client_auth_subject_dn"], DN);
    let (ok, out, _) = run(&["clients", "update", "tpp-1", "--unpin-certificate", &x5t]);
    assert!(ok, "{out}");
    let (_, out, _) = run(&["clients", "show", "tpp-1"]);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert!(shown.get("pinned_certificates").is_none(), "{shown}");
    let (_, audit, _) = run(&["audit", "export"]);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"clients.update\"") && l.contains("tpp-1"))
    );
}
