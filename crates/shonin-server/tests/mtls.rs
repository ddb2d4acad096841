//! RFC 8705 end to end through the router: `tls_client_auth` (CA bundle + subject DN or SAN),
//! `self_signed_tls_client_auth` (JWKS), certificate-bound tokens at the token endpoint,
//! userinfo and introspection, the combinations with DPoP and `private_key_jwt`, operator pins
//! and revocations, the trusted-proxy certificate header, and a real TLS handshake.
//! Every certificate is generated here; no private key is committed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use common::oauth::*;
use common::{TestApp, body_json};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};
use shonin_oauth::ClientRegistration;
use shonin_oauth::mtls::x5t_s256;
use shonin_server::config::{ClientCertificates, Config, ServerMode};
use shonin_server::tls::ConnectionInfo;
use std::net::SocketAddr;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const DN: &str = "CN=tpp-one,O=Test Bank AG,C=DE";

struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

#[derive(Clone)]
struct Leaf {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    key: Arc<KeyPair>,
}

impl Leaf {
    fn x5t(&self) -> String {
        x5t_s256(&self.der)
    }

    /// The leaf's public key as a JWK (EC P-256).
    fn jwk(&self) -> Value {
        let raw = self.key.public_key_raw();
        json!({"kty": "EC", "crv": "P-256", "x": shonin_jose::b64url_encode(&raw[1..33]),
            "y": shonin_jose::b64url_encode(&raw[33..65]), "kid": "mtls"})
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.der.clone()]
    }
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn dn(params: &mut CertificateParams, cn: &str) {
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "DE");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Test Bank AG");
    params.distinguished_name.push(DnType::CommonName, cn);
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = key();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        dn(&mut params, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn issue_with(&self, cn: &str, tweak: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = key();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        dn(&mut params, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(30);
        tweak(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key: Arc::new(key),
        }
    }

    fn issue(&self, cn: &str) -> Leaf {
        self.issue_with(cn, |_| {})
    }
}

fn self_signed(cn: &str) -> Leaf {
    let key = key();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    dn(&mut params, cn);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key: Arc::new(key),
    }
}

/// An app whose client CA bundle is `ca`, asking TLS clients for certificates.
async fn app_with_ca(ca: &TestCa, tweak: impl FnOnce(&mut Config)) -> (TestApp, tempfile::TempDir) {
    let pki = tempfile::tempdir().unwrap();
    let ca_file = pki.path().join("client-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let app = TestApp::with(|c| {
        c.server.client_certificates = ClientCertificates::Optional;
        c.server.client_ca_file = Some(ca_file);
        tweak(c);
    })
    .await;
    (app, pki)
}

/// `tls_client_auth` by subject DN, certificate-bound tokens only.
fn mtls_registration(c: &TestClient) -> impl FnOnce(&mut ClientRegistration) {
    let _ = c;
    |r: &mut ClientRegistration| {
        r.token_endpoint_auth_method = "tls_client_auth".into();
        r.tls_client_auth_subject_dn = Some(DN.into());
        r.jwks = None;
        r.dpop_bound_access_tokens = false;
        r.tls_client_certificate_bound_access_tokens = true;
    }
}

async fn send_with(
    app: &TestApp,
    peer: &str,
    chain: Option<Vec<CertificateDer<'static>>>,
    req: Request<Body>,
) -> Response<Body> {
    let mut req = req;
    let peer: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectionInfo {
        peer_addr: peer,
        tls: chain.is_some(),
        client_cert_chain: chain.map(Arc::from),
    });
    app.router.clone().oneshot(req).await.unwrap()
}

fn form_req(uri: &str, pairs: &[(String, String)], headers: &[(&str, String)]) -> Request<Body> {
    let mut req =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    req.body(Body::from(form(pairs))).unwrap()
}

async fn mtls_post(
    app: &TestApp,
    uri: &str,
    pairs: &[(String, String)],
    cert: Option<&Leaf>,
) -> Response<Body> {
    send_with(
        app,
        "127.0.0.1:40000",
        cert.map(Leaf::chain),
        form_req(uri, pairs, &[]),
    )
    .await
}

fn cc_pairs(c: &TestClient) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), c.id.clone()),
        ("scope".into(), "accounts".into()),
    ]
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&shonin_jose::b64url_decode(payload).unwrap()).unwrap()
}

async fn userinfo_bearer(app: &TestApp, at: &str, cert: Option<&Leaf>) -> Response<Body> {
    let req = Request::get("/userinfo")
        .header("authorization", format!("Bearer {at}"))
        .body(Body::empty())
        .unwrap();
    send_with(app, "127.0.0.1:40000", cert.map(Leaf::chain), req).await
}

/// The reason of the last audit entry with `action`.
async fn last_reason(app: &TestApp, action: &str) -> String {
    app.audit_entries()
        .await
        .iter()
        .rev()
        .find(|e| e.record.action == action)
        .and_then(|e| e.record.reason.clone())
        .unwrap_or_default()
}

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
    ];
    for (name, cert, reason) in cases {
        let resp = mtls_post(&app, "/token", &cc_pairs(&c), cert.as_ref()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_client", "{name}");
        assert!(
            body["error_description"].as_str().unwrap().contains(reason),
            "{name}: {body}"
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
    pairs.extend(c.auth_params(&format!("{ISSUER}/token")).await);
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
    pairs.extend(c.auth_params(&url).await);
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
    pairs.extend(c.auth_params(&url).await);
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
    pairs.extend(c.auth_params(&url).await);
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

fn escaped_pem(leaf: &Leaf) -> String {
    url::form_urlencoded::byte_serialize(leaf.cert_pem.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

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
    let (pki, _) = shonin_server::tls::dev_pki::ensure(&tls_dir).unwrap();
    let server_tls = shonin_server::tls::server_config(
        &pki.server_cert,
        &pki.server_key,
        shonin_server::tls::ClientCertMode::Optional,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shonin_server::tls::serve(
        listener,
        Some(server_tls),
        app.router.clone(),
        shonin_server::tls::ServeLimits::default(),
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
    let (pki, _) = shonin_server::tls::dev_pki::ensure(&app.path("tls")).unwrap();
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
    for _ in 0..100 {
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
