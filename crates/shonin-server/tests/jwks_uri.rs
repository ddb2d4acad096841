//! `private_key_jwt` clients registered with a `jwks_uri`: the key set is fetched over https from
//! a test server trusted through `oauth.jwks_ca_file`, cached, refetched after a key rotation,
//! and refused when it is private, too large or too slow.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::oauth::*;
use common::{TestApp, body_json};
use serde_json::{Value, json};
use shonin_jose::Alg;
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::client::{ClientError, validate};
use shonin_tls::{ClientCertMode, ServeLimits, dev_pki};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the client's key server serves, and how often `/jwks.json` was asked for.
struct KeyServer {
    jwks: Mutex<Value>,
    hits: AtomicUsize,
}

async fn jwks(State(s): State<Arc<KeyServer>>) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let body = s.jwks.lock().unwrap().to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn private(State(s): State<Arc<KeyServer>>) -> Response {
    let mut set = s.jwks.lock().unwrap().clone();
    // A private EC scalar next to the public key.
    set["keys"][0]["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    (
        [(header::CONTENT_TYPE, "application/json")],
        set.to_string(),
    )
        .into_response()
}

async fn big() -> Response {
    let body = format!(
        "{{\"keys\":[],\"pad\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn big_stream() -> Response {
    // Chunked, without Content-Length: the cap must hold while reading.
    let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 65536])));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn slow(State(s): State<Arc<KeyServer>>) -> Response {
    tokio::time::sleep(Duration::from_secs(10)).await;
    jwks(State(s)).await
}

async fn html(State(s): State<Arc<KeyServer>>) -> Response {
    let body = s.jwks.lock().unwrap().to_string();
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}

struct Fixture {
    app: TestApp,
    server: Arc<KeyServer>,
    base: String,
    _pki_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn start(first_key: Value) -> Fixture {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pki_dir = tempfile::tempdir().unwrap();
    let (pki, _) = dev_pki::ensure(pki_dir.path()).unwrap();
    let config =
        shonin_tls::server_config(&pki.server_cert, &pki.server_key, ClientCertMode::None).unwrap();
    let server = Arc::new(KeyServer {
        jwks: Mutex::new(json!({"keys": [first_key]})),
        hits: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route("/jwks.json", get(jwks))
        .route("/private.json", get(private))
        .route("/big.json", get(big))
        .route("/big-stream.json", get(big_stream))
        .route("/slow.json", get(slow))
        .route("/html.json", get(html))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = ServeLimits {
        shutdown_grace: Duration::from_millis(100),
        ..ServeLimits::default()
    };
    tokio::spawn(shonin_tls::serve(
        listener,
        Some(config),
        router,
        limits,
        async move {
            let _ = rx.await;
        },
    ));
    let ca = pki.ca_cert.clone();
    let app = TestApp::with(move |c| c.oauth.jwks_ca_file = Some(ca)).await;
    Fixture {
        app,
        server,
        base: format!("https://localhost:{port}"),
        _pki_dir: pki_dir,
        _shutdown: tx,
    }
}

async fn register(f: &Fixture, c: &TestClient, path: &str) {
    let uri = format!("{}{path}", f.base);
    c.register(&f.app, |r| {
        r.jwks = None;
        r.jwks_uri = Some(uri);
    })
    .await;
}

#[tokio::test]
async fn jwks_uri_client_gets_tokens_with_one_fetch_and_survives_key_rotation() {
    let mut c = TestClient::new("uri-app");
    let f = start(c.key.public_jwk().clone()).await;
    register(&f, &c, "/jwks.json").await;

    for _ in 0..2 {
        let resp = client_credentials(&f.app, &c).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = body_json(resp).await;
        assert_eq!(body["token_type"], "DPoP");
    }
    assert_eq!(f.server.hits.load(Ordering::SeqCst), 1, "cached");

    // The client rotates: its key server now lists only the new key, and it signs with it.
    c.key = Arc::new(LocalSigner::generate(Alg::ES256).unwrap());
    *f.server.jwks.lock().unwrap() = json!({"keys": [c.key.public_jwk()]});
    let resp = client_credentials(&f.app, &c).await;
    assert_eq!(resp.status(), StatusCode::OK, "new key after a refetch");
    assert_eq!(f.server.hits.load(Ordering::SeqCst), 2);
    let resp = client_credentials(&f.app, &c).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(f.server.hits.load(Ordering::SeqCst), 2, "new set cached");

    // Another unknown key right away: no second refetch within 30 s.
    c.key = Arc::new(LocalSigner::generate(Alg::ES256).unwrap());
    *f.server.jwks.lock().unwrap() = json!({"keys": [c.key.public_jwk()]});
    let resp = client_credentials(&f.app, &c).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await["error"], "invalid_client");
    assert_eq!(
        f.server.hits.load(Ordering::SeqCst),
        2,
        "refetch rate-limited"
    );
}

#[test]
fn http_jwks_uri_is_refused_at_registration() {
    let c = TestClient::new("plain-app");
    let mut reg = c.registration();
    reg.jwks = None;
    reg.jwks_uri = Some("http://localhost:1/jwks.json".into());
    let err = validate(reg, time::OffsetDateTime::now_utc()).unwrap_err();
    assert!(
        matches!(err, ClientError::JwksUriNotHttps { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unusable_key_sets_are_invalid_client_and_audited() {
    let c0 = TestClient::new("probe");
    let f = start(c0.key.public_jwk().clone()).await;
    let cases = [
        ("private-app", "/private.json"),
        ("big-app", "/big.json"),
        ("stream-app", "/big-stream.json"),
        ("html-app", "/html.json"),
        ("missing-app", "/nothing-here.json"),
        ("slow-app", "/slow.json"),
    ];
    for (id, path) in cases {
        let c = TestClient {
            id: id.to_owned(),
            key: c0.key.clone(),
            dpop: LocalSigner::generate(Alg::ES256).unwrap(),
        };
        register(&f, &c, path).await;
        let started = Instant::now();
        let resp = client_credentials(&f.app, &c).await;
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{path}: timeout"
        );
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_client", "{path}");
        let description = body["error_description"].as_str().unwrap();
        assert!(!description.contains("localhost"), "{description}");
        let entries = f.app.audit_entries().await;
        assert!(
            entries.iter().any(|e| e.record.action == "oauth.token"
                && e.record.target == id
                && e.record
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("jwks_uri"))),
            "{path}: no audit entry in {:?}",
            entries.iter().map(|e| &e.record).collect::<Vec<_>>()
        );
    }
    assert_eq!(f.server.hits.load(Ordering::SeqCst), 0);
}
