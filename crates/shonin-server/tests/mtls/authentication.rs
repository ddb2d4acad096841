//! Client authentication (RFC 8705 §2): chains, subjects, SANs, self-signed keys, and every way a certificate is refused.

use super::*;

#[tokio::test]
async fn certificate_problems_are_invalid_client_with_the_reason_audited() {
    let ca = TestCa::new("Client CA");
    let other_ca = TestCa::new("Other CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let c = TestClient::new("mtls-neg");
    c.register(&app, mtls_registration(&c)).await;
    let expired = ca.issue_with("tpp-one", |p| {
        p.not_before = OffsetDateTime::now_utc() - Duration::days(30);
        p.not_after = OffsetDateTime::now_utc() - Duration::days(1);
    });
    let cases: Vec<(&str, Option<Leaf>, &str)> = vec![
        ("no certificate", None, "no client certificate"),
        (
            "another CA",
            Some(other_ca.issue("tpp-one")),
            "does not chain",
        ),
        ("expired", Some(expired), "expired"),
        (
            "subject mismatch",
            Some(ca.issue("tpp-two")),
            "subject DN does not match",
        ),
        (
            "self-signed",
            Some(self_signed("tpp-one")),
            "does not chain",
        ),
        // The verifier's own text for this was `Other(OtherError(CaUsedAsEndEntity))`.
        (
            "a CA certificate as the client's",
            Some(ca.issue_with("tpp-one", |p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            })),
            "does not chain to a trusted client CA: certificate not acceptable",
        ),
    ];
    for (name, cert, reason) in cases {
        let resp = mtls_post(&app, "/token", &cc_pairs(&c), cert.as_ref()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_client", "{name}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(reason), "{name}: {body}");
        // A stable phrase, never a library's debug text.
        assert!(
            !description.contains("Error") && !description.contains('('),
            "{name}: {description}"
        );
        let audited = last_reason(&app, "oauth.token").await;
        assert!(
            audited.starts_with("invalid_client") && audited.contains(reason),
            "{name}: {audited}"
        );
    }
    // A client assertion is not accepted from an mTLS client (RFC 6749 §2.3: one method).
    let mut pairs = cc_pairs(&c);
    pairs.retain(|(k, _)| k != "client_id");
    pairs.extend(c.auth_params().await);
    let resp = mtls_post(&app, "/token", &pairs, Some(&ca.issue("tpp-one"))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        body_json(resp).await["error_description"]
            .as_str()
            .unwrap()
            .contains("tls_client_auth")
    );
}

#[tokio::test]
async fn every_san_kind_matches_exactly() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let leaf = ca.issue_with("whatever", |p| {
        p.subject_alt_names = vec![
            SanType::DnsName("tpp.example".try_into().unwrap()),
            SanType::URI("https://tpp.example/id".try_into().unwrap()),
            SanType::IpAddress("192.0.2.7".parse().unwrap()),
            SanType::Rfc822Name("ops@tpp.example".try_into().unwrap()),
        ];
    });
    type Set = fn(&mut ClientRegistration, Option<String>);
    let kinds: [(&str, Set, &str, &str); 4] = [
        (
            "dns",
            |r, v| r.tls_client_auth_san_dns = v,
            "TPP.example",
            "other.example",
        ),
        (
            "uri",
            |r, v| r.tls_client_auth_san_uri = v,
            "https://tpp.example/id",
            "https://tpp.example/other",
        ),
        (
            "ip",
            |r, v| r.tls_client_auth_san_ip = v,
            "192.0.2.7",
            "192.0.2.8",
        ),
        (
            "email",
            |r, v| r.tls_client_auth_san_email = v,
            "ops@TPP.example",
            "Ops@tpp.example",
        ),
    ];
    for (kind, set, good, bad) in kinds {
        for (value, ok) in [(good, true), (bad, false)] {
            let c = TestClient::new(&format!("san-{kind}-{ok}"));
            c.register(&app, |r| {
                mtls_registration(&c)(r);
                r.tls_client_auth_subject_dn = None;
                set(r, Some(value.to_owned()));
            })
            .await;
            let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&leaf)).await;
            let expected = if ok {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(resp.status(), expected, "{kind} {value}");
        }
    }
}

#[tokio::test]
async fn self_signed_tls_client_auth_matches_the_jwks() {
    let ca = TestCa::new("Client CA");
    let (app, _pki) = app_with_ca(&ca, |_| {}).await;
    let leaf = self_signed("tpp-self");
    let c = TestClient::new("mtls-self");
    let jwk = leaf.jwk();
    c.register(&app, |r| {
        r.token_endpoint_auth_method = "self_signed_tls_client_auth".into();
        r.jwks = Some(json!({"keys": [jwk]}));
        r.dpop_bound_access_tokens = false;
        r.tls_client_certificate_bound_access_tokens = true;
    })
    .await;
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let at = body_json(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&at)["cnf"]["x5t#S256"], leaf.x5t());

    let stranger = self_signed("tpp-self");
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&stranger)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        last_reason(&app, "oauth.token")
            .await
            .contains("not in the client's JWK set")
    );
}

#[tokio::test]
async fn intermediate_cas_are_taken_from_the_presented_chain() {
    let root = TestCa::new("Root CA");
    let inter_key = key();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    dn(&mut params, "Issuing CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let inter_cert = params.signed_by(&inter_key, &root.issuer).unwrap();
    let inter = TestCa {
        pem: inter_cert.pem(),
        issuer: Issuer::new(params, inter_key),
    };
    let (app, _pki) = app_with_ca(&root, |_| {}).await;
    let c = TestClient::new("mtls-chain");
    c.register(&app, mtls_registration(&c)).await;
    let leaf = inter.issue("tpp-one");
    let with_intermediate = vec![leaf.der.clone(), inter_cert.der().clone()];
    let req = form_req("/token", &cc_pairs(&c), &[]);
    let resp = send_with(&app, "127.0.0.1:40000", Some(with_intermediate), req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Without the intermediate there is no path to the bundle's root.
    let resp = mtls_post(&app, "/token", &cc_pairs(&c), Some(&leaf)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        last_reason(&app, "oauth.token")
            .await
            .contains("does not chain")
    );
}

#[test]
fn self_signed_keys_match_by_key_material_or_x5c_for_every_key_type() {
    use base64::Engine;
    use shonin_oauth::mtls::{ClientCertificate, MtlsError};
    let b64u = shonin_jose::b64url_encode;
    // Ed25519: `x` is the raw public key.
    let (ed, ed_key) = self_signed_with(&rcgen::PKCS_ED25519);
    let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(ed_key.public_key_raw())});
    // RSA: `n` and `e` from the PKCS#1 RSAPublicKey; a JWK may carry a leading zero byte.
    let (rsa, rsa_key) = self_signed_with(&rcgen::PKCS_RSA_SHA256);
    let pkcs1 = rsa_key.public_key_raw();
    let (_, seq, _) = der_tlv(pkcs1, 0);
    let (_, n, next) = der_tlv(seq, 0);
    let (_, e, _) = der_tlv(seq, next);
    let rsa_jwk = json!({"kty": "RSA", "n": b64u(n), "e": b64u(e)});
    // EC P-256, by coordinates and by x5c.
    let ec = self_signed("tpp-self");
    let x5c = base64::engine::general_purpose::STANDARD.encode(&ec.der);
    let x5c_jwk = json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "x5c": [x5c]});
    for (leaf, jwk) in [
        (&ed, &ed_jwk),
        (&rsa, &rsa_jwk),
        (&ec, &ec.jwk()),
        (&ec, &x5c_jwk),
    ] {
        let cert = ClientCertificate::parse(&leaf.der).unwrap();
        assert_eq!(cert.matches_jwks(&json!({"keys": [jwk]})), Ok(()), "{jwk}");
    }
    // Every certificate against every other key: no match.
    for (leaf, jwk) in [(&ed, &rsa_jwk), (&rsa, &ec.jwk()), (&ec, &ed_jwk)] {
        let cert = ClientCertificate::parse(&leaf.der).unwrap();
        assert_eq!(
            cert.matches_jwks(&json!({"keys": [jwk]})),
            Err(MtlsError::KeyNotRegistered)
        );
    }
    // A certificate with trailing bytes is not a certificate.
    let mut padded = ec.der.to_vec();
    padded.push(0);
    assert_eq!(
        ClientCertificate::parse(&padded).unwrap_err(),
        MtlsError::Unparseable
    );
}
