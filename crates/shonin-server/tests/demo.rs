//! `shonin demo` end to end: the real binary serves `--dev` over TLS, the demo client plays the
//! whole FAPI 2.0 flow against it and exits 0, the server stops cleanly on SIGTERM, and the audit
//! chain the flow wrote still verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shonin");

/// The step titles the demo prints, in order.
const TITLES: [&str; 11] = [
    "Discovery",
    "Pushed authorization request (PAR)",
    "Authorization endpoint: sign-in page",
    "Sign-in",
    "Consent page",
    "Consent: approve",
    "Token request (authorization_code + DPoP)",
    "Userinfo with the DPoP-bound access token",
    "Refresh (same DPoP key)",
    "Revoke the refresh token",
    "Revoked grant: access token rejected",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn issuer(port: u16) -> String {
    format!("https://localhost:{port}")
}

/// Runs `shonin args…` in `dir` with the same issuer as the server.
fn shonin(dir: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG")
        .env_remove("NO_COLOR")
        .env("SHONIN_ISSUER", issuer(port))
        .output()
        .unwrap()
}

struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, port: u16) -> Server {
        let child = Command::new(BIN)
            .current_dir(dir)
            .args(["serve", "--dev"])
            .env_remove("SHONIN_MASTER_KEY")
            .env_remove("SHONIN_CONFIG")
            .env("SHONIN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("SHONIN_ISSUER", issuer(port))
            // The test changes the client from another process and runs the demo again at
            // once; with the default cache the server would see the change only 5 s later.
            .env("SHONIN_OAUTH__CLIENT_CACHE_SECS", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        Server {
            child,
            log: dir.join("server.log"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait without blocking the runtime.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(dir: &Path, port: u16, server: &Server) {
    let started = Instant::now();
    let ca_path = dir.join("shonin-data/tls/dev-ca.pem");
    loop {
        if ca_path.exists()
            && let Ok(pem) = std::fs::read(&ca_path)
            && let Ok(ca) = reqwest::Certificate::from_pem(&pem)
        {
            let c = reqwest::Client::builder()
                .tls_certs_only([ca])
                .build()
                .unwrap();
            if let Ok(r) = c.get(format!("{}/readyz", issuer(port))).send().await
                && r.status() == 200
            {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server not ready in 60 s; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn demo_plays_the_whole_fapi_flow_against_serve_dev() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(dir.path(), port);
    wait_ready(dir.path(), port, &server).await;

    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || shonin(&dir, port, &["--dev", "demo"])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "demo failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        server.log()
    );
    let mut from = 0;
    for (i, title) in TITLES.iter().enumerate() {
        let heading = format!("Step {}/11 · {title}", i + 1);
        let at = stdout[from..]
            .find(&heading)
            .unwrap_or_else(|| panic!("no `{heading}` (in order) in:\n{stdout}"));
        from += at + heading.len();
    }
    assert!(stdout.contains("\"token_type\": \"DPoP\""), "{stdout}");
    assert!(stdout.contains("All 11 steps behaved as FAPI 2.0 requires."));
    // Not a terminal: no colour codes. Secrets abbreviated, the password never shown.
    assert!(!stdout.contains('\x1b'), "colour written to a pipe");
    assert!(stdout.contains("…("), "long values abbreviated");
    let user = std::fs::read_to_string(dir.path().join("shonin-data/demo-user.txt")).unwrap();
    let password = user
        .lines()
        .find_map(|l| l.strip_prefix("password:"))
        .unwrap()
        .trim();
    assert!(!stdout.contains(password), "the password was printed");

    // A client that must use server nonces (RFC 9449 §8): the demo retries once with the
    // DPoP-Nonce the server sends and still completes.
    let out = shonin(
        dir.path(),
        port,
        &[
            "--dev",
            "clients",
            "update",
            "demo-client",
            "--require-dpop-nonce",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || shonin(&dir, port, &["--dev", "demo"])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo with nonces failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"error\": \"use_dpop_nonce\"") && stdout.contains("DPoP-Nonce: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"nonce\":\""),
        "a proof carried the nonce: {stdout}"
    );

    let status = server.terminate().await;
    assert!(status.success(), "server exit status {status}");

    let out = shonin(dir.path(), port, &["--dev", "audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("audit chain OK"), "{text}");

    // With the server gone the demo exits 1 and names the step that failed.
    let out = shonin(dir.path(), port, &["--dev", "demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("demo step 1 (Discovery) failed"),
        "{stderr}"
    );
}

#[test]
fn demo_before_serve_dev_says_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Nothing set up yet: no demo client key.
    let out = shonin(dir.path(), port, &["--dev", "demo"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("private.jwk") && stderr.contains("serve --dev"),
        "{stderr}"
    );
}
