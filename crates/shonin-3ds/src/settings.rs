//! The `[threeds]` settings: `[threeds.acs]`, the issuer-side Access Control Server, and
//! `[threeds.server]`, the merchant-side 3DS Server. Absent, each is off and its endpoints
//! answer 404. Plain data with its validation: each rule broken names its key.

use crate::acs::{CardRange, RiskRules, Scheme};
use crate::{MessageVersion, Versions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ThreeDsSettings {
    pub acs: Option<AcsSettings>,
    /// `[threeds.server]`: the merchant-side 3DS Server; absent, it is off.
    pub server: Option<ServerSettings>,
}

/// The OAuth scope of the 3DS Server's requestor API.
pub const REQUESTOR_SCOPE: &str = "3ds";

/// `[threeds.server]`: the merchant-side 3DS Server with its requestor API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `threeDSServerRefNumber`: assigned by EMVCo to an approved 3DS Server; 1–32 characters.
    pub reference_number: String,
    /// `threeDSServerOperatorID`: assigned by the DS; at most 32 characters.
    #[serde(default)]
    pub operator_id: Option<String>,
    /// `threeDSRequestorID` (DS-assigned, ≤ 35), `threeDSRequestorName` (≤ 40) and
    /// `threeDSRequestorURL` (https) of the requestor this server authenticates for.
    pub requestor_id: String,
    pub requestor_name: String,
    pub requestor_url: String,
    /// Protocol versions the 3DS Server speaks: 2.2.0 and 2.3.1 (the default, both).
    #[serde(default = "default_versions")]
    pub versions: Vec<String>,
    /// The DS's endpoints for AReqs and PReqs (https).
    pub ds_areq_url: String,
    pub ds_preq_url: String,
    /// The 3DS Server → DS link (mutual TLS): the CA certificates the DS's server certificate
    /// must chain to (PEM; no system roots), and this server's client certificate chain and key.
    pub ds_ca_file: PathBuf,
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    /// `threeDSServerURL`, where the DS sends RReqs: `<issuer>/3ds/server/rreq` by default; set
    /// it when the DS reaches this server on another name or port than the public issuer (a
    /// listener of its own for the scheme's mutual TLS, say). https.
    #[serde(default)]
    pub results_url: Option<String>,
    /// SHA-256 thumbprints (base64url) of the client certificates the DS presents when it
    /// sends RReqs. Empty: every RReq is refused with Erro 303 (default deny).
    #[serde(default)]
    pub ds_certificate_thumbprints: Vec<String>,
    /// How long the DS has to answer an AReq or a PReq: 1 – 30 seconds (default 10; no answer
    /// in time is Erro 402). Connecting has 5 seconds of it.
    #[serde(default = "default_ds_timeout")]
    pub ds_timeout_secs: u64,
    /// How often the card ranges are asked for again (PReq): 3600 – 86400 seconds (EMV 3DS: at
    /// most hourly, at least daily). A failed PReq is retried after 1 s, doubling up to 60 s.
    #[serde(default = "default_range_refresh")]
    pub card_range_refresh_secs: u64,
    /// How long a transaction (and its authentication value) is kept: 600 – 86400 seconds.
    #[serde(default = "default_server_retention")]
    pub transaction_retention_secs: u64,
}

fn default_ds_timeout() -> u64 {
    10
}

fn default_range_refresh() -> u64 {
    43_200
}

fn default_server_retention() -> u64 {
    3_600
}

impl ServerSettings {
    pub fn versions(&self) -> Result<Versions, (&'static str, String)> {
        let parsed: Result<Vec<MessageVersion>, _> =
            self.versions.iter().map(|v| v.parse()).collect();
        match parsed {
            Ok(v) if !v.is_empty() && v.iter().all(|v| *v >= MessageVersion::V2_2_0) => {
                Ok(Versions::only(&v))
            }
            _ => Err(("versions", "one or both of \"2.2.0\", \"2.3.1\"".into())),
        }
    }

    /// The rule the settings break, as (key under `threeds.server`, rule).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let text = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
        };
        let https =
            |s: &str| url::Url::parse(s).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
        if !text(&self.reference_number, 32) {
            return Err(("reference_number", "1–32 characters".into()));
        }
        if self.operator_id.as_deref().is_some_and(|o| !text(o, 32)) {
            return Err(("operator_id", "1–32 characters".into()));
        }
        if !text(&self.requestor_id, 35) {
            return Err(("requestor_id", "1–35 characters".into()));
        }
        if !text(&self.requestor_name, 40) {
            return Err(("requestor_name", "1–40 characters".into()));
        }
        for (key, url) in [
            ("requestor_url", &self.requestor_url),
            ("ds_areq_url", &self.ds_areq_url),
            ("ds_preq_url", &self.ds_preq_url),
            (
                "results_url",
                self.results_url.as_ref().unwrap_or(&self.requestor_url),
            ),
        ] {
            if !https(url) || url.len() > 2048 {
                return Err((key, "an https URL".into()));
            }
        }
        self.versions()?;
        LinkSettings {
            ds_certificate_thumbprints: self.ds_certificate_thumbprints.clone(),
            ..LinkSettings::default()
        }
        .validate()?;
        if !(1..=30).contains(&self.ds_timeout_secs) {
            return Err(("ds_timeout_secs", "1 – 30".into()));
        }
        if !(3_600..=DAY).contains(&self.card_range_refresh_secs) {
            return Err(("card_range_refresh_secs", "3600 – 86400".into()));
        }
        if !(600..=DAY).contains(&self.transaction_retention_secs) {
            return Err(("transaction_retention_secs", "600 – 86400".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AcsSettings {
    /// `acsReferenceNumber`: assigned by EMVCo to an approved ACS; 1–32 characters.
    pub reference_number: String,
    /// `acsOperatorID`: assigned by the DS; at most 32 characters.
    #[serde(default)]
    pub operator_id: Option<String>,
    /// Protocol versions accepted; others answer Erro 102. Default 2.2.0 and 2.3.1 (2.1.0 is
    /// sunset by EMVCo).
    #[serde(default = "default_versions")]
    pub versions: Vec<String>,
    /// Wrong answers before a challenge ends N, reason 19: 1–5.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u8,
    /// How long a transaction's record is kept (then swept): 1 hour – 7 days; at least a day
    /// when `risk.frictionless_per_day` counts over it.
    #[serde(default = "default_retention")]
    pub transaction_retention_secs: u64,
    /// SHA-256 thumbprints (base64url, as `x5t#S256`) of the client certificates the DS
    /// presents on the DS → ACS link. Any other caller is refused with Erro 303. Empty: every
    /// AReq is refused (default deny).
    #[serde(default)]
    pub ds_certificate_thumbprints: Vec<String>,
    /// The card ranges this ACS serves.
    #[serde(default)]
    pub card_ranges: Vec<RangeSettings>,
    /// The risk rules (`shonin_3ds::acs::RiskRules`).
    #[serde(default)]
    pub risk: RiskRules,
    /// The ACS → DS link for the RReq (mutual TLS): the CA certificates the DS's server
    /// certificate must chain to (PEM; no system roots), and the ACS's client certificate chain
    /// and key. All three or none: without them a completed challenge's RReq is not sent (and
    /// the audit log says so).
    #[serde(default)]
    pub results_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub results_certificate_file: Option<PathBuf>,
    #[serde(default)]
    pub results_key_file: Option<PathBuf>,
    /// Per card scheme (`visa`, `mastercard`, …), the DS link of that scheme's directory: its
    /// client certificates and the RReq link, each scheme with its own PKI (EMV 3DS §6.1). A
    /// scheme listed here is served only through its own DS; the keys above serve the others.
    #[serde(default)]
    pub schemes: BTreeMap<String, LinkSettings>,
    /// `[threeds.acs.spc]`: EMV 3DS 2.3.1 Secure Payment Confirmation. The card's name and icon
    /// the browser's own dialog shows. Absent (the default), no AReq is answered with S: a
    /// passkey challenge runs in the ACS's challenge page.
    #[serde(default)]
    pub spc: Option<crate::acs::spc::Instrument>,
}

/// One DS link: the DS's client certificates and the ACS → DS link for the RReq.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    #[serde(default)]
    pub ds_certificate_thumbprints: Vec<String>,
    #[serde(default)]
    pub results_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub results_certificate_file: Option<PathBuf>,
    #[serde(default)]
    pub results_key_file: Option<PathBuf>,
}

impl LinkSettings {
    /// The rule the link breaks, as (key, rule).
    fn validate(&self) -> Result<(), (&'static str, String)> {
        for t in &self.ds_certificate_thumbprints {
            if t.len() != 43
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err((
                    "ds_certificate_thumbprints",
                    "base64url SHA-256 thumbprints (43 characters)".into(),
                ));
            }
        }
        let results = [
            &self.results_ca_file,
            &self.results_certificate_file,
            &self.results_key_file,
        ];
        if results.iter().any(|f| f.is_some()) && !results.iter().all(|f| f.is_some()) {
            return Err((
                "results_ca_file",
                "results_ca_file, results_certificate_file and results_key_file go together".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RangeSettings {
    pub start: String,
    pub end: String,
    pub scheme: Scheme,
}

fn default_versions() -> Vec<String> {
    vec!["2.2.0".into(), "2.3.1".into()]
}

fn default_max_attempts() -> u8 {
    3
}

fn default_retention() -> u64 {
    86_400
}

const DAY: u64 = 86_400;

impl AcsSettings {
    /// The link of the schemes without their own table: the top-level keys.
    pub fn default_link(&self) -> LinkSettings {
        LinkSettings {
            ds_certificate_thumbprints: self.ds_certificate_thumbprints.clone(),
            results_ca_file: self.results_ca_file.clone(),
            results_certificate_file: self.results_certificate_file.clone(),
            results_key_file: self.results_key_file.clone(),
        }
    }

    pub fn versions(&self) -> Result<Versions, (&'static str, String)> {
        let parsed: Result<Vec<MessageVersion>, _> =
            self.versions.iter().map(|v| v.parse()).collect();
        match parsed {
            Ok(v) if !v.is_empty() => Ok(Versions::only(&v)),
            _ => Err((
                "versions",
                "one or more of \"2.1.0\", \"2.2.0\", \"2.3.1\"".into(),
            )),
        }
    }

    pub fn ranges(&self) -> Result<Vec<CardRange>, (&'static str, String)> {
        let mut ranges = Vec::new();
        for (i, r) in self.card_ranges.iter().enumerate() {
            let range = CardRange::new(&r.start, &r.end, r.scheme)
                .map_err(|rule| ("card_ranges", format!("entry {i}: {rule}")))?;
            if ranges
                .iter()
                .any(|other: &CardRange| other.overlaps(&range))
            {
                return Err((
                    "card_ranges",
                    format!("entry {i} overlaps an earlier range"),
                ));
            }
            ranges.push(range);
        }
        Ok(ranges)
    }

    /// The rule the settings break, as (key under `threeds.acs`, rule).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let text = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_graphic())
        };
        if !text(&self.reference_number, 32) {
            return Err(("reference_number", "1–32 printable ASCII characters".into()));
        }
        if self.operator_id.as_deref().is_some_and(|o| !text(o, 32)) {
            return Err(("operator_id", "1–32 printable ASCII characters".into()));
        }
        self.versions()?;
        if !(1..=5).contains(&self.max_attempts) {
            return Err(("max_attempts", "1 – 5".into()));
        }
        if !(3_600..=7 * DAY).contains(&self.transaction_retention_secs) {
            return Err(("transaction_retention_secs", "3600 – 604800".into()));
        }
        if !(1..=400).contains(&self.risk.remember_browser_days) {
            return Err(("risk.remember_browser_days", "1 – 400".into()));
        }
        if self.risk.frictionless_per_day.is_some() && self.transaction_retention_secs < DAY {
            return Err((
                "transaction_retention_secs",
                "at least 86400 when risk.frictionless_per_day counts a day of transactions".into(),
            ));
        }
        self.default_link().validate()?;
        for (name, link) in &self.schemes {
            if crate::acs::store::scheme_from_name(name).is_none() {
                return Err((
                    "schemes",
                    format!("`{name}` is not one of visa, mastercard, amex, jcb, discover"),
                ));
            }
            link.validate()
                .map_err(|(key, rule)| ("schemes", format!("{name}.{key}: {rule}")))?;
        }
        self.ranges()?;
        if let Some(spc) = &self.spc {
            // The rules of `[transactions]`'s SPC instrument (`shonin_txn::settings`).
            let name = &spc.display_name;
            let chars = name.chars().count();
            if chars == 0 || chars > 64 || !shonin_types::text::is_displayable(name) {
                return Err(("spc.display_name", "1 – 64 displayable characters".into()));
            }
            let https = url::Url::parse(&spc.icon).is_ok_and(|u| u.scheme() == "https");
            if spc.icon.len() > 8192 || !(https || spc.icon.starts_with("data:image/")) {
                return Err((
                    "spc.icon",
                    "an https URL or a data:image/ URL, at most 8 KiB".into(),
                ));
            }
        }
        let digits = |s: &String, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !self.risk.frictionless_up_to.keys().all(|c| digits(c, 3)) {
            return Err((
                "risk.frictionless_up_to",
                "keys are ISO 4217 numeric currency codes (\"978\")".into(),
            ));
        }
        if !self.risk.refused_mcc.iter().all(|m| digits(m, 4)) {
            return Err((
                "risk.refused_mcc",
                "four-digit merchant category codes".into(),
            ));
        }
        if !self
            .risk
            .refused_merchant_countries
            .iter()
            .all(|c| digits(c, 3))
        {
            return Err((
                "risk.refused_merchant_countries",
                "ISO 3166-1 numeric country codes".into(),
            ));
        }
        Ok(())
    }
}
