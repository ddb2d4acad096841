//! The TLS layer over real sockets on 127.0.0.1: protocol versions and cipher suites (RFC 9325),
//! ALPN, optional client certificates, connection limits, timeouts, graceful shutdown, and the
//! development PKI. Clients always verify the server against the development CA.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedCipherSuite};
use shonin_tls::dev_pki::{self, DevPki};
use shonin_tls::{ClientCertMode, ConnectionInfo, ServeLimits, TlsError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    pki: DevPki,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(mode: Option<ClientCertMode>, limits: ServeLimits) -> Server {
        Self::start_with(mode, limits, app()).await
    }

    async fn start_with(mode: Option<ClientCertMode>, limits: ServeLimits, app: Router) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
        let config =
            mode.map(|m| shonin_tls::server_config(&pki.server_cert, &pki.server_key, m).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(shonin_tls::serve(listener, config, app, limits, shutdown));
        Server {
            addr,
            stop: Some(stop),
            task,
            pki,
            _dir: dir,
        }
    }

    fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.pki.ca_cert).unwrap()
    }

    /// A reqwest client trusting only the development CA, with `localhost` pinned to the server.
    fn client(&self) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem()).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .resolve("localhost", self.addr)
            .timeout(Duration::from_secs(10))
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// A rustls client config trusting only the development CA.
    fn rustls_client(
        &self,
        suites: Option<Vec<SupportedCipherSuite>>,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> ClientConfig {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if let Some(suites) = suites {
            provider.cipher_suites = suites;
        }
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(&self.ca_pem()).unwrap())
            .unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    async fn handshake(
        &self,
        config: ClientConfig,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve() returns after shutdown")
            .unwrap()
    }
}

/// `/` answers "ok"; `/conn` answers with the leaf certificate DER the handler saw, plus
/// `x-tls` and `x-peer-ip` headers from the request's ConnectionInfo and ConnectInfo.
fn app() -> Router {
    Router::new().route("/", get(|| async { "ok" })).route(
        "/conn",
        get(
            |Extension(info): Extension<ConnectionInfo>,
             ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                let leaf = info.client_leaf().map(|c| c.to_vec()).unwrap_or_default();
                (
                    [
                        ("x-tls", info.tls.to_string()),
                        ("x-peer-ip", peer.ip().to_string()),
                    ],
                    leaf,
                )
            },
        ),
    )
}

fn short_limits() -> ServeLimits {
    ServeLimits {
        handshake_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    }
}

/// Reads until the server closes the connection; returns how long that took.
async fn time_until_closed<S: tokio::io::AsyncRead + Unpin>(mut stream: S) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "server did not close the idle connection");
    start.elapsed()
}

/// A counting `metrics` recorder, installed once for this test binary.
fn handshake_failures() -> &'static AtomicU64 {
    static COUNT: OnceLock<Arc<Failures>> = OnceLock::new();
    #[derive(Debug)]
    struct Failures(AtomicU64);
    impl metrics::CounterFn for Failures {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::SeqCst);
        }
        fn absolute(&self, _: u64) {}
    }
    #[derive(Debug)]
    struct Recorder(Arc<Failures>);
    impl metrics::Recorder for Recorder {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            if key.name() == "shonin_tls_handshake_failures_total" {
                metrics::Counter::from_arc(self.0.clone())
            } else {
                metrics::Counter::noop()
            }
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }
    &COUNT
        .get_or_init(|| {
            let failures = Arc::new(Failures(AtomicU64::new(0)));
            metrics::set_global_recorder(Recorder(failures.clone())).unwrap();
            failures
        })
        .0
}

// ---------------------------------------------------------------------------------------------
// HTTP over TLS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn http1_over_tls_is_served() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let resp = server
        .client()
        .http1_only()
        .build()
        .unwrap()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.text().await.unwrap(), "ok");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let resp = server
        .client()
        .build()
        .unwrap()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_certificate_is_valid_for_the_loopback_ip() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let resp = server
        .client()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn handler_sees_tls_connection_without_client_certificate() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let resp = server
        .client()
        .build()
        .unwrap()
        .get(server.url("/conn"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-tls"], "true");
    assert_eq!(resp.headers()["x-peer-ip"], "127.0.0.1");
    assert!(resp.bytes().await.unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn plain_http_is_served_when_tls_is_terminated_upstream() {
    let server = Server::start(None, ServeLimits::default()).await;
    let url = format!("http://127.0.0.1:{}/conn", server.addr.port());
    let resp = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.headers()["x-tls"], "false");
    // HTTP/2 with prior knowledge (RFC 9113 §3.3), as some proxies speak to their upstream.
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Client certificates
// ---------------------------------------------------------------------------------------------

/// A self-signed client certificate (RFC 8705 §2.2 style) and its identity PEM.
fn client_identity() -> (CertificateDer<'static>, reqwest::Identity) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test-client");
    let cert = params.self_signed(&key).unwrap();
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    (
        cert.der().clone(),
        reqwest::Identity::from_pem(pem.as_bytes()).unwrap(),
    )
}

#[tokio::test]
async fn optional_mode_passes_the_client_leaf_to_handlers() {
    let server = Server::start(Some(ClientCertMode::Optional), ServeLimits::default()).await;
    let (leaf, identity) = client_identity();
    for http1 in [true, false] {
        let mut builder = server.client().identity(identity.clone());
        if http1 {
            builder = builder.http1_only();
        }
        let resp = builder
            .build()
            .unwrap()
            .get(server.url("/conn"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), leaf.as_ref());
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn optional_mode_lets_clients_without_certificate_in() {
    let server = Server::start(Some(ClientCertMode::Optional), ServeLimits::default()).await;
    let resp = server
        .client()
        .build()
        .unwrap()
        .get(server.url("/conn"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[test]
fn connection_info_debug_does_not_dump_certificates() {
    let (leaf, _) = client_identity();
    let info = ConnectionInfo {
        peer_addr: "127.0.0.1:1".parse().unwrap(),
        tls: true,
        client_cert_chain: Some(Arc::from(vec![leaf.clone()])),
    };
    let debug = format!("{info:?}");
    assert!(debug.contains("<1 certificate(s)>"), "{debug}");
    assert!(debug.len() < 200, "{debug}");
    assert_eq!(info.client_leaf(), Some(&leaf));
    assert_eq!(ConnectionInfo::plain(info.peer_addr).client_leaf(), None);
}

// ---------------------------------------------------------------------------------------------
// Protocol versions and cipher suites (RFC 9325 §3.1.1, §4.2)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tls12_client_is_served_with_a_recommended_suite() {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;

    let resp = server
        .client()
        .tls_version_max(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Our certificate is ECDSA, so the ECDSA half of the RFC 9325 §4.2 list is negotiable.
    for suite in [
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ] {
        let config = server.rustls_client(
            Some(vec![suite]),
            &[&rustls::version::TLS12],
            &[b"http/1.1"],
        );
        let stream = server.handshake(config).await.unwrap();
        let (_, session) = stream.get_ref();
        assert_eq!(
            session.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        assert_eq!(session.negotiated_cipher_suite(), Some(suite));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls12_suite_outside_rfc9325_list_is_refused() {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    // ChaCha20-Poly1305 (RFC 7905) is not among RFC 9325 §4.2's recommended TLS 1.2 suites.
    let config = server.rustls_client(
        Some(vec![cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]),
        &[&rustls::version::TLS12],
        &[b"http/1.1"],
    );
    assert!(server.handshake(config).await.is_err());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls13_suites_are_those_rustls_ships() {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    for suite in [
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ] {
        let config = server.rustls_client(Some(vec![suite]), &[&rustls::version::TLS13], &[b"h2"]);
        let stream = server.handshake(config).await.unwrap();
        assert_eq!(stream.get_ref().1.negotiated_cipher_suite(), Some(suite));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_alpn_protocol_is_refused() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let config = server.rustls_client(None, &[&rustls::version::TLS13], &[b"imap"]);
    assert!(server.handshake(config).await.is_err());
    server.shutdown().await.unwrap();
}

/// A ClientHello with the given legacy `client_version` and no supported_versions extension,
/// otherwise acceptable to the server: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, P-256,
/// ecdsa_secp256r1_sha256 and (if `ems`) extended_master_secret.
fn legacy_client_hello(client_version: [u8; 2], ems: bool) -> Vec<u8> {
    let mut body = client_version.to_vec();
    body.extend([7u8; 32]); // random
    body.push(0); // session id
    body.extend([0x00, 0x02, 0xc0, 0x2b]); // cipher suites
    body.extend([0x01, 0x00]); // compression: null
    let extensions = [
        [0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17].as_slice(), // supported_groups: P-256
        &[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00],                       // ec_point_formats
        &[0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03],           // signature_algorithms
        if ems { &[0x00, 0x17, 0x00, 0x00] } else { &[] },           // extended_master_secret
    ]
    .concat();
    body.extend(u16::try_from(extensions.len()).unwrap().to_be_bytes());
    body.extend(extensions);

    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake record, TLS 1.0 record version
    record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend(handshake);
    record
}

/// What the server answers to `hello` (until it closes or 2 s pass).
async fn reply_to(server: &Server, hello: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n @ 1..) = tcp.read(&mut buf).await {
            reply.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    reply
}

#[tokio::test]
async fn tls10_and_tls11_client_hellos_get_a_protocol_version_alert() {
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    // Control: the same hello claiming TLS 1.2 gets a ServerHello, so only the version differs.
    let reply = reply_to(&server, &legacy_client_hello([0x03, 0x03], true)).await;
    assert_eq!(reply.first(), Some(&0x16), "{reply:02x?}");
    assert_eq!(
        reply.get(5),
        Some(&0x02),
        "expected ServerHello: {reply:02x?}"
    );

    for version in [[0x03, 0x01], [0x03, 0x02]] {
        let reply = reply_to(&server, &legacy_client_hello(version, true)).await;
        // RFC 8996 §5 / RFC 5246 §7.2: alert record, fatal (2), protocol_version (70).
        assert_eq!(reply.first(), Some(&0x15), "{version:02x?}: {reply:02x?}");
        assert_eq!(reply.get(5..7), Some([2u8, 70].as_slice()), "{reply:02x?}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls12_client_without_extended_master_secret_is_refused() {
    // RFC 9325 §3.5 / RFC 7627: the triple-handshake defence; see `server_config`.
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let reply = reply_to(&server, &legacy_client_hello([0x03, 0x03], false)).await;
    assert_eq!(
        reply.first(),
        Some(&0x15),
        "expected an alert: {reply:02x?}"
    );
    server.shutdown().await.unwrap();
}

/// The same with the `openssl` CLI when it is installed. rustls has no TLS < 1.2 code at all;
/// this is an interop check that a real legacy client is refused while TLS 1.2 works.
#[tokio::test]
async fn openssl_tls10_and_tls11_clients_are_refused() {
    let installed = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        eprintln!("openssl CLI not installed; covered by tls10_and_tls11_client_hellos_get_...");
        return;
    }
    let server = Server::start(Some(ClientCertMode::None), ServeLimits::default()).await;
    let ca = server.pki.ca_cert.to_str().unwrap().to_owned();
    for flag in ["-tls1", "-tls1_1", "-tls1_2"] {
        let out = tokio::process::Command::new("openssl")
            .args(["s_client", "-connect", &server.addr.to_string(), flag])
            .args(["-servername", "localhost", "-CAfile", &ca])
            // OpenSSL 3 will not even send TLS < 1.2 at its default security level.
            .args(["-cipher", "DEFAULT@SECLEVEL=0"])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if flag == "-tls1_2" {
            assert!(out.status.success(), "control: {text}");
            assert!(
                text.contains("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384"),
                "{text}"
            );
        } else {
            assert!(!out.status.success(), "{flag}: {text}");
            assert!(text.contains("Cipher is (NONE)"), "{flag}: {text}");
            assert!(text.contains("alert"), "{flag}: {text}");
        }
    }
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Timeouts and limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn silent_client_is_dropped_after_handshake_timeout_and_counted() {
    let failures = handshake_failures();
    let before = failures.load(Ordering::SeqCst);
    let server = Server::start(Some(ClientCertMode::None), short_limits()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let waited = time_until_closed(tcp).await;
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    assert!(failures.load(Ordering::SeqCst) > before);
    // The loop survived: the next client is served.
    let resp = server
        .client()
        .build()
        .unwrap()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn silent_client_after_handshake_is_dropped_for_both_http_versions() {
    let server = Server::start(Some(ClientCertMode::None), short_limits()).await;
    for alpn in [b"http/1.1".as_slice(), b"h2".as_slice()] {
        let config = server.rustls_client(None, &[&rustls::version::TLS13], &[alpn]);
        let stream = server.handshake(config).await.unwrap();
        let waited = time_until_closed(stream).await;
        assert!(
            waited >= Duration::from_millis(250),
            "{alpn:?}: closed too early: {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "{alpn:?}: {waited:?}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn silent_plain_client_is_dropped_after_header_read_timeout() {
    let server = Server::start(None, short_limits()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let waited = time_until_closed(tcp).await;
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let limits = ServeLimits {
        max_connections: 1,
        ..ServeLimits::default()
    };
    let server = Server::start(None, limits).await;
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let holder = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // let the server accept it

    let waiting = tokio::spawn(reqwest::Client::new().get(url).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "second connection was served past the limit"
    );

    drop(holder);
    let resp = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown
// ---------------------------------------------------------------------------------------------

fn slow_app(handler_started: mpsc::UnboundedSender<()>, delay: Duration) -> Router {
    Router::new().route(
        "/slow",
        get(move || async move {
            let _ = handler_started.send(());
            tokio::time::sleep(delay).await;
            "done"
        }),
    )
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    for http1 in [true, false] {
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let app = slow_app(started_tx, Duration::from_millis(500));
        let server =
            Server::start_with(Some(ClientCertMode::None), ServeLimits::default(), app).await;
        let addr = server.addr;
        let mut client = server.client();
        if http1 {
            client = client.http1_only();
        }
        let request = tokio::spawn(client.build().unwrap().get(server.url("/slow")).send());
        started.recv().await.unwrap();

        let began = Instant::now();
        server.shutdown().await.unwrap();
        assert!(
            began.elapsed() >= Duration::from_millis(300),
            "serve() returned before the request finished"
        );

        let resp = request.await.unwrap().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "done");
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "still accepting after shutdown"
        );
    }
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let app = slow_app(started_tx, Duration::from_secs(30));
    let limits = ServeLimits {
        shutdown_grace: Duration::from_millis(200),
        ..ServeLimits::default()
    };
    let server = Server::start_with(Some(ClientCertMode::None), limits, app).await;
    let request = tokio::spawn(
        server
            .client()
            .build()
            .unwrap()
            .get(server.url("/slow"))
            .send(),
    );
    started.recv().await.unwrap();

    let began = Instant::now();
    server.shutdown().await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert!(
        request.await.unwrap().is_err(),
        "the cut-off request cannot have succeeded"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration errors
// ---------------------------------------------------------------------------------------------

#[test]
fn server_config_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = shonin_tls::server_config(&missing, &missing, ClientCertMode::None).unwrap_err();
    assert!(matches!(err, TlsError::ReadFile { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[test]
fn server_config_rejects_a_key_for_another_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let ca_key = dir.path().join("dev-ca-key.pem");
    let err =
        shonin_tls::server_config(&pki.server_cert, &ca_key, ClientCertMode::None).unwrap_err();
    assert!(matches!(err, TlsError::KeyRejected { .. }), "{err:?}");
}

#[test]
fn malformed_key_file_error_does_not_echo_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let bad = dir.path().join("bad-key.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nSECRET$$$SECRET\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = shonin_tls::server_config(&pki.server_cert, &bad, ClientCertMode::None).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    assert!(err.to_string().contains("bad-key.pem"), "{err}");

    let no_key = dir.path().join("cert-only.pem");
    std::fs::copy(&pki.server_cert, &no_key).unwrap();
    let err =
        shonin_tls::server_config(&pki.server_cert, &no_key, ClientCertMode::None).unwrap_err();
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Development PKI
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn dev_pki_is_created_once_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (first, created) = dev_pki::ensure(dir.path()).unwrap();
    assert!(created);
    let ca = std::fs::read(&first.ca_cert).unwrap();
    let leaf = std::fs::read(&first.server_cert).unwrap();
    let key = std::fs::read(&first.server_key).unwrap();

    let (second, created) = dev_pki::ensure(dir.path()).unwrap();
    assert!(!created);
    assert_eq!(second, first);
    assert_eq!(std::fs::read(&second.ca_cert).unwrap(), ca);
    assert_eq!(std::fs::read(&second.server_cert).unwrap(), leaf);
    assert_eq!(std::fs::read(&second.server_key).unwrap(), key);

    #[cfg(unix)]
    {
        assert_eq!(mode(&first.server_key), 0o600);
        assert_eq!(mode(&dir.path().join("dev-ca-key.pem")), 0o600);
    }
}

#[test]
fn dev_pki_server_certificate_is_a_localhost_leaf_signed_by_the_ca() {
    use x509_parser::extensions::GeneralName;
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let leaf_pem = std::fs::read(&pki.server_cert).unwrap();
    assert_eq!(
        CertificateDer::pem_slice_iter(&leaf_pem).count(),
        1,
        "leaf only"
    );
    let leaf_der = CertificateDer::from_pem_slice(&leaf_pem).unwrap();
    let ca_der = CertificateDer::from_pem_slice(&std::fs::read(&pki.ca_cert).unwrap()).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();

    assert!(ca.is_ca());
    assert_eq!(
        ca.basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint,
        Some(0)
    );
    assert!(ca.key_usage().unwrap().unwrap().value.key_cert_sign());
    assert_eq!(
        ca.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "Shonin Development CA"
    );

    leaf.verify_signature(Some(ca.public_key())).unwrap();
    assert!(!leaf.is_ca());
    assert!(
        leaf.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );
    let sans = &leaf
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert!(sans.contains(&GeneralName::DNSName("localhost")));
    assert!(sans.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
    assert!(sans.contains(&GeneralName::IPAddress(
        &std::net::Ipv6Addr::LOCALHOST.octets()
    )));
    let days =
        (leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp()) / 86_400;
    assert!((89..=91).contains(&days), "{days} days");
}

#[test]
fn dev_pki_reissues_a_server_certificate_not_signed_by_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let ca = std::fs::read(&pki.ca_cert).unwrap();
    // Replace the server certificate and key with a self-signed pair.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let stray = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(&pki.server_cert, stray.pem()).unwrap();
    std::fs::write(&pki.server_key, key.serialize_pem()).unwrap();

    let (again, created) = dev_pki::ensure(dir.path()).unwrap();
    assert!(!created);
    assert_eq!(
        std::fs::read(&again.ca_cert).unwrap(),
        ca,
        "CA must be kept"
    );
    assert_ne!(
        std::fs::read_to_string(&again.server_cert).unwrap(),
        stray.pem()
    );
    shonin_tls::server_config(&again.server_cert, &again.server_key, ClientCertMode::None).unwrap();
}

#[test]
fn dev_pki_never_replaces_a_ca_with_a_missing_half() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(dir.path()).unwrap();
    let ca = std::fs::read(&pki.ca_cert).unwrap();
    std::fs::remove_file(dir.path().join("dev-ca-key.pem")).unwrap();
    let err = dev_pki::ensure(dir.path()).unwrap_err();
    assert!(matches!(err, TlsError::DevCaIncomplete { .. }), "{err:?}");
    assert_eq!(std::fs::read(&pki.ca_cert).unwrap(), ca);
}

/// `shonin 3ds check-tls`'s probe against our own listener: exactly the RFC 9325 suites of each
/// version, no legacy offer, the certificate, and whether a client certificate is asked for.
#[tokio::test]
async fn the_probe_finds_our_listener_keeps_the_rule() {
    use shonin_tls::probe::probe;
    for (mode, asks) in [
        (ClientCertMode::None, false),
        (ClientCertMode::Optional, true),
    ] {
        let server = Server::start(Some(mode), ServeLimits::default()).await;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(&server.pki.ca_cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let report = probe(server.addr, "localhost", Some(roots)).await;
        let accepted: Vec<String> = report
            .offers
            .iter()
            .filter(|o| o.accepted)
            .map(|o| format!("{} {}", o.version, o.suite))
            .collect();
        assert_eq!(
            accepted,
            [
                "TLS 1.3 TLS13_AES_256_GCM_SHA384",
                "TLS 1.3 TLS13_AES_128_GCM_SHA256",
                "TLS 1.3 TLS13_CHACHA20_POLY1305_SHA256",
                "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            ],
            "{report:#?}"
        );
        assert!(
            report.offers.iter().filter(|o| !o.allowed).count() >= 5,
            "legacy offers were made"
        );
        // Control: the raw hello is one a server answers, when it offers a suite it has.
        assert!(
            shonin_tls::probe::answers_hello(server.addr, [3, 3], &[0xc02b], Some("localhost"))
                .await
        );
        assert_eq!(report.client_certificate_requested, asks);
        let cert = report.certificate.clone().unwrap();
        assert!(cert.valid_now);
        assert_eq!(cert.trusted, Some(Ok(())));
        assert!(report.problems().is_empty(), "{:?}", report.problems());
        server.shutdown().await.unwrap();
    }
}
