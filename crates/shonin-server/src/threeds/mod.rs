//! EMV 3-D Secure, issuer side: the ACS's wiring. The decisions are `shonin_3ds::acs`'s pure
//! functions; this module gathers their facts from the store, computes keyed values under keys
//! derived from the master key, commits each authentication with its audit entry, and speaks
//! the protocol's JSON on `POST /3ds/acs/areq` (`routes/threeds.rs`).

pub mod areq;
pub mod challenge;
pub mod results;
pub mod settings;
pub mod timers;

use settings::AcsSettings;
use shonin_3ds::Versions;
use shonin_3ds::acs::{AcsProfile, CardRange, RiskRules};
use shonin_keys::{KeyPurpose, LocalMacKey, MasterKey};
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
    pub ds_thumbprints: Vec<String>,
    /// Card fingerprints (PCI DSS 3.5.1 keyed hash), derived from the master key so every node
    /// finds the same card.
    pub fingerprint_key: LocalMacKey,
    /// Authentication values (`KeyPurpose::ThreeDsAuthenticationValue`).
    pub value_key: LocalMacKey,
    /// One-time challenge codes (`KeyPurpose::ChallengeCodes`).
    pub code_key: LocalMacKey,
    /// The mutual-TLS client for the RReq, when `results_*_file` are configured.
    pub results: Option<results::ResultsClient>,
}

/// The path the browser posts the CReq to, under the issuer.
pub const CHALLENGE_PATH: &str = "/3ds/acs/challenge";

impl AcsService {
    /// `None` when `[threeds.acs]` is absent. The settings were validated with the
    /// configuration.
    pub fn build(
        settings: Option<&AcsSettings>,
        issuer: &str,
        master: &MasterKey,
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
            ds_thumbprints: s.ds_certificate_thumbprints.clone(),
            fingerprint_key: LocalMacKey::derived(master, KeyPurpose::CardFingerprint),
            value_key: LocalMacKey::derived(master, KeyPurpose::ThreeDsAuthenticationValue),
            code_key: LocalMacKey::derived(master, KeyPurpose::ChallengeCodes),
            results: results::ResultsClient::build(s)?,
        }))
    }
}
