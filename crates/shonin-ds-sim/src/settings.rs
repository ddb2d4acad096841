//! The DS simulator's own TOML file (`shonin ds-sim FILE`): it reads nothing of the server's
//! configuration.

use serde::Deserialize;
use shonin_3ds::acs::{CardRange, Scheme};
use shonin_3ds::ds::{DsProfile, DsRange};
use shonin_3ds::{MessageVersion, Versions};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsSimSettings {
    /// Loopback or another local address and port.
    pub listen: SocketAddr,
    /// The simulator's public base URL (`https://…`): `dsURL` is `<public_url>/ds/rreq`.
    pub public_url: String,
    /// `dsReferenceNumber`, 1–32 printable ASCII characters.
    #[serde(default = "default_reference")]
    pub reference_number: String,
    /// Protocol versions the DS accepts (default 2.2.0 and 2.3.1).
    #[serde(default = "default_versions")]
    pub versions: Vec<String>,
    /// The TLS server certificate chain and key (both links: 3DS Servers and ACSs call it).
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    /// The scheme CA that 3DS Servers' and ACSs' client certificates must chain to; any other
    /// caller gets Erro 303.
    pub client_ca_file: PathBuf,
    /// The client certificate chain and key the DS presents to ACSs and 3DS Servers.
    pub client_certificate_file: PathBuf,
    pub client_key_file: PathBuf,
    /// The CA that ACSs' and 3DS Servers' server certificates must chain to (no system roots).
    pub server_ca_file: PathBuf,
    #[serde(default)]
    pub ranges: Vec<RangeSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSettings {
    pub start: String,
    pub end: String,
    pub scheme: Scheme,
    /// The ACS's AReq endpoint (`https://…/3ds/acs/areq`).
    pub acs_url: String,
    #[serde(default = "default_start")]
    pub acs_start_version: String,
    #[serde(default = "default_end")]
    pub acs_end_version: String,
    #[serde(default)]
    pub three_ds_method_url: Option<String>,
}

fn default_reference() -> String {
    "SHONIN-DS-SIM".into()
}

fn default_versions() -> Vec<String> {
    vec!["2.2.0".into(), "2.3.1".into()]
}

fn default_start() -> String {
    "2.2.0".into()
}

fn default_end() -> String {
    "2.3.1".into()
}

fn version(key: &str, v: &str) -> anyhow::Result<MessageVersion> {
    v.parse()
        .map_err(|_| anyhow::anyhow!("{key}: \"2.1.0\", \"2.2.0\" or \"2.3.1\""))
}

fn https(key: &str, url: &str) -> anyhow::Result<()> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(()),
        _ => anyhow::bail!("{key}: an https URL"),
    }
}

impl DsSimSettings {
    pub fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The accepted versions, the DS's profile and its range table; the first broken rule.
    pub fn checked(&self) -> anyhow::Result<(Versions, DsProfile, Vec<DsRange>)> {
        let versions: Vec<MessageVersion> = self
            .versions
            .iter()
            .map(|v| version("versions", v))
            .collect::<anyhow::Result<_>>()?;
        let (Some(start), Some(end)) = (versions.iter().min(), versions.iter().max()) else {
            anyhow::bail!("versions: one or more");
        };
        https("public_url", &self.public_url)?;
        let r = &self.reference_number;
        anyhow::ensure!(
            !r.is_empty() && r.len() <= 32 && r.chars().all(|c| c.is_ascii_graphic()),
            "reference_number: 1–32 printable ASCII characters"
        );
        let profile = DsProfile {
            reference_number: r.clone(),
            results_url: format!("{}/ds/rreq", self.public_url.trim_end_matches('/')),
            start_version: *start,
            end_version: *end,
        };
        let mut ranges: Vec<DsRange> = Vec::new();
        for (i, r) in self.ranges.iter().enumerate() {
            let key = format!("ranges[{i}]");
            let range = CardRange::new(&r.start, &r.end, r.scheme)
                .map_err(|rule| anyhow::anyhow!("{key}: {rule}"))?;
            anyhow::ensure!(
                !ranges.iter().any(|o| o.range.overlaps(&range)),
                "{key}: overlaps an earlier range"
            );
            https(&format!("{key}.acs_url"), &r.acs_url)?;
            if let Some(m) = &r.three_ds_method_url {
                https(&format!("{key}.three_ds_method_url"), m)?;
            }
            let acs_start = version(&format!("{key}.acs_start_version"), &r.acs_start_version)?;
            let acs_end = version(&format!("{key}.acs_end_version"), &r.acs_end_version)?;
            anyhow::ensure!(
                acs_start <= acs_end,
                "{key}: acs_start_version after acs_end_version"
            );
            ranges.push(DsRange {
                range,
                start: r.start.clone(),
                end: r.end.clone(),
                acs_url: r.acs_url.clone(),
                acs_start_version: acs_start,
                acs_end_version: acs_end,
                three_ds_method_url: r.three_ds_method_url.clone(),
            });
        }
        Ok((Versions::only(&versions), profile, ranges))
    }
}
