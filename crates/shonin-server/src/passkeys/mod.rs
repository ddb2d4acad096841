//! Passkeys in the server: settings and the service built from them. What a session's sign-in
//! method means for `acr`/`amr` and for changes to the account is `shonin_identity`'s
//! (`session`, `methods`); the service carries the operator's [`MethodPolicy`].

pub use shonin_passkeys::settings::PasskeySettings;

use shonin_identity::MethodPolicy;
use shonin_passkeys::{AaguidNames, AaguidPolicy, PasskeyConfig, Passkeys};
use shonin_store::Store;
use time::Duration;

/// The passkey side of the server, built once at startup.
#[derive(Debug)]
pub struct PasskeyService {
    pub ceremonies: Passkeys<Store>,
    pub names: AaguidNames,
    /// `passkeys.passkey_only` and `passkeys.reauthentication_window_secs`.
    pub methods: MethodPolicy,
}

impl PasskeyService {
    pub fn build(config: &crate::config::Config, store: &Store) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let s = &config.passkeys;
        let issuer = url::Url::parse(&config.issuer).context("issuer")?;
        let origin = url::Url::parse(&issuer.origin().ascii_serialization()).context("issuer")?;
        let mut pc = PasskeyConfig::for_origin(&origin, &s.rp_name)?;
        // The same derivation (and refusals) as configuration validation.
        pc.rp_id = s.rp_id_for(&issuer)?;
        pc.ceremony_ttl = secs(s.ceremony_lifetime_secs);
        let allowed = s.aaguids()?;
        if !allowed.is_empty() {
            pc.aaguids = AaguidPolicy::Only(allowed);
        }
        let names = match &s.aaguid_names_file {
            Some(f) => {
                let bytes = std::fs::read(f)
                    .with_context(|| format!("passkeys.aaguid_names_file {}", f.display()))?;
                AaguidNames::parse(&bytes).map_err(|e| {
                    anyhow::anyhow!("passkeys.aaguid_names_file {}: {e}", f.display())
                })?
            }
            None => AaguidNames::default(),
        };
        Ok(Self {
            ceremonies: Passkeys::new(pc, store.clone())?,
            names,
            methods: MethodPolicy {
                passkey_only: s.passkey_only,
                reauthentication_window: secs(s.reauthentication_window_secs),
            },
        })
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}
