//! EMV 3-D Secure, issuer side: the ACS's wiring. The decisions are `shonin_3ds::acs`'s pure
//! functions; this module gathers their facts from the store, computes keyed values under keys
//! derived from the master key, commits each authentication with its audit entry, and speaks
//! the protocol's JSON on `POST /3ds/acs/areq` (`routes/threeds.rs`).

pub mod areq;
pub mod challenge;
pub mod method;
pub mod results;
pub mod spc;
pub mod timers;

use shonin_3ds::Versions;
use shonin_3ds::acs::{AcsProfile, CardRange, RiskRules, Scheme};
use shonin_3ds::settings::{self, AcsSettings};
use shonin_keys::{KeyError, KeyPurpose, MacKey};
use std::sync::Arc;
use time::Duration;

/// The configured ACS with its keys.
#[derive(Debug)]
pub struct AcsService {
    pub profile: AcsProfile,
    pub rules: RiskRules,
    pub ranges: Vec<CardRange>,
    pub versions: Versions,
    pub max_attempts: u8,
    pub retention: Duration,
    /// The DS links: per scheme with a `schemes` table, and the top-level one for the others.
    pub links: Links,
    /// Card fingerprints (PCI DSS 3.5.1 keyed hash): in the HSM, or derived from the master key,
    /// so every node finds the same card (`Keys::mac_key`).
    pub fingerprint_key: Arc<dyn MacKey>,
    /// Authentication values (`KeyPurpose::ThreeDsAuthenticationValue`).
    pub value_key: Arc<dyn MacKey>,
    /// One-time challenge codes (`KeyPurpose::ChallengeCodes`).
    pub code_key: Arc<dyn MacKey>,
    /// 2.3.1 Secure Payment Confirmation's instrument; `None`: SPC is not offered.
    pub spc: Option<shonin_3ds::acs::spc::Instrument>,
}

/// One DS link: the DS's client certificate thumbprints, and the RReq client (when its
/// `results_*_file` are configured).
#[derive(Debug)]
pub struct DsLink {
    pub thumbprints: Vec<String>,
    pub results: Option<results::ResultsClient>,
}

impl DsLink {
    fn build(s: &settings::LinkSettings) -> anyhow::Result<Self> {
        Ok(DsLink {
            thumbprints: s.ds_certificate_thumbprints.clone(),
            results: results::ResultsClient::build(s)?,
        })
    }

    pub fn trusts(&self, thumbprint: &str) -> bool {
        self.thumbprints
            .iter()
            .any(|t| shonin_types::constant_time_eq(t.as_bytes(), thumbprint.as_bytes()))
    }
}

/// The DS links by scheme (EMV 3DS §6.1: each scheme's directory has its own PKI).
#[derive(Debug)]
pub struct Links {
    default: DsLink,
    schemes: Vec<(Scheme, DsLink)>,
}

impl Links {
    /// The link of `scheme`'s directory.
    pub fn of(&self, scheme: Scheme) -> &DsLink {
        self.schemes
            .iter()
            .find(|(s, _)| *s == scheme)
            .map_or(&self.default, |(_, l)| l)
    }

    /// Whether any link trusts the DS certificate `thumbprint`.
    pub fn any_trusts(&self, thumbprint: &str) -> bool {
        self.default.trusts(thumbprint) || self.schemes.iter().any(|(_, l)| l.trusts(thumbprint))
    }
}

/// The path the browser posts the CReq to, under the issuer.
pub const CHALLENGE_PATH: &str = "/3ds/acs/challenge";

impl AcsService {
    /// `None` when `[threeds.acs]` is absent. The settings were validated with the
    /// configuration.
    pub fn build(
        settings: Option<&AcsSettings>,
        issuer: &str,
        mac_key: impl Fn(KeyPurpose) -> Result<Arc<dyn MacKey>, KeyError>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(s) = settings else { return Ok(None) };
        let invalid = |(key, rule): (&str, String)| {
            anyhow::anyhow!("configuration key `threeds.acs.{key}`: {rule}")
        };
        Ok(Some(AcsService {
            profile: AcsProfile {
                reference_number: s.reference_number.clone(),
                operator_id: s.operator_id.clone(),
                challenge_url: format!("{issuer}{CHALLENGE_PATH}"),
            },
            rules: s.risk.clone(),
            ranges: s.ranges().map_err(invalid)?,
            versions: s.versions().map_err(invalid)?,
            max_attempts: s.max_attempts,
            retention: Duration::seconds(
                i64::try_from(s.transaction_retention_secs).unwrap_or(i64::MAX),
            ),
            links: Links {
                default: DsLink::build(&s.default_link())?,
                schemes: s
                    .schemes
                    .iter()
                    .filter_map(|(name, l)| {
                        shonin_3ds::acs::store::scheme_from_name(name).map(|scheme| (scheme, l))
                    })
                    .map(|(scheme, l)| Ok((scheme, DsLink::build(l)?)))
                    .collect::<anyhow::Result<_>>()?,
            },
            fingerprint_key: mac_key(KeyPurpose::CardFingerprint)?,
            value_key: mac_key(KeyPurpose::ThreeDsAuthenticationValue)?,
            code_key: mac_key(KeyPurpose::ChallengeCodes)?,
            spc: s.spc.clone(),
        }))
    }
}

/// The row that remembers `txn`'s browser with its card, when its challenge ended Y at `now`
/// (`threeds.acs.risk.remember_browser_days`).
pub(crate) fn remember_browser(
    acs: &AcsService,
    txn: &shonin_3ds::acs::AcsTransaction,
    now: time::OffsetDateTime,
) -> Option<shonin_3ds::acs::browser::KnownBrowser> {
    let browser = txn.data.browser.clone()?;
    Some(shonin_3ds::acs::browser::KnownBrowser {
        card_fingerprint: txn.card_fingerprint.clone(),
        browser,
        acs_trans_id: txn.acs_trans_id.clone(),
        created_at: now,
        expires_at: now + Duration::days(i64::from(acs.rules.remember_browser_days)),
    })
}
