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

#[path = "../common/mod.rs"]
mod common;

mod authentication;
mod binding;
mod deployment;

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
use shonin_tls::ConnectionInfo;
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

fn escaped_pem(leaf: &Leaf) -> String {
    url::form_urlencoded::byte_serialize(leaf.cert_pem.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Reads one DER TLV at `i`: (tag, content, next index). Enough for a PKCS#1 RSAPublicKey.
fn der_tlv(b: &[u8], i: usize) -> (u8, &[u8], usize) {
    let tag = b[i];
    let (len, start) = match b[i + 1] {
        l if l < 0x80 => (l as usize, i + 2),
        0x81 => (b[i + 2] as usize, i + 3),
        0x82 => (((b[i + 2] as usize) << 8) | b[i + 3] as usize, i + 4),
        other => panic!("length form {other:#x}"),
    };
    (tag, &b[start..start + len], start + len)
}

fn self_signed_with(alg: &'static rcgen::SignatureAlgorithm) -> (Leaf, KeyPair) {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    dn(&mut params, "tpp-self");
    let cert = params.self_signed(&key).unwrap();
    let leaf = Leaf {
        der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key: Arc::new(KeyPair::from_pem(&key.serialize_pem()).unwrap()),
    };
    (leaf, key)
}
