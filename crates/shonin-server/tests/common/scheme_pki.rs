//! A card scheme's test PKI for the 3-D Secure links: one CA, and leaf certificates for the
//! DS, ACS and 3DS Server — client certificates, or server certificates for 127.0.0.1 — written
//! as `<name>.pem` / `<name>.key` in a directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::{Value, json};
use shonin_tls::ConnectionInfo;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The RReqs a results listener received, each with the thumbprint of the client certificate
/// it came with; and how many it refused with 503 (see [`Received::fail_next`]).
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<Delivered>>>, Arc<Mutex<(usize, usize)>>);

/// One RReq and the thumbprint of the client certificate it came with.
pub type Delivered = (Value, Option<String>);

impl Received {
    pub fn all(&self) -> Vec<Delivered> {
        self.0.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Value> {
        self.all().into_iter().map(|(m, _)| m).collect()
    }

    /// The next `n` RReqs are answered 503 Service Unavailable and not recorded.
    pub fn fail_next(&self, n: usize) {
        self.1.lock().unwrap().0 = n;
    }

    /// How many RReqs were answered 503.
    pub fn refused(&self) -> usize {
        self.1.lock().unwrap().1
    }
}

/// Records the RReq and answers RRes 01 (or 503 while [`Received::fail_next`] says so).
async fn answer_rreq(
    State(received): State<Received>,
    axum::Extension(conn): axum::Extension<ConnectionInfo>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Value>, axum::http::StatusCode> {
    {
        let mut failing = received.1.lock().unwrap();
        if failing.0 > 0 {
            failing.0 -= 1;
            failing.1 += 1;
            return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let rreq: Value = serde_json::from_slice(&body).unwrap();
    let thumbprint = conn.client_leaf().map(|c| shonin_oauth::mtls::x5t_s256(c));
    received.0.lock().unwrap().push((rreq.clone(), thumbprint));
    Ok(axum::Json(json!({
        "messageType": "RRes",
        "messageVersion": rreq["messageVersion"],
        "threeDSServerTransID": rreq["threeDSServerTransID"],
        "acsTransID": rreq["acsTransID"],
        "dsTransID": rreq["dsTransID"],
        "resultsStatus": "01",
    })))
}

pub struct SchemePki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl SchemePki {
    /// The CA, written as `ca.pem` in `dir`.
    pub fn new(dir: &Path) -> SchemePki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Test Scheme CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        SchemePki {
            dir: dir.to_owned(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A client certificate `<name>.pem`/`.key`; its `x5t#S256`.
    pub fn client(&self, name: &str) -> String {
        self.leaf(name, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A server certificate for 127.0.0.1, `<name>.pem`/`.key`; its `x5t#S256`.
    pub fn server(&self, name: &str) -> String {
        self.leaf(
            name,
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn leaf(&self, name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name}.test"));
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
        shonin_oauth::mtls::x5t_s256(cert.der())
    }

    /// The DER of `<name>.pem`.
    pub fn der(&self, name: &str) -> rustls::pki_types::CertificateDer<'static> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_file(self.path(&format!("{name}.pem"))).unwrap()
    }

    /// An RReq listener (a DS's, or a 3DS Server's) with server certificate `<name>`: its
    /// `…/rreq` URL and what it receives.
    pub async fn results_listener(&self, name: &str) -> (String, Received) {
        let received = Received::default();
        let app = axum::Router::new()
            .route("/rreq", axum::routing::post(answer_rreq))
            .with_state(received.clone());
        (format!("{}/rreq", self.listen(name, app).await), received)
    }

    /// A TLS listener on 127.0.0.1 for `app` with server certificate `<name>`, asking for (not
    /// requiring) client certificates; its `https://127.0.0.1:<port>` base.
    pub async fn listen(&self, name: &str, app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.listen_on(listener, name, app)
    }

    /// [`SchemePki::listen`] on a listener bound before `app` was built (whose configuration
    /// names the listener's URL).
    pub fn listen_on(
        &self,
        listener: tokio::net::TcpListener,
        name: &str,
        app: axum::Router,
    ) -> String {
        let tls = shonin_tls::server_config(
            &self.path(&format!("{name}.pem")),
            &self.path(&format!("{name}.key")),
            shonin_tls::ClientCertMode::Optional,
        )
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(shonin_tls::serve(
            listener,
            Some(tls),
            app,
            shonin_tls::ServeLimits::default(),
            std::future::pending(),
        ));
        format!("https://127.0.0.1:{port}")
    }
}
