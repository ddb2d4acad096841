//! Which sign-in methods a user may use, add or turn off, and when that needs a fresh sign-in.
//!
//! - **Passkey-only**: the operator's global switch and the user's own both turn the password off
//!   once the user has a passkey ([`MethodPolicy::password_disabled`]).
//! - **Changing methods** (adding or removing a passkey, changing the password, generating
//!   recovery codes, switching passkey-only off) is authorised with the current method (OWASP
//!   Authentication Cheat Sheet): a sign-in within the reauthentication window, with a passkey
//!   or a recovery code when the user has a passkey ([`MethodPolicy::may_change_methods`]).
//! - **The last passkey** cannot be removed while a passkey-only policy is on and the user has a
//!   password: that would silently bring the password back ([`MethodPolicy::remove_passkey`]).
//! - **Switching passkey-only** on needs a passkey; off needs a fresh strong sign-in
//!   ([`MethodPolicy::set_passkey_only`]).
//!
//! Every function here is a decision from its inputs; the caller reads the user, the session and
//! the passkeys, and writes (and audits) what is allowed.

use crate::User;
use crate::session::Session;
use time::{Duration, OffsetDateTime};

/// The operator's sign-in method policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodPolicy {
    /// Global policy: a user with a passkey cannot sign in with a password.
    pub passkey_only: bool,
    /// How recent a sign-in must be to add or remove a sign-in method.
    pub reauthentication_window: Duration,
}

/// Whether a passkey may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    Allowed,
    /// The session is too old or too weak ([`MethodPolicy::may_change_methods`]).
    ReauthenticationRequired,
    /// The user has no passkey with that id.
    NotFound,
    /// It is the user's last passkey, a passkey-only policy is on and the user has a password:
    /// the policy must be switched off first.
    LastPasskeyUnderPasskeyOnly,
}

/// Whether the user may switch their own passkey-only policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyOnlyChange {
    Allowed,
    /// Switching it on without a passkey would leave no way to sign in.
    NoPasskey,
    /// Switching it off brings the password back: it needs a fresh strong sign-in.
    ReauthenticationRequired,
}

impl MethodPolicy {
    /// Whether `user` may no longer sign in with a password.
    pub fn password_disabled(&self, user: &User, has_passkey: bool) -> bool {
        has_passkey && (self.passkey_only || user.passkey_only)
    }

    /// Whether the session may add or remove a sign-in method: signed in within the window, and
    /// with a passkey (or a recovery code) when the user has one.
    pub fn may_change_methods(
        &self,
        session: &Session,
        has_passkey: bool,
        now: OffsetDateTime,
    ) -> bool {
        let age = now.unix_timestamp().saturating_sub(session.auth_time);
        (0..=self.reauthentication_window.whole_seconds()).contains(&age)
            && (!has_passkey || session.by_passkey() || session.by_recovery_code())
    }

    /// Whether `user` may remove one of their `passkeys` (how many they have), `found` telling
    /// whether the one named is among them. Checked in this order: fresh sign-in, existence,
    /// last passkey.
    pub fn remove_passkey(
        &self,
        session: &Session,
        user: &User,
        passkeys: usize,
        found: bool,
        now: OffsetDateTime,
    ) -> PasskeyRemoval {
        if !self.may_change_methods(session, passkeys > 0, now) {
            return PasskeyRemoval::ReauthenticationRequired;
        }
        if !found {
            return PasskeyRemoval::NotFound;
        }
        let policy_on = self.passkey_only || user.passkey_only;
        if passkeys == 1 && policy_on && user.password_hash.is_some() {
            return PasskeyRemoval::LastPasskeyUnderPasskeyOnly;
        }
        PasskeyRemoval::Allowed
    }

    /// Whether the user may switch their own passkey-only policy to `on`.
    pub fn set_passkey_only(
        &self,
        session: &Session,
        on: bool,
        has_passkey: bool,
        now: OffsetDateTime,
    ) -> PasskeyOnlyChange {
        if on && !has_passkey {
            return PasskeyOnlyChange::NoPasskey;
        }
        if !on && !self.may_change_methods(session, has_passkey, now) {
            return PasskeyOnlyChange::ReauthenticationRequired;
        }
        PasskeyOnlyChange::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PasswordHash, Username, user::password::DUMMY_HASH};

    const NOW: i64 = 10_000;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    fn policy(passkey_only: bool) -> MethodPolicy {
        MethodPolicy {
            passkey_only,
            reauthentication_window: Duration::minutes(5),
        }
    }

    fn session(amr: &[&str], auth_time: i64) -> Session {
        Session {
            user_id: "u".into(),
            username: "alice".into(),
            auth_time,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            acr: None,
        }
    }

    fn user(passkey_only: bool, password: bool) -> User {
        let hash = password.then(|| PasswordHash::parse(DUMMY_HASH).unwrap());
        let mut u = User::new(Username::new("alice").unwrap(), None, hash, now()).unwrap();
        u.passkey_only = passkey_only;
        u
    }

    #[test]
    fn passkey_only_turns_the_password_off_once_there_is_a_passkey() {
        for (global, own, has_passkey, off) in [
            (false, false, true, false),
            (true, false, true, true),
            (false, true, true, true),
            (true, true, false, false),
        ] {
            assert_eq!(
                policy(global).password_disabled(&user(own, true), has_passkey),
                off,
                "{global} {own} {has_passkey}"
            );
        }
    }

    #[test]
    fn changing_methods_needs_a_fresh_strong_sign_in() {
        let p = policy(false);
        let pwd_fresh = session(&["pwd"], NOW - 60);
        let pk_fresh = session(&["hwk"], NOW - 300);
        let pk_stale = session(&["hwk"], NOW - 301);
        let otp_fresh = session(&["otp"], NOW - 60);
        let from_the_future = session(&["hwk"], NOW + 1);
        assert!(p.may_change_methods(&pwd_fresh, false, now()));
        assert!(!p.may_change_methods(&pwd_fresh, true, now()));
        assert!(p.may_change_methods(&pk_fresh, true, now()));
        assert!(!p.may_change_methods(&pk_stale, true, now()));
        assert!(p.may_change_methods(&otp_fresh, true, now()));
        assert!(!p.may_change_methods(&from_the_future, true, now()));
    }

    #[test]
    fn the_last_passkey_stays_while_passkey_only_would_bring_the_password_back() {
        use PasskeyRemoval::*;
        let fresh = session(&["swk"], NOW);
        let stale = session(&["swk"], NOW - 301);
        let on = policy(true);
        let off = policy(false);
        assert_eq!(
            on.remove_passkey(&stale, &user(false, true), 1, true, now()),
            ReauthenticationRequired
        );
        assert_eq!(
            on.remove_passkey(&fresh, &user(false, true), 1, false, now()),
            NotFound
        );
        assert_eq!(
            on.remove_passkey(&fresh, &user(false, true), 1, true, now()),
            LastPasskeyUnderPasskeyOnly
        );
        assert_eq!(
            off.remove_passkey(&fresh, &user(true, true), 1, true, now()),
            LastPasskeyUnderPasskeyOnly,
            "the user's own policy counts too"
        );
        assert_eq!(
            off.remove_passkey(&fresh, &user(false, true), 1, true, now()),
            Allowed
        );
        assert_eq!(
            on.remove_passkey(&fresh, &user(false, true), 2, true, now()),
            Allowed
        );
        assert_eq!(
            on.remove_passkey(&fresh, &user(true, false), 1, true, now()),
            Allowed,
            "no password to bring back"
        );
    }

    #[test]
    fn passkey_only_needs_a_passkey_on_and_a_fresh_sign_in_off() {
        use PasskeyOnlyChange::*;
        let p = policy(false);
        let pwd = session(&["pwd"], NOW);
        let pk = session(&["hwk"], NOW);
        let stale = session(&["hwk"], NOW - 301);
        assert_eq!(p.set_passkey_only(&pwd, true, false, now()), NoPasskey);
        assert_eq!(p.set_passkey_only(&stale, true, true, now()), Allowed);
        assert_eq!(
            p.set_passkey_only(&pwd, false, true, now()),
            ReauthenticationRequired
        );
        assert_eq!(
            p.set_passkey_only(&stale, false, true, now()),
            ReauthenticationRequired
        );
        assert_eq!(p.set_passkey_only(&pk, false, true, now()), Allowed);
    }
}
