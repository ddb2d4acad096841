//! Test harness: a complete in-process application on a fresh SQLite file (or PostgreSQL).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use shonin_server::config::{Config, ServerMode};
use shonin_server::state::AppState;
use shonin_tls::ConnectionInfo;
use std::net::SocketAddr;
use std::path::PathBuf;
use tower::ServiceExt;

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config::defaults(true, dir);
    c.server.mode = ServerMode::Tls;
    c.log.level = "warn".into();
    // Tests change clients in the store between requests and expect the next request to see
    // the change; the cache has its own tests (`oauth::client_cache`, and the storage-outage
    // test in tests/oauth.rs turns it back on).
    c.oauth.client_cache_secs = 0;
    c
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let master = config.keys.master_key_file.clone().unwrap();
        // A second node in a test shares the first node's master key and keyring.
        if !master.exists() {
            let key = shonin_keys::MasterKey::generate().unwrap();
            std::fs::write(&master, key.to_base64().as_bytes()).unwrap();
            set_private(&master);
        }
        let state = shonin_server::runtime::build_state(config).await.unwrap();
        let router = shonin_server::routes::router(state.clone());
        TestApp { state, router, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends `req` as if from `peer`.
    pub async fn send_from(&self, peer: &str, mut req: Request<Body>) -> Response<Body> {
        let peer: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectionInfo::plain(peer));
        self.router.clone().oneshot(req).await.unwrap()
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.send_from("127.0.0.1:40000", req).await
    }

    pub async fn get(&self, uri: &str) -> Response<Body> {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Audit entries written so far (after flushing nothing: appends are awaited by callers).
    pub async fn audit_entries(&self) -> Vec<shonin_audit::SealedEntry> {
        use shonin_audit::AuditStore;
        self.state.store.entries(1, 10_000).await.unwrap()
    }
}

#[cfg(unix)]
pub fn set_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

pub async fn body_json(resp: Response<Body>) -> serde_json::Value {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

pub async fn body_text(resp: Response<Body>) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}
/// The reasons of the audit log's failure entries for `action`.
pub async fn failures(app: &TestApp, action: &str) -> Vec<String> {
    app.audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.action == action && e.record.outcome == shonin_audit::Outcome::Failure)
        .map(|e| e.record.reason.unwrap_or_default())
        .collect()
}

/// Two nodes on one fresh PostgreSQL database: two complete application states with their own
/// connection pools, sharing the keyring. Keep the database handle alive for the test.
pub async fn two_nodes_on_postgres() -> (shonin_store::testing::TestDb, TestApp, TestApp) {
    let db = shonin_store::testing::TestDb::postgres()
        .await
        .expect("PostgreSQL for the two-node test (see docs/testing.md)");
    let url = db.url().to_owned();
    let a = TestApp::with(|c| c.storage.url = url.clone()).await;
    let keyring = a.state.config.keys.keyring.clone();
    let master = a.state.config.keys.master_key_file.clone();
    let b = TestApp::with(|c| {
        c.storage.url = url.clone();
        c.keys.keyring = keyring;
        c.keys.master_key_file = master;
    })
    .await;
    (db, a, b)
}

pub mod acs;
pub mod bank;
pub mod oauth;
pub mod passkey;
pub mod pci;
pub mod scheme_pki;
pub mod webhook;
