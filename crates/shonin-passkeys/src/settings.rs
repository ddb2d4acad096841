//! `[passkeys]` in `shonin.toml`: the relying party, the ceremonies' lifetime, the AAGUID policy
//! and the sign-in method policy, with their validation.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A `[passkeys]` key that breaks its rule (the server reports it as a configuration error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration key `{key}`: {rule}")]
pub struct SettingsError {
    pub key: String,
    pub rule: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeySettings {
    /// The WebAuthn RP ID: the issuer's host (the default) or a registrable suffix of it.
    pub rp_id: Option<String>,
    /// The relying party's name that authenticators show when a passkey is created.
    pub rp_name: String,
    /// How long a begun enrolment or sign-in may be finished: 30 – 600 s (WebAuthn L3 §15.1).
    pub ceremony_lifetime_secs: u64,
    /// Allow only these authenticator models (AAGUIDs); empty: any.
    pub allowed_aaguids: Vec<String>,
    /// Names of authenticator models by AAGUID (community list or a decoded FIDO MDS3 payload).
    pub aaguid_names_file: Option<PathBuf>,
    /// A user who has a passkey can no longer sign in with a password.
    pub passkey_only: bool,
    /// How recent a sign-in must be to add or remove a sign-in method: 30 – 300 s.
    pub reauthentication_window_secs: u64,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        Self {
            rp_id: None,
            rp_name: "Shonin".into(),
            ceremony_lifetime_secs: 300,
            allowed_aaguids: Vec::new(),
            aaguid_names_file: None,
            passkey_only: false,
            reauthentication_window_secs: 300,
        }
    }
}

impl PasskeySettings {
    pub fn validate(&self, issuer: &url::Url) -> Result<(), SettingsError> {
        let invalid = |key: &str, rule: String| SettingsError {
            key: format!("passkeys.{key}"),
            rule,
        };
        self.rp_id_for(issuer)?;
        let n = self.rp_name.chars().count();
        if !(1..=64).contains(&n) || !shonin_types::text::is_displayable(&self.rp_name) {
            return Err(invalid(
                "rp_name",
                "must be 1 to 64 characters without control or bidirectional-formatting characters"
                    .into(),
            ));
        }
        if !(30..=600).contains(&self.ceremony_lifetime_secs) {
            return Err(invalid(
                "ceremony_lifetime_secs",
                format!(
                    "must be between 30 and 600, got {}",
                    self.ceremony_lifetime_secs
                ),
            ));
        }
        if !(30..=300).contains(&self.reauthentication_window_secs) {
            return Err(invalid(
                "reauthentication_window_secs",
                format!(
                    "must be between 30 and 300, got {}",
                    self.reauthentication_window_secs
                ),
            ));
        }
        self.aaguids()?;
        if let Some(f) = &self.aaguid_names_file
            && !f.is_file()
        {
            return Err(invalid(
                "aaguid_names_file",
                format!("file {} does not exist", f.display()),
            ));
        }
        Ok(())
    }

    /// The WebAuthn RP ID for `issuer`: `rp_id` if set, else the issuer's host. `validate` (so
    /// `config check`) and the passkey service that `serve` builds both take it from here.
    pub fn rp_id_for(&self, issuer: &url::Url) -> Result<String, SettingsError> {
        let host = match issuer.host() {
            Some(url::Host::Domain(host)) => host,
            // WebAuthn L3 §5.1.3 and §5.1.4: the page's effective domain must be a valid domain,
            // so browsers refuse every ceremony on an IP-address origin, whatever the RP ID.
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                let host = issuer.host_str().unwrap_or_default();
                let port = issuer.port().map(|p| format!(":{p}")).unwrap_or_default();
                return Err(SettingsError {
                    key: "issuer".into(),
                    rule: format!(
                        "host {host} is an IP address, which WebAuthn cannot use as an RP ID \
                         (passkeys.rp_id cannot change that: the issuer's origin must be a \
                         domain): use a host name, e.g. https://localhost{port}"
                    ),
                });
            }
            None => {
                return Err(SettingsError {
                    key: "issuer".into(),
                    rule: "must have a host name, e.g. https://auth.example.com".into(),
                });
            }
        };
        match &self.rp_id {
            None => Ok(host.to_owned()),
            Some(rp_id) if host == rp_id || host.ends_with(&format!(".{rp_id}")) => {
                Ok(rp_id.clone())
            }
            Some(_) => Err(SettingsError {
                key: "passkeys.rp_id".into(),
                rule: format!("must be the issuer's host ({host}) or a suffix of it after a dot"),
            }),
        }
    }

    /// The allow-list, parsed.
    pub fn aaguids(&self) -> Result<BTreeSet<uuid::Uuid>, SettingsError> {
        self.allowed_aaguids
            .iter()
            .map(|a| {
                uuid::Uuid::parse_str(a).map_err(|_| SettingsError {
                    key: "passkeys.allowed_aaguids".into(),
                    rule: format!("`{a}` is not an AAGUID (a UUID such as 08987058-cadc-4b81-b6e1-30de50dcbe96)"),
                })
            })
            .collect()
    }
}
