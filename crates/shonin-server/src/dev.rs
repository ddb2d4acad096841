//! `--dev`: a complete local setup under the data directory — SQLite database, master key,
//! keyring, and a development CA with a server certificate for localhost.

use crate::config::Config;
use anyhow::Context;
use shonin_keys::MasterKey;
use shonin_tls::dev_pki;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// What `prepare` made or found.
#[derive(Debug)]
pub struct DevSetup {
    pub created: bool,
    pub ca_cert: std::path::PathBuf,
    /// The demo client and user (`serve --dev` fills this in once the store is open).
    pub demo: Option<DemoAccount>,
}

/// Creates (first run) or reuses (later runs) the development data directory.
pub fn prepare(data_dir: &Path, config: &Config) -> anyhow::Result<DevSetup> {
    let first_run = !data_dir.exists();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    restrict_dir(data_dir)?;
    if std::env::var_os("SHONIN_MASTER_KEY").is_none()
        && let Some(path) = &config.keys.master_key_file
        && !path.exists()
    {
        write_private(path, MasterKey::generate()?.to_base64().as_bytes())?;
    }
    let (pki, created_pki) =
        dev_pki::ensure(&data_dir.join("tls")).context("creating the development CA")?;
    Ok(DevSetup {
        created: first_run || created_pki,
        ca_cert: pki.ca_cert,
        demo: None,
    })
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

#[cfg(not(unix))]
fn restrict_dir(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Writes a new file readable only by its owner; refuses to replace an existing one.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// The banner printed once the development server listens.
pub fn banner(config: &Config, setup: &DevSetup) -> String {
    let issuer = &config.issuer;
    let ca = setup.ca_cert.display();
    let fresh = if setup.created { "created" } else { "reusing" };
    format!(
        "\nShonin development server ({fresh} {dir})\n\
         \n  issuer        {issuer}\n  listening on  {listen}\n  storage       {storage}\n  CA certificate {ca}\n\
         \nTry next:\n  curl --cacert {ca} {issuer}/healthz\n  curl --cacert {ca} {issuer}/jwks\n  \
         shonin --dev keys rotate      # new signing key, no restart needed\n  \
         shonin --dev audit verify     # check the tamper-evident audit chain\n  \
         shonin --dev demo             # a whole FAPI 2.0 flow against this server, each exchange shown\n  \
         {issuer}/account             # sign in, add a passkey (in a browser)\n{demo}",
        dir = config
            .keys
            .keyring
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        listen = config.server.listen,
        storage = config.redacted().storage.url,
        demo = setup
            .demo
            .as_ref()
            .map(DemoAccount::banner)
            .unwrap_or_default(),
    )
}

/// The demo client and user, for the development banner.
pub struct DemoAccount {
    pub client_id: String,
    pub private_jwk: PathBuf,
    pub public_jwks: PathBuf,
    pub username: String,
    pub password_file: PathBuf,
    /// Whether this run created the demo client.
    pub created: bool,
    /// Only on the run that created the user; later runs point at `password_file`.
    pub password: Option<Zeroizing<String>>,
}

impl fmt::Debug for DemoAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoAccount")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

impl DemoAccount {
    /// Lines for the development banner; the password only when it was just created.
    pub fn banner(&self) -> String {
        let password = match &self.password {
            Some(p) => format!(
                "{}   (shown once; also in {})",
                p.as_str(),
                self.password_file.display()
            ),
            None => format!("see {}", self.password_file.display()),
        };
        let heading = if self.created {
            "Demo (created because the store had no client)"
        } else {
            "Demo"
        };
        format!(
            "\n{heading}:\n  client        {id}   (shonin --dev clients show {id})\n  \
             client key    {key} (private JWK)\n  user          {user}\n  \
             password      {password}\n",
            id = self.client_id,
            key = self.private_jwk.display(),
            user = self.username,
        )
    }
}
