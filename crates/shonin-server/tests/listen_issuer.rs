//! `server.listen` and `issuer`: with `--dev` an issuer nobody set follows the listener's port,
//! and ports that disagree are warned about by `config check` and at `serve` start.
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

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG")
        .env_remove("SHONIN_ISSUER")
        .env_remove("SHONIN_SERVER__LISTEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn config_check(dir: &Path, env: &[(&str, &str)]) -> Output {
    command(dir, &["--dev", "config", "check"], env)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dev_issuer_follows_listen_from_the_environment_or_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = config_check(dir.path(), &[("SHONIN_SERVER__LISTEN", "127.0.0.1:9443")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("issuer = \"https://localhost:9443\""),
        "{text}"
    );
    assert!(!text.contains("# warning"), "{text}");

    std::fs::write(
        dir.path().join("shonin.toml"),
        "[server]\nlisten = \"127.0.0.1:9443\"\n",
    )
    .unwrap();
    let out = config_check(dir.path(), &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("issuer = \"https://localhost:9443\""),
        "{text}"
    );
    assert!(!text.contains("# warning"), "{text}");
}

#[test]
fn config_check_warns_when_the_ports_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let out = config_check(
        dir.path(),
        &[
            ("SHONIN_SERVER__LISTEN", "127.0.0.1:9443"),
            ("SHONIN_ISSUER", "https://localhost:8443"),
        ],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("# warning: server.listen 127.0.0.1:9443 is on port 9443, but the issuer https://localhost:8443 is on port 8443"),
        "{text}"
    );
}

/// A `serve --dev` child whose stderr goes to `log`; killed on drop.
struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let log = dir.join("server.log");
        let child = command(dir, &["serve", "--dev"], env)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Server { child, log }
    }

    /// The log up to "shonin ready".
    fn wait_ready(&mut self) -> String {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains("shonin ready") {
                return log;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("serve exited ({status}) before it was ready:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "server not ready in 60 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_dev_issuer_follows_listen_and_warns_when_ports_disagree() {
    // Only the listener set: the discovery document's issuer is on that port, no warning.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Server::start(dir.path(), &[("SHONIN_SERVER__LISTEN", &listen)]);
    let log = server.wait_ready();
    assert!(!log.contains("server.listen"), "{log}");
    let ca = std::fs::read(dir.path().join("shonin-data/tls/dev-ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let meta: serde_json::Value = client
        .get(format!(
            "https://localhost:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], format!("https://localhost:{port}"));
    drop(server);

    // An issuer on another port: serve starts (a NAT may forward it) and warns.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let other = if port == 9 { 10 } else { port - 1 };
    let issuer = format!("https://localhost:{other}");
    let mut server = Server::start(
        dir.path(),
        &[
            ("SHONIN_SERVER__LISTEN", &listen),
            ("SHONIN_ISSUER", &issuer),
        ],
    );
    let log = server.wait_ready();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("server.listen"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(
        warning.contains(&format!(
            "server.listen {listen} is on port {port}, but the issuer {issuer} is on port {other}"
        )),
        "{warning}"
    );
}
