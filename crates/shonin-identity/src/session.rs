//! Sign-in sessions: who signed in, when and how (`amr`, `acr`), and their flow record.
//!
//! - `amr` (RFC 8176 §2): a passkey sign-in is `hwk` (device-bound, not backup eligible) or `swk`
//!   (synced), plus `user` and `mfa` (user verification was required); a password is `pwd`; a
//!   recovery code is `otp`.
//! - `acr` (OpenID EAP ACR Values 1.0 §2): `phrh` for a device-bound passkey, `phr` for a synced
//!   one; a password or recovery-code sign-in has no `acr`. `acr_values=phr` is satisfied by
//!   either passkey, `phrh` only by a device-bound one ([`Session::acr_satisfied`]).
//!
//! A session is stored as a flow record of kind [`SessionState::KIND`], keyed by the SHA-256 of
//! the secret the browser holds (its cookie value), so any node can continue a flow another
//! began and the store never holds the secret itself. It is [`SessionState::Active`] until the
//! user signs out ([`SessionState::Ended`]) or it expires. The cookie itself (name, attributes,
//! minting the secret) belongs to the HTTP layer.

use crate::User;
use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use shonin_types::StorageError;
use shonin_types::flow::{self, Flow, FlowState};
use shonin_types::ports::FlowStore;
use time::{Duration, OffsetDateTime};

/// `acr` of a sign-in with any passkey.
pub const ACR_PHISHING_RESISTANT: &str = "phr";
/// `acr` of a sign-in with a device-bound passkey.
pub const ACR_PHISHING_RESISTANT_HARDWARE: &str = "phrh";
/// What `acr_values_supported` advertises.
pub const ACR_VALUES_SUPPORTED: &[&str] =
    &[ACR_PHISHING_RESISTANT, ACR_PHISHING_RESISTANT_HARDWARE];

/// How the user signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    /// One of the user's recovery codes.
    RecoveryCode,
    /// A passkey; `backup_eligible` (synced) or device-bound.
    Passkey {
        backup_eligible: bool,
    },
}

impl SignInMethod {
    /// The session's `amr` and `acr` for this method.
    fn amr_acr(self) -> (Vec<String>, Option<String>) {
        let amr = |v: &[&str]| v.iter().map(|m| (*m).to_owned()).collect();
        match self {
            Self::Password => (amr(&["pwd"]), None),
            // RFC 8176 §2 "otp": a one-time code.
            Self::RecoveryCode => (amr(&["otp"]), None),
            Self::Passkey { backup_eligible } => {
                let (key, acr) = if backup_eligible {
                    ("swk", ACR_PHISHING_RESISTANT)
                } else {
                    ("hwk", ACR_PHISHING_RESISTANT_HARDWARE)
                };
                (amr(&[key, "user", "mfa"]), Some(acr.to_owned()))
            }
        }
    }
}

/// Who signed in, when and how. Stored as JSON in the session's flow record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

impl Session {
    /// The session of `user`, signed in with `method` at `now`.
    pub fn new(user: &User, method: SignInMethod, now: OffsetDateTime) -> Self {
        let (amr, acr) = method.amr_acr();
        Self {
            user_id: user.id.clone(),
            username: user.username.as_str().to_owned(),
            auth_time: now.unix_timestamp(),
            amr,
            acr,
        }
    }

    /// Whether the sign-in was with a passkey.
    pub fn by_passkey(&self) -> bool {
        self.amr.iter().any(|m| m == "hwk" || m == "swk")
    }

    /// Whether the sign-in was with a recovery code (RFC 8176 `otp`): the way to enrol a new
    /// passkey after losing every old one.
    pub fn by_recovery_code(&self) -> bool {
        self.amr.iter().any(|m| m == "otp")
    }

    /// Whether the session satisfies one of the requested `acr_values` this server knows (none
    /// known: yes).
    pub fn acr_satisfied(&self, requested: &[String]) -> bool {
        if !requests_known_acr(requested) {
            return true;
        }
        let have = self.acr.as_deref();
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
}

/// Whether `acr_values` names a value this server can enforce. Unknown values are ignored:
/// `acr_values` is a voluntary request (OIDC Core §3.1.2.1, §5.5.1.1).
pub fn requests_known_acr(requested: &[String]) -> bool {
    requested
        .iter()
        .any(|v| ACR_VALUES_SUPPORTED.contains(&v.as_str()))
}

/// The states of a session's flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Signed out; the record stays until it expires and is swept.
    Ended,
}

impl FlowState for SessionState {
    const KIND: &'static str = "session";
    const ALL: &'static [Self] = &[SessionState::Active, SessionState::Ended];

    fn name(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::Ended => "ended",
        }
    }

    fn may_become(self, next: Self) -> bool {
        matches!((self, next), (SessionState::Active, SessionState::Ended))
    }
}

/// The flow-record id of the session whose secret is `token`: its SHA-256, lower-case hex.
pub fn record_id(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores `session` under the secret `token`, active until `now + lifetime`.
pub async fn create(
    flows: &dyn FlowStore,
    token: &str,
    session: &Session,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(), StorageError> {
    let data = serde_json::to_vec(session).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let record = Flow::new(record_id(token), SessionState::Active, data, now + lifetime);
    flows.create_flow(&record.record()).await
}

/// The session stored under `token`, if it is active and unexpired at `now`.
pub async fn load(
    flows: &dyn FlowStore,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Session>, StorageError> {
    let Some(record) = flow::get::<SessionState>(flows, &record_id(token), now).await? else {
        return Ok(None);
    };
    if record.state != SessionState::Active {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&record.data).ok())
}

/// Ends the session stored under `token` (on every node). Ending one that is already ended,
/// expired or unknown does nothing.
pub async fn end(
    flows: &dyn FlowStore,
    token: &str,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    let Some(record) = flow::get::<SessionState>(flows, &record_id(token), now).await? else {
        return Ok(());
    };
    if record.state == SessionState::Active {
        // `None`: another request ended it first, or it expired meanwhile; either way it is over.
        flow::advance_now(flows, &record, SessionState::Ended, &record.data, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Username;
    use async_trait::async_trait;
    use shonin_types::ports::FlowRecord;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn session(amr: &[&str], acr: Option<&str>, auth_time: i64) -> Session {
        Session {
            user_id: "u".into(),
            username: "alice".into(),
            auth_time,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            acr: acr.map(str::to_owned),
        }
    }

    fn alice() -> User {
        User::new(Username::new("alice").unwrap(), None, None, NOW).unwrap()
    }

    #[test]
    fn each_method_gives_its_amr_and_acr() {
        let user = alice();
        let s = |m| Session::new(&user, m, NOW);
        let pwd = s(SignInMethod::Password);
        assert_eq!(
            (&pwd.amr[..], pwd.acr.as_deref()),
            (&["pwd".to_owned()][..], None)
        );
        let otp = s(SignInMethod::RecoveryCode);
        assert_eq!(
            (&otp.amr[..], otp.acr.as_deref()),
            (&["otp".to_owned()][..], None)
        );
        let synced = s(SignInMethod::Passkey {
            backup_eligible: true,
        });
        assert_eq!(synced.amr, ["swk", "user", "mfa"]);
        assert_eq!(synced.acr.as_deref(), Some("phr"));
        let bound = s(SignInMethod::Passkey {
            backup_eligible: false,
        });
        assert_eq!(bound.amr, ["hwk", "user", "mfa"]);
        assert_eq!(bound.acr.as_deref(), Some("phrh"));
        assert!(bound.by_passkey() && synced.by_passkey() && !pwd.by_passkey());
        assert_eq!(
            (bound.user_id.as_str(), bound.username.as_str()),
            (user.id.as_str(), "alice")
        );
        assert_eq!(bound.auth_time, NOW.unix_timestamp());
    }

    #[test]
    fn acr_rules() {
        let pwd = session(&["pwd"], None, 0);
        let synced = session(&["swk"], Some("phr"), 0);
        let bound = session(&["hwk"], Some("phrh"), 0);
        let want = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(pwd.acr_satisfied(&[]));
        assert!(!pwd.acr_satisfied(&want(&["phr"])));
        assert!(synced.acr_satisfied(&want(&["phr"])));
        assert!(!synced.acr_satisfied(&want(&["phrh"])));
        assert!(bound.acr_satisfied(&want(&["phrh"])));
        assert!(bound.acr_satisfied(&want(&["urn:other", "phr"])));
        assert!(
            pwd.acr_satisfied(&want(&["urn:other"])),
            "unknown values are voluntary"
        );
        assert!(!pwd.acr_satisfied(&want(&["urn:other", "phr"])));
    }

    #[test]
    fn the_stored_form_is_unchanged() {
        let s = session(&["pwd"], None, 7);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"user_id":"u","username":"alice","auth_time":7,"amr":["pwd"],"acr":null}"#
        );
        // The record id is the SHA-256 of the secret (FIPS 180-2 test vector).
        assert_eq!(
            record_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_session_only_ends() {
        use SessionState::*;
        assert!(Active.may_become(Ended));
        assert!(!Ended.may_become(Active) && !Ended.may_become(Ended));
        assert_eq!(SessionState::parse("active"), Some(Active));
        assert_eq!(SessionState::parse("ended"), Some(Ended));
        assert_eq!(SessionState::KIND, "session");
    }

    /// Flow records in memory, with the store's compare-and-set and expiry semantics.
    #[derive(Debug, Default)]
    struct Flows(Mutex<HashMap<(String, String), FlowRecord>>);

    #[async_trait]
    impl FlowStore for Flows {
        async fn create_flow(&self, record: &FlowRecord) -> Result<(), StorageError> {
            let key = (record.kind.clone(), record.id.clone());
            let mut map = self.0.lock().unwrap();
            if map.contains_key(&key) {
                return Err(StorageError::Conflict("exists".into()));
            }
            map.insert(key, record.clone());
            Ok(())
        }

        async fn get_flow(
            &self,
            kind: &str,
            id: &str,
            now: OffsetDateTime,
        ) -> Result<Option<FlowRecord>, StorageError> {
            let map = self.0.lock().unwrap();
            Ok(map
                .get(&(kind.to_owned(), id.to_owned()))
                .filter(|r| r.expires_at > now)
                .cloned())
        }

        async fn transition_flow(
            &self,
            kind: &str,
            id: &str,
            from_state: &str,
            to_state: &str,
            data: &[u8],
            now: OffsetDateTime,
        ) -> Result<Option<FlowRecord>, StorageError> {
            let mut map = self.0.lock().unwrap();
            match map.get_mut(&(kind.to_owned(), id.to_owned())) {
                Some(r) if r.state == from_state && r.expires_at > now => {
                    r.state = to_state.to_owned();
                    r.data = data.to_vec();
                    r.version += 1;
                    Ok(Some(r.clone()))
                }
                _ => Ok(None),
            }
        }

        async fn sweep_flows(&self, _now: OffsetDateTime) -> Result<u64, StorageError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn sessions_are_stored_under_the_hash_of_their_secret_until_ended() {
        let flows = Flows::default();
        let s = Session::new(&alice(), SignInMethod::Password, NOW);
        create(&flows, "secret", &s, NOW, Duration::hours(1))
            .await
            .unwrap();
        let stored = flows.0.lock().unwrap().values().next().cloned().unwrap();
        assert_eq!(
            (stored.kind.as_str(), stored.state.as_str()),
            ("session", "active")
        );
        assert_eq!(stored.id, record_id("secret"));

        assert_eq!(load(&flows, "secret", NOW).await.unwrap(), Some(s.clone()));
        assert_eq!(load(&flows, "other", NOW).await.unwrap(), None);
        let later = NOW + Duration::hours(1);
        assert_eq!(
            load(&flows, "secret", later).await.unwrap(),
            None,
            "expired"
        );

        end(&flows, "secret", NOW).await.unwrap();
        assert_eq!(load(&flows, "secret", NOW).await.unwrap(), None);
        // Ending again, or ending an unknown session, does nothing.
        end(&flows, "secret", NOW).await.unwrap();
        end(&flows, "other", NOW).await.unwrap();
        let stored = flows.0.lock().unwrap().values().next().cloned().unwrap();
        assert_eq!((stored.state.as_str(), stored.version), ("ended", 2));
    }
}
