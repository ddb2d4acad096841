//! The relying party (RP ID, origin, name) and the operator's authenticator policy.

use crate::error::PasskeyError;
use std::collections::BTreeSet;
use time::Duration;
use url::Url;
use uuid::Uuid;

/// Which authenticator models may be enrolled, by AAGUID.
///
/// Registration asks for attestation `none` (WebAuthn L3 §5.4.7), so the AAGUID comes from the
/// authenticator data unattested: an allow-list keeps honest users on approved models, but a
/// modified client could claim any AAGUID. docs/ARCHITECTURE.md records this limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AaguidPolicy {
    /// Any authenticator (the default).
    #[default]
    Any,
    /// Only these AAGUIDs.
    Only(BTreeSet<Uuid>),
}

impl AaguidPolicy {
    pub fn allows(&self, aaguid: &Uuid) -> bool {
        match self {
            Self::Any => true,
            Self::Only(list) => list.contains(aaguid),
        }
    }
}

/// Everything the ceremonies need to know about this deployment.
#[derive(Debug, Clone)]
pub struct PasskeyConfig {
    /// The RP ID: the issuer's host name, or a registrable suffix of it (WebAuthn L3 §5.1.2).
    pub rp_id: String,
    /// The origin pages are served from (scheme, host, port of the issuer).
    pub origin: Url,
    /// Shown by the authenticator when a passkey is created.
    pub rp_name: String,
    /// How long a begun ceremony may be finished (also the browser's `timeout`).
    pub ceremony_ttl: Duration,
    pub aaguids: AaguidPolicy,
}

impl PasskeyConfig {
    /// The longest a ceremony may stay open: WebAuthn L3 §15.1 recommends 300 s for UV
    /// ceremonies and at most 600 s.
    pub const MAX_CEREMONY_TTL: Duration = Duration::minutes(10);

    /// A configuration for `origin`, with the RP ID taken from its host.
    pub fn for_origin(origin: &Url, rp_name: &str) -> Result<Self, PasskeyError> {
        let host = origin
            .host_str()
            .ok_or(PasskeyError::Config("the origin has no host"))?;
        Ok(Self {
            rp_id: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            origin: origin.clone(),
            rp_name: rp_name.to_owned(),
            ceremony_ttl: Duration::minutes(5),
            aaguids: AaguidPolicy::Any,
        })
    }
}
