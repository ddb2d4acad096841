//! The `shonin` binary end to end: configuration errors, `serve --dev` over real TLS, key
//! rotation without restart, graceful shutdown, `audit verify` and `audit export`.
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

fn shonin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn unknown_config_key_fails_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shonin.toml"),
        "[storage]\nurll = \"sqlite:x.db\"\n",
    )
    .unwrap();
    let out = shonin(dir.path(), &["--dev", "config", "check"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("storage.urll"), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown key"), "{}", stderr(&out));
}

#[test]
fn invalid_config_value_fails_naming_key_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shonin.toml"),
        "[server]\nbody_limit_bytes = 10\n",
    )
    .unwrap();
    let out = shonin(dir.path(), &["--dev", "config", "check"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("server.body_limit_bytes") && err.contains("between 1024"),
        "{err}"
    );
}

#[test]
fn malformed_toml_fails_with_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shonin.toml"), "issuer = \n").unwrap();
    let out = shonin(dir.path(), &["--dev", "config", "check"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("shonin.toml"), "{}", stderr(&out));
}

#[test]
fn env_override_is_validated_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = shonin(
        dir.path(),
        &["--dev", "config", "check"],
        &[("SHONIN_STORAGE__URL", "mysql://x")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("storage.url"), "{}", stderr(&out));
    let out = shonin(
        dir.path(),
        &["--dev", "config", "check"],
        &[("SHONIN_STORAGE_URL", "x")],
    );
    assert!(
        !out.status.success(),
        "single underscore maps to no key and must fail"
    );
    assert!(stderr(&out).contains("storage_url"), "{}", stderr(&out));
}

#[test]
fn non_https_issuer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = shonin(
        dir.path(),
        &["--dev", "config", "check"],
        &[("SHONIN_ISSUER", "http://localhost:8443")],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`issuer`") && stderr(&out).contains("https"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_check_redacts_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = shonin(
        dir.path(),
        &["--dev", "config", "check"],
        &[(
            "SHONIN_STORAGE__URL",
            "postgres://shonin:s3cr3t-pw@db.internal/shonin",
        )],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("REDACTED") && !text.contains("s3cr3t-pw"),
        "{text}"
    );
    assert!(text.contains("# master key: from file"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
            .env("SHONIN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("SHONIN_ISSUER", format!("https://localhost:{port}"))
            .env("SHONIN_KEYS__RELOAD_INTERVAL_SECS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        Server {
            child,
            log: dir.join("server.log"),
        }
    }

    /// SIGTERM, then wait; async so this test's own HTTP client can answer the server's HTTP/2
    /// GOAWAY/PING while it drains.
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
                std::fs::read_to_string(&self.log).unwrap_or_default()
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

fn client(dir: &Path) -> reqwest::Client {
    let ca = std::fs::read(dir.join("shonin-data/tls/dev-ca.pem")).unwrap();
    let ca = reqwest::Certificate::from_pem(&ca).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

async fn wait_ready(dir: &Path, port: u16) -> (reqwest::Client, Duration) {
    let started = Instant::now();
    let ca_path = dir.join("shonin-data/tls/dev-ca.pem");
    loop {
        if ca_path.exists() {
            let c = client(dir);
            if let Ok(r) = c
                .get(format!("https://localhost:{port}/readyz"))
                .send()
                .await
                && r.status() == 200
            {
                return (c, started.elapsed());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server not ready in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn kids(c: &reqwest::Client, port: u16) -> Vec<String> {
    let jwks: serde_json::Value = c
        .get(format!("https://localhost:{port}/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn serve_dev_rotate_shutdown_verify_and_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();

    // First run creates the data directory and serves over TLS trusted via the dev CA.
    let server = Server::start(dir.path(), port);
    let (c, first_ready) = wait_ready(dir.path(), port).await;
    eprintln!("first run ready after {first_ready:?} (includes creating keys and the dev CA)");
    for f in [
        "shonin.db",
        "keyring.json",
        "master.key",
        "tls/dev-ca.pem",
        "tls/server.pem",
    ] {
        assert!(
            dir.path().join("shonin-data").join(f).exists(),
            "{f} created"
        );
    }
    let resp = c
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let before = kids(&c, port).await;
    assert_eq!(before.len(), 2);

    // Rotation from another process reaches the running server without a restart.
    let out = shonin(dir.path(), &["--dev", "keys", "rotate"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let next_kid = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("next     "))
        .unwrap()
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kids(&c, port).await.contains(&next_kid) {
        assert!(Instant::now() < deadline, "rotation not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = kids(&c, port).await;
    assert_eq!(after.len(), 3, "retired, current and next: {after:?}");
    assert!(before.iter().all(|k| after.contains(k)));

    let list = shonin(dir.path(), &["--dev", "keys", "list"], &[]);
    assert!(list.status.success());
    let listing = stdout(&list);
    assert_eq!(listing.matches("current").count(), 1, "{listing}");
    assert!(
        listing.contains("retired") && listing.contains("next"),
        "{listing}"
    );

    // SIGTERM: graceful stop, exit status 0.
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");

    // Second run reuses everything.
    let server = Server::start(dir.path(), port);
    let (_c, second_ready) = wait_ready(dir.path(), port).await;
    eprintln!("second run ready after {second_ready:?}");
    // A second server on the same SQLite file refuses to start: one process decides replays.
    let second_port = free_port();
    let mut second = Server {
        child: Command::new(BIN)
            .current_dir(dir.path())
            .args(["serve", "--dev"])
            .env_remove("SHONIN_MASTER_KEY")
            .env("SHONIN_SERVER__LISTEN", format!("127.0.0.1:{second_port}"))
            .env("SHONIN_ISSUER", format!("https://localhost:{second_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("second.log")).unwrap())
            .spawn()
            .unwrap(),
        log: dir.path().join("second.log"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "a second server kept running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(&second.log).unwrap();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("another process decides replay claims on this SQLite database"),
        "{log}"
    );
    assert!(server.terminate().await.success());

    let out = shonin(dir.path(), &["--dev", "audit", "verify"], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("audit chain OK"),
        "{}",
        stdout(&out)
    );

    let out = shonin(dir.path(), &["--dev", "audit", "export"], &[]);
    assert!(out.status.success());
    let actions: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for expected in ["keys.create", "server.start", "keys.rotate", "server.stop"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }

    // Editing one stored entry is reported with its sequence number. The append-only trigger
    // stops casual edits; an attacker with database access drops it first.
    let db = dir.path().join("shonin-data/shonin.db");
    let url = format!("sqlite:{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DROP TRIGGER audit_entries_no_update")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET action = 'keys.list' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = shonin(dir.path(), &["--dev", "audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("BROKEN at seq 2"), "{}", stdout(&out));
}

/// Hardening issue, item 2: with database write access, cutting the log short (checkpoints and
/// entries after seq N deleted, the head moved back) leaves a shorter log that holds. The anchor
/// the server wrote outside the database (`audit.anchor_file`) still names how far it reached.
#[tokio::test]
async fn a_log_cut_short_in_the_database_is_caught_by_the_anchor_kept_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("anchor.json");
    let anchor_env = anchor.to_str().unwrap();
    let env = [("SHONIN_AUDIT__ANCHOR_FILE", anchor_env)];
    // Each command is audited and checkpointed as it ends; the anchor follows each checkpoint.
    for _ in 0..3 {
        let out = shonin(dir.path(), &["--dev", "keys", "rotate"], &env);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&anchor).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&anchor).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // `audit anchor` exports the same latest checkpoint.
    let out = shonin(dir.path(), &["--dev", "audit", "anchor"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(exported, written);
    let anchored_seq = written["seq"].as_u64().unwrap();
    let out = shonin(
        dir.path(),
        &["--dev", "audit", "verify", "--anchor", anchor_env],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!("anchor at seq {anchored_seq} confirmed")),
        "{}",
        stdout(&out)
    );

    let db = dir.path().join("shonin-data/shonin.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    // The checkpoints are append-only like the entries; the attacker drops the guards first.
    let refused = sqlx::query("DELETE FROM audit_checkpoints")
        .execute(&pool)
        .await;
    assert!(refused.is_err());
    let first_cp: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM audit_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!((first_cp as u64) < anchored_seq);
    let attack = format!(
        "DROP TRIGGER audit_entries_no_delete; DROP TRIGGER audit_checkpoints_no_delete; \
         DELETE FROM audit_checkpoints WHERE seq > {first_cp}; \
         DELETE FROM audit_entries WHERE seq > {first_cp}; \
         UPDATE audit_head SET seq = {first_cp}, \
         hash = (SELECT hash FROM audit_entries WHERE seq = {first_cp});"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(attack))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The database alone cannot tell.
    let out = shonin(dir.path(), &["--dev", "audit", "verify"], &[]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("no anchor given"), "{}", stdout(&out));
    // The anchor can.
    let out = shonin(
        dir.path(),
        &["--dev", "audit", "verify", "--anchor", anchor_env],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let expected = format!(
        "BROKEN at seq {}: log truncated: the anchor attests entry {anchored_seq}, the log ends at {first_cp}",
        first_cp + 1
    );
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
}

/// Hardening issue, item 3 (retention): closed stretches of the log go to self-verifying segment
/// files and leave the database; `audit verify` checks the database from its base, and the
/// segments with it when given.
#[tokio::test]
async fn archived_segments_leave_the_database_and_still_verify_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = |n: usize| {
        for _ in 0..n {
            let out = shonin(dir.path(), &["--dev", "keys", "rotate"], &[]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
    };
    let run = |args: &[&str]| shonin(dir.path(), &[&["--dev", "audit"], args].concat(), &[]);
    rotate(2);
    let seg1 = dir.path().join("segment-1.jsonl");
    let seg1_arg = seg1.to_str().unwrap();
    let out = run(&["archive", "--output", seg1_arg, "--prune"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("archived entries 1–"),
        "{}",
        stdout(&out)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&seg1).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A segment is never overwritten.
    let out = run(&["archive", "--output", seg1_arg]);
    assert!(!out.status.success());
    rotate(2);
    let seg2 = dir.path().join("segment-2.jsonl");
    let seg2_arg = seg2.to_str().unwrap();
    let out = run(&["archive", "--output", seg2_arg, "--prune"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    rotate(1);

    // The database alone verifies from its base and says the rest is archived.
    let out = run(&["verify"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("are archived"), "{}", stdout(&out));
    // With the segments, oldest first, the whole history verifies.
    let out = run(&["verify", "--archive", seg1_arg, "--archive", seg2_arg]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("archives OK: 2 segments, entries 1–"),
        "{}",
        stdout(&out)
    );
    // Out of order, they do not join.
    let out = run(&["verify", "--archive", seg2_arg, "--archive", seg1_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // An edited line in a segment is found.
    let text = std::fs::read_to_string(&seg1).unwrap();
    std::fs::write(&seg1, text.replacen("keys.rotate", "keys.listed", 1)).unwrap();
    let out = run(&["verify", "--archive", seg1_arg, "--archive", seg2_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("BROKEN"), "{}", stdout(&out));
    // The prune itself is in the audit log.
    let out = run(&["export"]);
    assert!(
        stdout(&out).contains("\"action\":\"audit.archive\""),
        "{}",
        stdout(&out)
    );
}

/// `shonin 3ds check` reads messages from files and standard input with no configuration (even
/// beside a broken `shonin.toml`), prints one line per message and exits 0 only if all are valid.
#[test]
fn threeds_check_prints_a_line_per_message_and_fails_on_any_invalid_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shonin.toml"), "not = [toml").unwrap();
    let vectors =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shonin-3ds/tests/vectors/visa/3DSS-220-101");
    let areq = vectors.join("areq.json");
    let ares = vectors.join("ares.json");
    let out = shonin(
        dir.path(),
        &[
            "3ds",
            "check",
            areq.to_str().unwrap(),
            ares.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("areq.json: OK AReq 2.2.0\n") && text.contains("ares.json: OK ARes 2.2.0\n"),
        "{text}"
    );

    let mut message: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&areq).unwrap()).unwrap();
    let pan = message["acctNumber"].as_str().unwrap().to_owned();
    message["purchaseAmount"] = "12.34".into();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, message.to_string()).unwrap();
    let out = shonin(
        dir.path(),
        &["3ds", "check", "--erro", areq.to_str().unwrap(), "bad.json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("bad.json: AReq 2.2.0: Erro 203 Format of One or More Data Elements is Invalid (errorComponent A): purchaseAmount: "),
        "{text}"
    );
    assert!(
        text.contains("\"errorCode\":\"203\""),
        "--erro prints the Erro: {text}"
    );
    assert!(
        !text.contains(&pan),
        "the card number is never printed: {text}"
    );

    // Only the versions asked for are accepted.
    let old = vectors.join("../3DSS-210-101/areq.json");
    let out = shonin(
        dir.path(),
        &["3ds", "check", "--version", "2.2.0", old.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("Erro 102"), "{}", stdout(&out));

    // Standard input, and a file that cannot be read.
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args(["3ds", "check", "-", "missing.json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        &std::fs::read(&ares).unwrap(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("-: OK ARes 2.2.0") && text.contains("missing.json: cannot read"),
        "{text}"
    );
}

#[test]
fn ds_sim_refuses_a_settings_file_it_cannot_use_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = shonin(dir.path(), &["ds-sim", "missing.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
    let base = r#"
listen = "127.0.0.1:0"
certificate_file = "ds.pem"
key_file = "ds.key"
client_ca_file = "ca.pem"
client_certificate_file = "c.pem"
client_key_file = "c.key"
server_ca_file = "ca.pem"
"#;
    for (extra, named) in [
        (
            r#"public_url = "http://127.0.0.1:1""#,
            "public_url: an https URL",
        ),
        (
            r#"public_url = "https://127.0.0.1:1"
nonsense = 1"#,
            "unknown field `nonsense`",
        ),
        (
            r#"public_url = "https://127.0.0.1:1"
[[ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"
acs_url = "https://127.0.0.1:2/3ds/acs/areq"
acs_start_version = "2.4.0""#,
            "ranges[0].acs_start_version",
        ),
    ] {
        std::fs::write(dir.path().join("ds.toml"), format!("{base}{extra}")).unwrap();
        let out = shonin(dir.path(), &["ds-sim", "ds.toml"], &[]);
        assert_eq!(out.status.code(), Some(2), "{extra}");
        assert!(stderr(&out).contains(named), "{extra}: {}", stderr(&out));
    }
}

#[test]
fn check_tls_names_a_target_it_cannot_probe() {
    let dir = tempfile::tempdir().unwrap();
    let out = shonin(dir.path(), &["3ds", "check-tls", "no-port"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-port: expected HOST:PORT"),
        "{}",
        stderr(&out)
    );
    // Port 9 (discard) on loopback: nothing listens.
    let out = shonin(dir.path(), &["3ds", "check-tls", "127.0.0.1:9"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}
