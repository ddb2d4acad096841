//! `shonin clients add|list|show|update|remove`.
//!
//! Every registration, from flags, a file or the configuration, goes through
//! [`shonin_oauth::client::validate`]; a refusal names the field (`redirect_uris[0]`,
//! `jwks.keys[1]`, `grant_types[2]`) and the rule it breaks.

// Printing to standard output is what these commands are for.
#![allow(clippy::print_stdout)]

pub use shonin_oauth::client::refusal::{Refusal, explain};

use super::AdminContext;
use super::table::{ListArgs, Table};
use crate::config::Config;
use crate::global_args::GlobalArgs;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use shonin_oauth::TokenStore;
use shonin_oauth::client::{
    Client, ClientId, ClientRegistration, ClientStore, GrantType, validate,
};
use shonin_types::StorageError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest registration or JWK set file read (a JWK set holds at most 32 keys).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client, from flags or from a registration document (`--file`).
    Add(Box<AddArgs>),
    /// List clients: id, name, authentication method, grant types.
    List(ListArgs),
    /// Print a client's registration as JSON (usable again with `--file`).
    Show {
        /// The client_id.
        client_id: String,
    },
    /// Change a client: each given flag replaces that field; `--file` replaces all of them.
    Update(Box<UpdateArgs>),
    /// Delete a client and the records of every token issued to it.
    Remove {
        /// The client_id.
        client_id: String,
    },
    /// Print the x5t#S256 thumbprint (RFC 8705 §3.1) of a PEM certificate, the value
    /// `--pin-certificate` and `--revoke-certificate` take.
    Thumbprint {
        /// A PEM file; its first certificate is used.
        cert_file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A client registration document: `.json`, or `.toml` with the keys of a `[[clients]]`
    /// entry. Replaces all the other flags.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["client_id", "name"])]
    pub file: Option<PathBuf>,
    /// The client_id: 1-128 characters of A-Z a-z 0-9 . _ ~ -
    #[arg(long, required_unless_present = "file")]
    pub client_id: Option<String>,
    /// The name shown to users on the consent page.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    #[command(flatten)]
    pub fields: ClientFields,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client_id.
    pub client_id: String,
    /// A complete registration document (`.json` or `.toml`) for this client_id.
    #[arg(long, value_name = "PATH", conflicts_with = "name")]
    pub file: Option<PathBuf>,
    /// The name shown to users on the consent page.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub fields: ClientFields,
}

/// The registration fields `add` and `update` share. For `update`, a field not given is kept.
#[derive(Debug, Args)]
pub struct ClientFields {
    /// An exact redirect URI: https, or http on loopback (127.0.0.1 or ::1) with
    /// --native-loopback-redirects. Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI", conflicts_with = "file")]
    pub redirect_uris: Vec<String>,
    /// A JSON file with the client's public JWK set (`{"keys": [...]}`; PS256, ES256 or EdDSA;
    /// never private keys).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["file", "jwks_uri"])]
    pub jwks_file: Option<PathBuf>,
    /// An https URL where the client publishes its JWK set.
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    pub jwks_uri: Option<String>,
    /// Scope values the client may request; repeat or separate with spaces.
    #[arg(long = "scope", value_name = "SCOPE", conflicts_with = "file")]
    pub scopes: Vec<String>,
    /// An `authorization_details` type the client may request (RFC 9396). Repeat for several.
    #[arg(
        long = "authorization-details-type",
        value_name = "TYPE",
        conflicts_with = "file"
    )]
    pub authorization_details_types: Vec<String>,
    /// authorization_code, refresh_token, client_credentials or
    /// urn:openid:params:grant-type:ciba; repeat for several. Default for `add`:
    /// authorization_code and refresh_token.
    #[arg(long = "grant-type", value_name = "GRANT", conflicts_with = "file")]
    pub grant_types: Vec<String>,
    /// CIBA: `poll` or `ping` (required with the CIBA grant type; OpenID CIBA Core §4).
    #[arg(long, value_name = "MODE", conflicts_with = "file")]
    pub backchannel_mode: Option<String>,
    /// CIBA ping mode: the client's https notification endpoint.
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    pub backchannel_notification_endpoint: Option<String>,
    /// Demand a server nonce in this client's DPoP proofs (RFC 9449 §8); `=false` to stop.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", conflicts_with = "file")]
    pub require_dpop_nonce: Option<bool>,
    /// Allow http redirect URIs on loopback (127.0.0.1 or ::1): for native apps only
    /// (RFC 8252 §7.3); `=false` to stop.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", conflicts_with = "file")]
    pub native_loopback_redirects: Option<bool>,
    /// private_key_jwt (default), tls_client_auth or self_signed_tls_client_auth (RFC 8705 §2).
    #[arg(long, value_name = "METHOD", conflicts_with = "file")]
    pub auth_method: Option<String>,
    /// tls_client_auth: the certificate's subject DN, RFC 4514 (e.g. "CN=tpp,O=Bank,C=DE").
    /// Each --tls-* flag replaces any other registered subject value.
    #[arg(long, value_name = "DN", conflicts_with = "file")]
    pub tls_subject_dn: Option<String>,
    /// tls_client_auth: a dNSName subject alternative name of the certificate.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub tls_san_dns: Option<String>,
    /// tls_client_auth: a URI subject alternative name of the certificate.
    #[arg(long, value_name = "URI", conflicts_with = "file")]
    pub tls_san_uri: Option<String>,
    /// tls_client_auth: an IP address subject alternative name of the certificate.
    #[arg(long, value_name = "IP", conflicts_with = "file")]
    pub tls_san_ip: Option<String>,
    /// tls_client_auth: an email (rfc822Name) subject alternative name of the certificate.
    #[arg(long, value_name = "EMAIL", conflicts_with = "file")]
    pub tls_san_email: Option<String>,
    /// Bind tokens to a DPoP key (RFC 9449); `=false` to stop (then --certificate-bound).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", conflicts_with = "file")]
    pub dpop_bound: Option<bool>,
    /// Bind tokens to the client certificate (RFC 8705 §3); `=false` to stop.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", conflicts_with = "file")]
    pub certificate_bound: Option<bool>,
    /// Pin a certificate by its x5t#S256 thumbprint (see `shonin clients thumbprint`): once any
    /// is pinned, only pinned certificates are accepted. Repeat for several.
    #[arg(long = "pin-certificate", value_name = "X5T", conflicts_with = "file")]
    pub pin_certificates: Vec<String>,
    /// Remove a pin. Repeat for several.
    #[arg(
        long = "unpin-certificate",
        value_name = "X5T",
        conflicts_with = "file"
    )]
    pub unpin_certificates: Vec<String>,
    /// Revoke a certificate by its x5t#S256 thumbprint: refused from now on, and every token
    /// of this client bound to it is revoked. Repeat for several.
    #[arg(
        long = "revoke-certificate",
        value_name = "X5T",
        conflicts_with = "file"
    )]
    pub revoke_certificates: Vec<String>,
}

impl ClientFields {
    fn is_empty(&self) -> bool {
        self.redirect_uris.is_empty()
            && self.jwks_file.is_none()
            && self.jwks_uri.is_none()
            && self.scopes.is_empty()
            && self.authorization_details_types.is_empty()
            && self.grant_types.is_empty()
            && self.backchannel_mode.is_none()
            && self.backchannel_notification_endpoint.is_none()
            && self.require_dpop_nonce.is_none()
            && self.native_loopback_redirects.is_none()
            && self.auth_method.is_none()
            && self.tls_subject().is_none()
            && self.dpop_bound.is_none()
            && self.certificate_bound.is_none()
            && self.pin_certificates.is_empty()
            && self.unpin_certificates.is_empty()
            && self.revoke_certificates.is_empty()
    }

    /// The one `--tls-*` subject flag given, as (metadata field, value).
    fn tls_subject(&self) -> Option<(&'static str, &String)> {
        [
            ("dn", &self.tls_subject_dn),
            ("dns", &self.tls_san_dns),
            ("uri", &self.tls_san_uri),
            ("ip", &self.tls_san_ip),
            ("email", &self.tls_san_email),
        ]
        .into_iter()
        .find_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }

    /// Replaces, in `reg`, every field given on the command line.
    fn apply(&self, reg: &mut ClientRegistration) -> anyhow::Result<()> {
        if !self.redirect_uris.is_empty() {
            reg.redirect_uris.clone_from(&self.redirect_uris);
        }
        if let Some(path) = &self.jwks_file {
            let text = read_bounded(path)?;
            let set = shonin_types::json::from_str(&text)
                .with_context(|| format!("--jwks-file {}", path.display()))?;
            reg.jwks = Some(set);
            reg.jwks_uri = None;
        }
        if let Some(uri) = &self.jwks_uri {
            reg.jwks_uri = Some(uri.clone());
            reg.jwks = None;
        }
        if !self.scopes.is_empty() {
            reg.scope = self
                .scopes
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect();
        }
        if !self.authorization_details_types.is_empty() {
            reg.authorization_details_types
                .clone_from(&self.authorization_details_types);
        }
        if !self.grant_types.is_empty() {
            reg.grant_types.clone_from(&self.grant_types);
        }
        if let Some(mode) = &self.backchannel_mode {
            reg.backchannel_token_delivery_mode = Some(mode.clone());
            if mode != "ping" {
                reg.backchannel_client_notification_endpoint = None;
            }
        }
        if let Some(url) = &self.backchannel_notification_endpoint {
            reg.backchannel_client_notification_endpoint = Some(url.clone());
        }
        if let Some(on) = self.require_dpop_nonce {
            reg.require_dpop_nonce = on;
        }
        if let Some(on) = self.native_loopback_redirects {
            reg.native_loopback_redirects = on;
        }
        if let Some(method) = &self.auth_method {
            reg.token_endpoint_auth_method.clone_from(method);
        }
        let given = [
            &self.tls_subject_dn,
            &self.tls_san_dns,
            &self.tls_san_uri,
            &self.tls_san_ip,
            &self.tls_san_email,
        ];
        if given.iter().filter(|v| v.is_some()).count() > 1 {
            bail!(
                "give at most one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email (RFC 8705 §2.1.2)"
            );
        }
        // One subject value replaces the others; leaving tls_client_auth drops it.
        let leaving_tls = self
            .auth_method
            .as_deref()
            .is_some_and(|m| m != "tls_client_auth");
        if self.tls_subject().is_some() || leaving_tls {
            reg.tls_client_auth_subject_dn
                .clone_from(&self.tls_subject_dn);
            reg.tls_client_auth_san_dns.clone_from(&self.tls_san_dns);
            reg.tls_client_auth_san_uri.clone_from(&self.tls_san_uri);
            reg.tls_client_auth_san_ip.clone_from(&self.tls_san_ip);
            reg.tls_client_auth_san_email
                .clone_from(&self.tls_san_email);
        }
        if let Some(on) = self.dpop_bound {
            reg.dpop_bound_access_tokens = on;
        }
        if let Some(on) = self.certificate_bound {
            reg.tls_client_certificate_bound_access_tokens = on;
        }
        for t in &self.pin_certificates {
            if !reg.pinned_certificates.contains(t) {
                reg.pinned_certificates.push(t.clone());
            }
        }
        reg.pinned_certificates
            .retain(|p| !self.unpin_certificates.contains(p));
        for t in &self.revoke_certificates {
            if !reg.revoked_certificates.contains(t) {
                reg.revoked_certificates.push(t.clone());
            }
        }
        Ok(())
    }
}

/// Runs one `shonin clients` command.
pub async fn run(g: &GlobalArgs, config: &Config, cmd: ClientsCommand) -> anyhow::Result<ExitCode> {
    let ctx = AdminContext::open(g, config).await?;
    let result = dispatch(&ctx, cmd).await;
    ctx.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn dispatch(ctx: &AdminContext, cmd: ClientsCommand) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::Add(args) => {
            let reg = match &args.file {
                Some(path) => read_registration(path)?,
                None => {
                    let mut reg = ClientRegistration::new(
                        args.client_id.clone().unwrap_or_default(),
                        args.name.clone().unwrap_or_default(),
                    );
                    reg.grant_types = vec![
                        GrantType::AuthorizationCode.as_str().to_owned(),
                        GrantType::RefreshToken.as_str().to_owned(),
                    ];
                    args.fields.apply(&mut reg)?;
                    reg
                }
            };
            let target = reg.client_id.clone();
            let client = ctx.audited("clients.add", &target, add(ctx, reg)).await?;
            println!("added client {}", client.client_id);
        }
        ClientsCommand::List(args) => list(ctx, args.json).await?,
        ClientsCommand::Show { client_id } => {
            let client = get(ctx, &client_id).await?;
            let json = serde_json::to_string_pretty(&client.registration())?;
            println!("{json}");
        }
        ClientsCommand::Update(args) => {
            let target = args.client_id.clone();
            ctx.audited("clients.update", &target, update(ctx, &args))
                .await?;
            println!("updated client {target}");
        }
        ClientsCommand::Thumbprint { cert_file } => {
            println!("{}", thumbprint(&cert_file)?);
        }
        ClientsCommand::Remove { client_id } => {
            ctx.audited("clients.remove", &client_id, remove(ctx, &client_id))
                .await?;
            println!("removed client {client_id} and its token records");
        }
    }
    Ok(())
}

async fn add(ctx: &AdminContext, reg: ClientRegistration) -> anyhow::Result<Client> {
    let client = checked(ctx, reg)?;
    if ctx.store.get_client(&client.client_id).await?.is_some() {
        bail!(
            "client {} already exists (change it with `shonin clients update`)",
            client.client_id
        );
    }
    match ctx.store.create_client(&client).await {
        Ok(()) => Ok(client),
        Err(StorageError::Conflict(_)) => bail!("client {} already exists", client.client_id),
        Err(e) => Err(e.into()),
    }
}

async fn list(ctx: &AdminContext, json: bool) -> anyhow::Result<()> {
    let mut table = Table::new(&["CLIENT_ID", "NAME", "AUTH_METHOD", "GRANTS"]);
    for c in ctx.store.list_clients().await? {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        table.row([
            c.client_id.to_string(),
            c.client_name.clone(),
            c.token_endpoint_auth_method.as_str().to_owned(),
            grants.join(","),
        ]);
    }
    table.print(json)?;
    Ok(())
}

async fn get(ctx: &AdminContext, client_id: &str) -> anyhow::Result<Client> {
    let id = ClientId::try_from(client_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    ctx.store
        .get_client(&id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no client {client_id}"))
}

async fn update(ctx: &AdminContext, args: &UpdateArgs) -> anyhow::Result<()> {
    let existing = get(ctx, &args.client_id).await?;
    let reg = match &args.file {
        Some(path) => {
            let reg = read_registration(path)?;
            if reg.client_id != args.client_id {
                bail!(
                    "{}: client_id {:?} is not the client being updated ({})",
                    path.display(),
                    reg.client_id,
                    args.client_id
                );
            }
            reg
        }
        None => {
            if args.name.is_none() && args.fields.is_empty() {
                bail!("nothing to update: give at least one field flag, or --file");
            }
            let mut reg = existing.registration();
            if let Some(name) = &args.name {
                reg.client_name.clone_from(name);
            }
            args.fields.apply(&mut reg)?;
            reg
        }
    };
    let mut client = checked(ctx, reg)?;
    client.created_at = existing.created_at;
    if !ctx.store.update_client(&client).await? {
        bail!("no client {}", args.client_id);
    }
    // A newly revoked certificate takes its tokens with it (RFC 8705 §3 bindings).
    let now = ctx.clock.now();
    for t in &client.revoked_certificates {
        if !existing.revoked_certificates.contains(t) {
            let n = ctx
                .store
                .revoke_certificate_bound(&client.client_id, t, now)
                .await?;
            println!("revoked certificate {t}: {n} token(s) bound to it revoked");
        }
    }
    Ok(())
}

/// `x5t#S256` of the first certificate in a PEM file.
fn thumbprint(path: &Path) -> anyhow::Result<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let text = read_bounded(path)?;
    let cert = CertificateDer::pem_slice_iter(text.as_bytes())
        .next()
        .ok_or_else(|| anyhow::anyhow!("{}: no PEM certificate", path.display()))?
        .map_err(|_| anyhow::anyhow!("{}: not a PEM certificate", path.display()))?;
    shonin_oauth::mtls::ClientCertificate::parse(&cert)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(shonin_oauth::mtls::x5t_s256(&cert))
}

async fn remove(ctx: &AdminContext, client_id: &str) -> anyhow::Result<()> {
    let id = ClientId::try_from(client_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The store deletes the client's token records with it (ON DELETE CASCADE), so tokens
    // issued to it stop being active at introspection at once.
    if !ctx.store.delete_client(&id).await? {
        bail!("no client {client_id}");
    }
    Ok(())
}

/// [`validate`] and the server's `oauth.scopes`, with a refusal turned into an error naming the
/// field.
fn checked(ctx: &AdminContext, reg: ClientRegistration) -> anyhow::Result<Client> {
    let unsupported = shonin_oauth::client::unsupported_scopes(&ctx.scopes, &reg.scope);
    if !unsupported.is_empty() {
        bail!(
            "invalid client registration: field `scope`: {} not in the server's oauth.scopes ({}); \
             add it there first",
            unsupported.join(", "),
            ctx.scopes.join(" ")
        );
    }
    let copy = reg.clone();
    validate(reg, ctx.clock.now()).map_err(|e| {
        let refusal = explain(&e, &copy);
        anyhow::anyhow!(
            "invalid client registration: field `{}`: {}",
            refusal.field,
            refusal.rule
        )
    })
}

/// Reads a registration document; the format follows the extension (`.json` or `.toml`).
fn read_registration(path: &Path) -> anyhow::Result<ClientRegistration> {
    let text = read_bounded(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("json") {
        let value =
            shonin_types::json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        serde_json::from_value(value).with_context(|| format!("{}", path.display()))
    } else if ext.eq_ignore_ascii_case("toml") {
        toml::from_str(&text).with_context(|| format!("{}", path.display()))
    } else {
        bail!(
            "{}: a registration file must end in .json or .toml",
            path.display()
        )
    }
}

fn read_bounded(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {} (must be UTF-8)", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        bail!("{}: larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    Ok(text)
}
