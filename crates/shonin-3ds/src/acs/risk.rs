//! The ACS's risk decision: from an AReq and what the issuer knows (is the card enrolled, does
//! its holder have a passkey, how often was it authenticated without a challenge today, is the
//! browser known), decide a frictionless outcome or a challenge. Pure: the caller gathers the
//! facts and stores the decision.
//!
//! The order of the rules, first match wins:
//! 1. no card record → N (08); card not enrolled → the configured outcome (13);
//! 2. a refused merchant category or merchant country → R (12);
//! 3. the requestor shares data only (`threeDSRequestorChallengeInd` 06, 2.2+) → I;
//! 4. reasons to challenge: the amount above the currency's threshold (a currency without one is
//!    always above: default deny), frictionless authentications today at the limit, an unknown
//!    browser, the requestor asking for a challenge (03, 04, 09);
//! 5. a challenge that this ACS cannot run → N: 3RI (21), the app channel (03, its encrypted
//!    CReq/CRes are not built);
//! 6. otherwise → Y.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::MessageVersion;
use crate::message::{AReq, TransStatus};

/// `transStatusReason` values the ACS gives.
pub mod reason {
    pub const UNSUPPORTED_DEVICE: &str = "03";
    pub const NO_CARD_RECORD: &str = "08";
    pub const NOT_PERMITTED: &str = "12";
    pub const NOT_ENROLLED: &str = "13";
    pub const TIMED_OUT: &str = "14";
    pub const MAX_CHALLENGES: &str = "19";
    pub const THREE_RI_NOT_SUPPORTED: &str = "21";
    pub const CARD_AUTHENTICATION_FAILED: &str = "01";
}

/// What an issuer answers for a card in its ranges whose holder is not enrolled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotEnrolled {
    /// N: not authenticated (the default: deny).
    #[default]
    Denied,
    /// A: attempts processing (the merchant keeps the liability shift).
    Attempts,
    /// U: authentication could not be performed.
    Unavailable,
}

/// The issuer's rules (configuration).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskRules {
    /// Per ISO 4217 numeric currency (`"978"`), the largest purchase in minor units that may pass
    /// without a challenge. A payment in a currency without an entry is always challenged.
    pub frictionless_up_to: BTreeMap<String, u64>,
    /// Merchant category codes refused outright (R, reason 12).
    pub refused_mcc: BTreeSet<String>,
    /// Merchant countries (ISO 3166-1 numeric) refused outright.
    pub refused_merchant_countries: BTreeSet<String>,
    /// Frictionless authentications per card per day; at the limit the next one is challenged.
    pub frictionless_per_day: Option<u32>,
    /// Challenge when the card's holder has not passed a challenge in this browser before
    /// ([`super::browser`]).
    pub challenge_new_browser: bool,
    /// How long a browser is remembered after a challenge passed in it, in days (default 90).
    pub remember_browser_days: u32,
    pub not_enrolled: NotEnrolled,
}

impl Default for RiskRules {
    fn default() -> Self {
        RiskRules {
            frictionless_up_to: BTreeMap::new(),
            refused_mcc: BTreeSet::new(),
            refused_merchant_countries: BTreeSet::new(),
            frictionless_per_day: None,
            challenge_new_browser: false,
            remember_browser_days: 90,
            not_enrolled: NotEnrolled::default(),
        }
    }
}

/// What the issuer knows about the card and its holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolment {
    /// The number is in no range this ACS serves.
    NoCardRecord,
    /// In a range, but not enrolled in 3-D Secure.
    NotEnrolled,
    /// Enrolled; `passkey` when its holder has one to sign the purchase with.
    Enrolled { passkey: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub enrolment: Enrolment,
    /// Frictionless authentications of this card in the last 24 hours.
    pub frictionless_today: u32,
    /// The browser (by its fingerprint) has been seen with this card.
    pub known_browser: bool,
}

/// Why a challenge is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeReason {
    Amount,
    Velocity,
    NewBrowser,
    RequestorAsked,
}

/// How the cardholder is challenged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeMethod {
    /// The passkey signs merchant, amount and currency (dynamic linking).
    Passkey,
    /// A one-time code, for cardholders without a passkey.
    OneTimeCode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Frictionless {
        status: TransStatus,
        reason: Option<&'static str>,
    },
    Challenge {
        method: ChallengeMethod,
        mandated: bool,
        reasons: Vec<ChallengeReason>,
    },
}

/// The values of `threeDSRequestorChallengeInd`: one string before 2.3.1, an array from it.
fn challenge_indicators(areq: &AReq) -> Vec<&str> {
    match areq.other.0.get("threeDSRequestorChallengeInd") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn text<'a>(areq: &'a AReq, name: &str) -> Option<&'a str> {
    areq.other.0.get(name).and_then(Value::as_str)
}

pub fn decide(rules: &RiskRules, areq: &AReq, facts: Facts) -> Decision {
    let frictionless = |status, reason| Decision::Frictionless { status, reason };
    let passkey = match facts.enrolment {
        Enrolment::NoCardRecord => {
            return frictionless(TransStatus::N, Some(reason::NO_CARD_RECORD));
        }
        Enrolment::NotEnrolled => {
            let status = match rules.not_enrolled {
                NotEnrolled::Denied => TransStatus::N,
                NotEnrolled::Attempts => TransStatus::A,
                NotEnrolled::Unavailable => TransStatus::U,
            };
            // A carries no reason; N and U must say why.
            let why = (status != TransStatus::A).then_some(reason::NOT_ENROLLED);
            return frictionless(status, why);
        }
        Enrolment::Enrolled { passkey } => passkey,
    };
    if text(areq, "mcc").is_some_and(|m| rules.refused_mcc.contains(m))
        || text(areq, "merchantCountryCode")
            .is_some_and(|c| rules.refused_merchant_countries.contains(c))
    {
        return frictionless(TransStatus::R, Some(reason::NOT_PERMITTED));
    }
    let indicators = challenge_indicators(areq);
    if areq.message_version >= MessageVersion::V2_2_0 && indicators.contains(&"06") {
        return frictionless(TransStatus::I, None);
    }

    let mut reasons = Vec::new();
    let payment = areq.message_category == "01";
    if payment {
        let allowed = areq
            .purchase_currency
            .as_deref()
            .and_then(|c| rules.frictionless_up_to.get(c));
        let amount = areq
            .purchase_amount
            .as_deref()
            .and_then(|a| a.parse::<u64>().ok());
        match (allowed, amount) {
            (Some(allowed), Some(amount)) if amount <= *allowed => {}
            _ => reasons.push(ChallengeReason::Amount),
        }
    }
    if rules
        .frictionless_per_day
        .is_some_and(|limit| facts.frictionless_today >= limit)
    {
        reasons.push(ChallengeReason::Velocity);
    }
    if rules.challenge_new_browser && areq.device_channel == "02" && !facts.known_browser {
        reasons.push(ChallengeReason::NewBrowser);
    }
    if indicators.iter().any(|i| matches!(*i, "03" | "04" | "09")) {
        reasons.push(ChallengeReason::RequestorAsked);
    }
    if reasons.is_empty() {
        return frictionless(TransStatus::Y, None);
    }
    match areq.device_channel.as_str() {
        "02" => Decision::Challenge {
            method: if passkey {
                ChallengeMethod::Passkey
            } else {
                ChallengeMethod::OneTimeCode
            },
            // The amount rule is the issuer's strong-customer-authentication mandate.
            mandated: reasons.contains(&ChallengeReason::Amount),
            reasons,
        },
        "03" => frictionless(TransStatus::N, Some(reason::THREE_RI_NOT_SUPPORTED)),
        _ => frictionless(TransStatus::N, Some(reason::UNSUPPORTED_DEVICE)),
    }
}
