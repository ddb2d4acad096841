//! Passkeys in the server: settings, the service built from them, and what a session's sign-in
//! method means for `acr`/`amr` and for changes to the account.
//!
//! - `amr` (RFC 8176 §2): a passkey sign-in is `hwk` (device-bound, not backup eligible) or `swk`
//!   (synced), plus `user` and `mfa` (user verification was required); a password is `pwd`.
//! - `acr` (OpenID EAP ACR Values 1.0 §2): `phrh` for a device-bound passkey, `phr` for a synced
//!   one; a password sign-in has no `acr`. `acr_values=phr` at `/authorize` is satisfied by
//!   either, `phrh` only by a device-bound passkey; anything else forces a passkey sign-in.

mod settings;

pub use settings::PasskeySettings;

use crate::oauth::session::Session;
use shonin_passkeys::{AaguidNames, AaguidPolicy, PasskeyConfig, Passkeys, StoredPasskey};
use shonin_store::Store;
use time::{Duration, OffsetDateTime};

pub const ACR_PHISHING_RESISTANT: &str = "phr";
pub const ACR_PHISHING_RESISTANT_HARDWARE: &str = "phrh";
/// What `acr_values_supported` advertises.
pub const ACR_VALUES_SUPPORTED: &[&str] =
    &[ACR_PHISHING_RESISTANT, ACR_PHISHING_RESISTANT_HARDWARE];

/// The passkey side of the server, built once at startup.
#[derive(Debug)]
pub struct PasskeyService {
    pub ceremonies: Passkeys<Store>,
    pub names: AaguidNames,
    /// Global policy: a user with a passkey cannot sign in with a password.
    pub passkey_only: bool,
    /// How recent a sign-in must be to add or remove a sign-in method.
    pub reauthentication_window: Duration,
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
            passkey_only: s.passkey_only,
            reauthentication_window: secs(s.reauthentication_window_secs),
        })
    }

    /// Whether `user` may no longer sign in with a password.
    pub fn password_disabled(&self, user_passkey_only: bool, has_passkey: bool) -> bool {
        has_passkey && (self.passkey_only || user_passkey_only)
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

/// The session facts of a passkey sign-in.
pub fn passkey_session(
    user_id: &str,
    username: &str,
    passkey: &StoredPasskey,
    now: OffsetDateTime,
) -> Session {
    let (key, acr) = if passkey.backup_eligible {
        ("swk", ACR_PHISHING_RESISTANT)
    } else {
        ("hwk", ACR_PHISHING_RESISTANT_HARDWARE)
    };
    Session {
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        auth_time: now.unix_timestamp(),
        amr: vec![key.to_owned(), "user".to_owned(), "mfa".to_owned()],
        acr: Some(acr.to_owned()),
    }
}

/// Whether the session's sign-in was with a passkey.
pub fn by_passkey(session: &Session) -> bool {
    session.amr.iter().any(|m| m == "hwk" || m == "swk")
}

/// Whether `acr_values` names a value this server can enforce. Unknown values are ignored:
/// `acr_values` is a voluntary request (OIDC Core §3.1.2.1, §5.5.1.1).
pub fn requests_known_acr(requested: &[String]) -> bool {
    requested
        .iter()
        .any(|v| ACR_VALUES_SUPPORTED.contains(&v.as_str()))
}

/// Whether the session's sign-in was with a recovery code (RFC 8176 `otp`): the way to enrol a
/// new passkey after losing every old one.
pub fn by_recovery_code(session: &Session) -> bool {
    session.amr.iter().any(|m| m == "otp")
}

/// Whether the session satisfies one of the requested `acr_values` this server knows (none
/// known: yes).
pub fn acr_satisfied(session: &Session, requested: &[String]) -> bool {
    if !requests_known_acr(requested) {
        return true;
    }
    let have = session.acr.as_deref();
    requested.iter().any(|want| match want.as_str() {
        ACR_PHISHING_RESISTANT => {
            matches!(
                have,
                Some(ACR_PHISHING_RESISTANT | ACR_PHISHING_RESISTANT_HARDWARE)
            )
        }
        ACR_PHISHING_RESISTANT_HARDWARE => have == Some(ACR_PHISHING_RESISTANT_HARDWARE),
        _ => false,
    })
}

/// Whether the session may add or remove a sign-in method (OWASP Authentication Cheat Sheet:
/// a change of authentication method is authorised with the current one): signed in within the
/// window, and with a passkey (or a recovery code) when the user has one.
pub fn may_change_methods(
    session: &Session,
    has_passkey: bool,
    window: Duration,
    now: OffsetDateTime,
) -> bool {
    let age = now.unix_timestamp().saturating_sub(session.auth_time);
    (0..=window.whole_seconds()).contains(&age)
        && (!has_passkey || by_passkey(session) || by_recovery_code(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(amr: &[&str], acr: Option<&str>, auth_time: i64) -> Session {
        Session {
            user_id: "u".into(),
            username: "alice".into(),
            auth_time,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            acr: acr.map(str::to_owned),
        }
    }

    #[test]
    fn acr_rules() {
        let pwd = session(&["pwd"], None, 0);
        let synced = session(&["swk"], Some("phr"), 0);
        let bound = session(&["hwk"], Some("phrh"), 0);
        let want = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(acr_satisfied(&pwd, &[]));
        assert!(!acr_satisfied(&pwd, &want(&["phr"])));
        assert!(acr_satisfied(&synced, &want(&["phr"])));
        assert!(!acr_satisfied(&synced, &want(&["phrh"])));
        assert!(acr_satisfied(&bound, &want(&["phrh"])));
        assert!(acr_satisfied(&bound, &want(&["urn:other", "phr"])));
        assert!(
            acr_satisfied(&pwd, &want(&["urn:other"])),
            "unknown values are voluntary"
        );
        assert!(!acr_satisfied(&pwd, &want(&["urn:other", "phr"])));
    }

    #[test]
    fn changing_methods_needs_a_fresh_strong_sign_in() {
        let now = OffsetDateTime::from_unix_timestamp(10_000).unwrap();
        let w = Duration::minutes(5);
        let pwd_fresh = session(&["pwd"], None, 10_000 - 60);
        let pk_fresh = session(&["hwk"], Some("phrh"), 10_000 - 300);
        let pk_stale = session(&["hwk"], Some("phrh"), 10_000 - 301);
        assert!(may_change_methods(&pwd_fresh, false, w, now));
        assert!(!may_change_methods(&pwd_fresh, true, w, now));
        assert!(may_change_methods(&pk_fresh, true, w, now));
        assert!(!may_change_methods(&pk_stale, true, w, now));
    }
}
