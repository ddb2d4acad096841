//! `config check` applies the rules `serve` applies: a configuration that `serve` refuses at
//! startup is refused by `Config::validate`, the one check both commands run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use shonin_server::config::Config;
use std::path::Path;
use std::process::{Command, Output};

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

/// A `--dev` configuration under `dir` with `issuer` and `rp_id`, and its master key on disk.
fn config(dir: &Path, issuer: &str, rp_id: Option<&str>) -> Config {
    let mut c = Config::defaults(true, dir);
    c.issuer = issuer.to_owned();
    c.passkeys.rp_id = rp_id.map(str::to_owned);
    c.log.level = "warn".into();
    let key = shonin_keys::MasterKey::generate().unwrap();
    shonin_server::dev::write_private(
        c.keys.master_key_file.as_ref().unwrap(),
        key.to_base64().as_bytes(),
    )
    .unwrap();
    c
}

/// Every issuer / RP ID combination: `validate` accepts exactly what `serve`'s startup
/// (`runtime::build_state`, which builds the WebAuthn relying party) accepts.
#[tokio::test]
async fn validate_refuses_what_serve_refuses() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cases: &[(&str, Option<&str>)] = &[
        ("https://localhost:8443", None),
        ("https://localhost:8443", Some("localhost")),
        ("https://auth.bank.example", Some("bank.example")),
        ("https://auth.bank.example", Some("other.example")),
        ("https://auth.bank.example", Some("ank.example")),
        ("https://127.0.0.1:8443", None),
        ("https://127.0.0.1:8443", Some("127.0.0.1")),
        ("https://[::1]:8443", None),
        ("https://10.0.0.5", None),
    ];
    for (issuer, rp_id) in cases {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), issuer, *rp_id);
        let validated = c.validate(true).map_err(|e| e.to_string());
        let served = shonin_server::runtime::build_state(c)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:#}"));
        assert_eq!(
            validated.is_ok(),
            served.is_ok(),
            "issuer {issuer}, rp_id {rp_id:?}: validate {validated:?}, serve {served:?}"
        );
    }
}

#[test]
fn config_check_refuses_an_ip_address_issuer_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    for (issuer, host, fix) in [
        (
            "https://127.0.0.1:9443",
            "127.0.0.1",
            "https://localhost:9443",
        ),
        ("https://[::1]:8443", "[::1]", "https://localhost:8443"),
    ] {
        let out = shonin(
            dir.path(),
            &["--dev", "config", "check"],
            &[("SHONIN_ISSUER", issuer)],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{issuer}: {err}");
        assert!(
            err.contains("configuration key `issuer`")
                && err.contains(&format!("host {host} is an IP address"))
                && err.contains("WebAuthn")
                && err.contains(fix),
            "{err}"
        );
    }
}
