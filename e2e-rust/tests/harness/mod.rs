//! A real `shonin --dev serve` in a temp dir, with one registered client and one user; set up
//! like `e2e/lib/server.mjs` and `e2e-python/harness.py`.
//!
//! It builds nothing. The binary is `SHONIN_BIN` (a relative path is taken relative to the
//! workspace root), else `shonin` in the profile directory this test executable was built into
//! (`<target>/debug/deps/<test>` → `<target>/debug/shonin`, which follows `CARGO_TARGET_DIR`).
//! A workspace build (`cargo nextest run --workspace`, `cargo test --workspace`, hence
//! scripts/test's `test` step) compiles that binary before any test runs, because
//! `shonin-server` has integration tests and cargo builds a package's binaries for them. `cargo
//! test -p shonin-e2e-rust` alone does not (artifact dependencies are unstable), so it may run an
//! old binary: run `cargo build -p shonin-server` first.
//!
//! TLS: every HTTP client here trusts ONLY the development CA the server writes to
//! `<tmp>/shonin-data/tls/dev-ca.pem` (`tls_certs_only`), and connects to 127.0.0.1 whatever
//! `localhost` resolves to. Certificate checks are never switched off.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{Value, json};
use shonin_jose::Alg;
use shonin_keys::{LocalSigner, Signer};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "rs-client";
pub const CLIENT_NAME: &str = "Rust client";
pub const USERNAME: &str = "alice";
pub const SCOPE: &str = "openid accounts";

/// The `shonin` binary to test; panics with a clear message when there is none.
pub fn shonin_binary() -> PathBuf {
    let (bin, why) = match std::env::var_os("SHONIN_BIN") {
        // Cargo runs tests in the package directory: a relative SHONIN_BIN is taken relative
        // to the workspace root instead, where it was most likely typed.
        Some(p) => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p),
            "SHONIN_BIN, relative to the workspace root".to_owned(),
        ),
        None => {
            let exe = std::env::current_exe().expect("current_exe");
            // <target>/<profile>/deps/<test executable>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the test executable lives in <target>/<profile>/deps");
            (
                profile_dir.join("shonin"),
                format!("next to this test's build ({})", exe.display()),
            )
        }
    };
    let ok = std::fs::metadata(&bin)
        .map(|m| {
            m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
        })
        .unwrap_or(false);
    assert!(
        ok,
        "shonin binary not found or not executable: {} ({why}).\n\
         Build it first: `cargo build -p shonin-server` (a workspace test run such as \
         `cargo nextest run --workspace` or scripts/test builds it), or point SHONIN_BIN at it.",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| "<no log>".to_owned());
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A reqwest client that trusts only `ca_pem`, follows no redirects, uses no proxy, and sends
/// `localhost:<port>` to 127.0.0.1.
pub fn pinned_client(ca_pem: &[u8], port: u16) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("dev CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

#[derive(Debug)]
pub struct Server {
    pub issuer: String,
    pub port: u16,
    pub redirect_uri: String,
    pub password: String,
    /// The client's private_key_jwt key (ES256); only its public JWK is registered.
    pub client_key: Arc<LocalSigner>,
    pub ca_pem: Vec<u8>,
    dir: Option<tempfile::TempDir>,
    log_file: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts a fresh server; tries again with a new port if `serve` could not bind the chosen one.
    pub async fn start() -> Server {
        let mut attempt = 1;
        loop {
            match Self::start_once().await {
                Ok(s) => return s,
                Err(msg) if attempt < 3 && msg.contains("PORT TAKEN") => attempt += 1,
                Err(msg) => panic!("{msg}"),
            }
        }
    }

    async fn start_once() -> Result<Server, String> {
        let bin = shonin_binary();
        let dir = tempfile::Builder::new()
            .prefix("shonin-rs-")
            .tempdir()
            .unwrap();
        let data_dir = dir.path().join("shonin-data");
        let port = free_port();
        let issuer = format!("https://localhost:{port}");
        let redirect_uri = format!("https://localhost:{port}/cb");
        let password = format!("pw-{}", shonin_oauth::claims::new_jti().unwrap());

        let client_key = Arc::new(LocalSigner::generate(Alg::ES256).unwrap());
        let jwks_file = dir.path().join("jwks.json");
        std::fs::write(
            &jwks_file,
            serde_json::to_vec_pretty(&json!({"keys": [client_key.public_jwk()]})).unwrap(),
        )
        .unwrap();

        let command = |args: &[&str]| {
            let mut c = Command::new(&bin);
            c.current_dir(dir.path())
                .arg("--dev")
                .arg("--data-dir")
                .arg(&data_dir)
                .args(args);
            // The config loader treats every SHONIN_* variable as configuration and rejects
            // unknown names (scripts/test exports SHONIN_REPO_ROOT): pass none but ours.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("SHONIN_") {
                    c.env_remove(k);
                }
            }
            c.env("SHONIN_ISSUER", &issuer)
                .env("SHONIN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
                .env("SHONIN_RATE_LIMIT__PER_IP_PER_SECOND", "0")
                .env("NO_COLOR", "1");
            c
        };
        let run = |args: &[&str], stdin: &str| {
            use std::io::Write;
            let mut child = command(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "`shonin {}` failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };

        // `migrate` does not create the data directory (`serve --dev` does): make it owner-only.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&data_dir)
            .unwrap();
        run(&["migrate"], "");
        run(
            &[
                "clients",
                "add",
                "--client-id",
                CLIENT_ID,
                "--name",
                CLIENT_NAME,
                "--redirect-uri",
                &redirect_uri,
                "--jwks-file",
                jwks_file.to_str().unwrap(),
                "--scope",
                SCOPE,
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
            ],
            "",
        );
        run(
            &["users", "add", "--username", USERNAME, "--password-stdin"],
            &format!("{password}\n"),
        );

        let log_file = dir.path().join("server.log");
        let log = std::fs::File::create(&log_file).unwrap();
        let child = command(&["serve"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            issuer,
            port,
            redirect_uri,
            password,
            client_key,
            ca_pem: Vec::new(),
            dir: Some(dir),
            log_file,
            child: Some(child),
        };

        let ca_file = data_dir.join("tls").join("dev-ca.pem");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = "never tried".to_owned();
        loop {
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                let log = tail(&server.log_file, 40);
                let lower = log.to_lowercase();
                let taken =
                    if lower.contains("address already in use") || lower.contains("cannot bind") {
                        "PORT TAKEN: "
                    } else {
                        ""
                    };
                return Err(format!(
                    "{taken}shonin serve exited early ({status}):\n{log}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "shonin serve not ready within 30 s (last: {last}):\n{}",
                    tail(&server.log_file, 40)
                ));
            }
            if let Ok(pem) = std::fs::read(&ca_file) {
                let probe = pinned_client(&pem, port);
                match probe.get(format!("{}/readyz", server.issuer)).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => {
                        server.ca_pem = pem;
                        return Ok(server);
                    }
                    Ok(r) => last = format!("GET /readyz -> {}", r.status()),
                    Err(e) => last = format!("{e:?}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An HTTP client for this server (dev CA only, no redirects).
    pub fn http(&self) -> reqwest::Client {
        pinned_client(&self.ca_pem, self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log_file, 60)
    }

    /// SIGTERM by PID, then waits (asynchronously) for the exit; returns the exit status. The
    /// temp dir is removed after a clean stop, kept (and named on stderr) otherwise or with
    /// `SHONIN_E2E_KEEP=1`.
    pub async fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        let pid = child.id().to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(signalled.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait().unwrap();
                eprintln!("shonin serve did not stop within 20 s of SIGTERM; killed");
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let keep =
            !status.success() || std::env::var_os("SHONIN_E2E_KEEP").is_some_and(|v| v == "1");
        if keep && let Some(dir) = self.dir.take() {
            eprintln!("# shonin e2e-rust: kept {}", dir.keep().display());
        }
        status
    }
}

impl Drop for Server {
    /// A test that fails before `stop()` must not leave the server running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "# shonin e2e-rust: server killed after a failure; log tail:\n{}",
                tail(&self.log_file, 60)
            );
            if let Some(dir) = self.dir.take() {
                eprintln!("# shonin e2e-rust: kept {}", dir.keep().display());
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

/// A private_key_jwt client assertion (RFC 7523) with `aud` = the issuer (FAPI 2.0 §5.3.2.1).
pub async fn client_assertion(server: &Server) -> String {
    let claims = json!({
        "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": server.issuer,
        "iat": now(), "exp": now() + 60, "jti": shonin_oauth::claims::new_jti().unwrap(),
    });
    shonin_keys::sign_jwt(server.client_key.as_ref(), "JWT", &claims)
        .await
        .unwrap()
}

pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A DPoP proof (RFC 9449 §4.2) built like `crates/shonin-server/tests/common/oauth.rs` does.
pub async fn dpop_proof(
    key: &LocalSigner,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": key.alg().as_str(), "jwk": key.public_jwk()});
    let mut claims = json!({
        "jti": shonin_oauth::claims::new_jti().unwrap(), "htm": method, "htu": url, "iat": now(),
    });
    if let Some(at) = access_token {
        claims["ath"] = Value::from(shonin_oauth::dpop::access_token_hash(at));
    }
    let input = shonin_jose::signing_input(&header, &claims).unwrap();
    let sig = key.sign(input.as_bytes()).await.unwrap();
    shonin_jose::assemble(&input, &sig)
}
