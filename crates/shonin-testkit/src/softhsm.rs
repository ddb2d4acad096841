//! A SoftHSM2 token for tests: one per test process, with a known PIN.
//!
//! PKCS#11 is initialised once per process, and SoftHSM2 reads its configuration then: the file
//! named by `SOFTHSM2_CONF` (the test command points it into `target/`), else the system's
//! `/etc/softhsm/softhsm2.conf`. Each test process makes its own token, labelled with its process
//! id, and deletes the tokens of test processes that are gone; tests within a process keep apart
//! by their key labels. The test command (`scripts/test`) installs SoftHSM2; without it these tests
//! fail and say so.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The user PIN of the test token.
pub const PIN: &str = "4711-shonin";
/// The prefix of test tokens' labels (`shonin-test-<pid>`).
pub const TOKEN_PREFIX: &str = "shonin-test-";
/// Where Debian's `softhsm2` package puts the module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A ready token.
#[derive(Debug, Clone)]
pub struct SoftHsm {
    pub module: PathBuf,
    pub token_label: String,
}

/// The process's token, made on first use; the error names what to install when SoftHSM2 is
/// missing.
pub fn token() -> Result<SoftHsm, String> {
    static TOKEN: OnceLock<Result<SoftHsm, String>> = OnceLock::new();
    TOKEN.get_or_init(make).clone()
}

fn softhsm2_util(args: &[&str]) -> Result<String, String> {
    let out = Command::new("softhsm2-util")
        .args(args)
        .output()
        .map_err(|e| format!("softhsm2-util could not be run ({e}): `apt-get install softhsm2`"))?;
    if !out.status.success() {
        return Err(format!(
            "softhsm2-util {}: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn make() -> Result<SoftHsm, String> {
    let module = PathBuf::from(
        std::env::var("SHONIN_TEST_PKCS11_MODULE").unwrap_or_else(|_| DEFAULT_MODULE.into()),
    );
    if !module.is_file() {
        return Err(format!(
            "SoftHSM2 is not installed ({} is missing): `apt-get install softhsm2`, or run \
             scripts/test, which installs it",
            module.display()
        ));
    }
    if let Ok(conf) = std::env::var("SOFTHSM2_CONF")
        && let Some(dir) = std::fs::read_to_string(&conf)
            .ok()
            .and_then(|text| token_dir(&text))
    {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{dir}: {e}"))?;
    }
    // Tokens of test processes that have ended.
    let slots = softhsm2_util(&["--show-slots"])?;
    for label in slots
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Label:"))
        .map(str::trim)
        .filter(|l| l.starts_with(TOKEN_PREFIX))
    {
        let pid = label.trim_start_matches(TOKEN_PREFIX);
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = softhsm2_util(&["--delete-token", "--token", label]);
        }
    }
    let token_label = format!("{TOKEN_PREFIX}{}", std::process::id());
    softhsm2_util(&[
        "--init-token",
        "--free",
        "--label",
        &token_label,
        "--pin",
        PIN,
        "--so-pin",
        "0000-so",
    ])?;
    Ok(SoftHsm {
        module,
        token_label,
    })
}

fn token_dir(conf: &str) -> Option<String> {
    conf.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "directories.tokendir")
        .map(|(_, v)| v.trim().to_owned())
}
