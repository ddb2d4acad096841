//! User accounts, their first credential (a password, hashed with Argon2id) and password sign-in
//! with lockout.
//!
//! - [`User`] and [`Username`]: the account as stored; [`UserStore`] is the storage port that
//!   `shonin-store` implements.
//! - [`password`]: the password policy (NIST SP 800-63B §3.1.1.2: 12–256 characters, no
//!   composition rules) and synchronous Argon2id hashing and verification. Both are CPU- and
//!   memory-heavy (≈19 MiB, tens of milliseconds): call them from `spawn_blocking`, never on an
//!   async executor thread.
//! - [`PasswordSignIn`]: the sign-in service. Every failure gives the caller the same
//!   [`SignInError::InvalidCredentials`], with the reason kept for the audit log.
//!
//! Username rule (chosen here): 1–64 characters of lower-case ASCII letters, digits and
//! `. _ - @`, starting with a letter or digit. Input is ASCII-lower-cased first, so `Alice` and
//! `alice` are one account. No other Unicode is allowed, so two distinct usernames can never
//! look alike and no normalisation (NFC) is needed.

pub mod password;
mod sign_in;

pub use password::{
    Argon2Params, InlineVerifier, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, PasswordHash,
    PasswordVerifier, hash_password, verify_password,
};
pub use sign_in::{LockoutPolicy, PasswordSignIn, SignInError, SignInFailure};

use async_trait::async_trait;
use shonin_types::StorageError;
use std::fmt;
use time::{Duration, OffsetDateTime};

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Why a user, username or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The username breaks the rule in the module documentation.
    #[error(
        "username must be 1-64 characters of a-z, 0-9, '.', '_', '-' and '@', starting with a \
         letter or digit"
    )]
    InvalidUsername,
    /// `display_name` is empty (leave it out instead).
    #[error("display_name must not be empty")]
    DisplayNameEmpty,
    /// `display_name` is longer than [`MAX_DISPLAY_NAME_CHARS`] characters.
    #[error("display_name must be at most {max} characters")]
    DisplayNameTooLong { max: usize },
    /// `display_name` contains a control, separator or bidirectional-formatting character.
    #[error("display_name must not contain control or bidirectional-formatting characters")]
    DisplayNameControlCharacter,
    /// The password is shorter than [`MIN_PASSWORD_CHARS`] (NIST SP 800-63B §3.1.1.2).
    #[error("password must be at least {min} characters")]
    PasswordTooShort { min: usize },
    /// The password is longer than [`MAX_PASSWORD_CHARS`].
    #[error("password must be at most {max} characters")]
    PasswordTooLong { max: usize },
    /// A stored or imported password hash is not an Argon2id PHC string.
    #[error("password hash is not an Argon2id PHC string")]
    InvalidPasswordHash,
    /// Argon2 refused to hash (parameters out of range, or no randomness for the salt).
    #[error("password hashing failed")]
    Hashing,
}

/// A username: see the module documentation for the rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    /// `input` ASCII-lower-cased, if it then follows the username rule.
    pub fn new(input: &str) -> Result<Self, UserError> {
        let s = input.to_ascii_lowercase();
        let starts_well = s
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let chars_ok = s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@')
        });
        if starts_well && chars_ok && s.len() <= MAX_USERNAME_CHARS {
            Ok(Self(s))
        } else {
            Err(UserError::InvalidUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// A random (v4) UUID in hyphenated lower-case form; the stable subject identifier.
    pub id: String,
    pub username: Username,
    pub display_name: Option<String>,
    /// A disabled user cannot sign in.
    pub disabled: bool,
    /// `None` for a user without a password (a later credential, such as a passkey).
    pub password_hash: Option<PasswordHash>,
    /// Consecutive failed password sign-ins since the last success or expired lock.
    pub failed_attempts: u32,
    /// Sign-in is refused until this instant (PCI DSS 8.3.4).
    pub locked_until: Option<OffsetDateTime>,
    /// The user's own policy: once they have a passkey, their password no longer signs in.
    pub passkey_only: bool,
    /// Sessions begun before this instant are no longer valid (an operator's `users sessions
    /// revoke`, or the user's "sign out everywhere").
    pub sessions_valid_after: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl User {
    /// A new enabled account with a fresh random id, no failures and no lock.
    pub fn new(
        username: Username,
        display_name: Option<String>,
        password_hash: Option<PasswordHash>,
        now: OffsetDateTime,
    ) -> Result<Self, UserError> {
        if let Some(name) = &display_name {
            check_display_name(name)?;
        }
        Ok(Self {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            username,
            display_name,
            disabled: false,
            password_hash,
            failed_attempts: 0,
            locked_until: None,
            passkey_only: false,
            sessions_valid_after: None,
            created_at: now,
        })
    }

    /// Whether a session that began (signed in) at `auth_time` (unix seconds) may still be
    /// used: the account is enabled and its sessions were not ended after that sign-in.
    pub fn session_valid(&self, auth_time: i64) -> bool {
        !self.disabled
            && self
                .sessions_valid_after
                .is_none_or(|after| auth_time >= after.unix_timestamp())
    }

    /// Whether sign-in is locked at `now`.
    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

fn check_display_name(name: &str) -> Result<(), UserError> {
    if name.is_empty() {
        return Err(UserError::DisplayNameEmpty);
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(UserError::DisplayNameTooLong {
            max: MAX_DISPLAY_NAME_CHARS,
        });
    }
    // Shown on pages and in the admin tool: the displayed-text rule applies.
    if !shonin_types::text::is_displayable(name) {
        return Err(UserError::DisplayNameControlCharacter);
    }
    Ok(())
}

/// The failure count and lock after one more failed sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedSignIns {
    pub count: u32,
    pub locked_until: Option<OffsetDateTime>,
}

/// Storage of user accounts. `shonin-store` implements it for SQLite and PostgreSQL.
#[async_trait]
pub trait UserStore: Send + Sync + fmt::Debug {
    /// Stores a new user. Fails with [`StorageError::Conflict`] if its id or username exists.
    async fn create_user(&self, user: &User) -> Result<(), StorageError>;

    async fn get_user_by_username(&self, username: &Username)
    -> Result<Option<User>, StorageError>;

    async fn get_user(&self, id: &str) -> Result<Option<User>, StorageError>;

    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StorageError>;

    /// Sets the `disabled` flag; `false` if no such user.
    async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool, StorageError>;

    /// Sets the user's own passkey-only policy; `false` if no such user.
    async fn set_passkey_only(&self, id: &str, on: bool) -> Result<bool, StorageError>;

    /// Replaces the user's password hash; `false` if no such user.
    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StorageError>;

    /// Counts one failed sign-in, atomically (one statement), so concurrent failures on any
    /// number of nodes are all counted:
    /// - if a lock has expired at `now`, the count restarts at 1 and the lock is cleared;
    /// - otherwise the count goes up by one;
    /// - when the count reaches `max_failures` and the account is not already locked, it is
    ///   locked until `now + lock_for`; an existing unexpired lock is never shortened or
    ///   extended.
    ///
    /// Returns the new count and lock, or `None` if no such user.
    async fn record_failed_sign_in(
        &self,
        id: &str,
        now: OffsetDateTime,
        max_failures: u32,
        lock_for: Duration,
    ) -> Result<Option<FailedSignIns>, StorageError>;

    /// After a successful sign-in: sets the count to 0 and clears an expired lock, unless the
    /// account is locked at `now` (a sign-in that raced with the failure that locked it must not
    /// unlock it). Returns `false` if the account is locked or does not exist.
    async fn reset_failed_sign_ins(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// An operator's unlock (`shonin users unlock`): sets the count to 0 and clears the lock,
    /// expired or not. Returns `false` if no such user.
    async fn unlock_user(&self, id: &str) -> Result<bool, StorageError>;

    /// Ends every session the user began before `at` (on every node: each request's session is
    /// checked against it). Returns `false` if no such user.
    async fn end_sessions(&self, id: &str, at: OffsetDateTime) -> Result<bool, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn usernames_are_lower_cased_ascii() {
        assert_eq!(Username::new("Alice").unwrap().as_str(), "alice");
        for ok in ["a", "alice.b-c_d@bank.example", "0day", &"x".repeat(64)] {
            assert!(Username::new(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in [
            "", ".alice", "-a", "@a", "a b", "ålice", "a/b", "a\u{0}", &long,
        ] {
            assert_eq!(Username::new(bad), Err(UserError::InvalidUsername), "{bad}");
        }
    }

    #[test]
    fn new_users_get_a_v4_uuid_and_a_clean_record() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let u = User::new(Username::new("bob").unwrap(), None, None, now).unwrap();
        let id = uuid::Uuid::parse_str(&u.id).unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(u.id, id.hyphenated().to_string());
        assert!(!u.disabled && u.failed_attempts == 0 && u.locked_until.is_none());
        assert!(!u.is_locked(now));
    }

    #[test]
    fn display_names_are_bounded_and_printable() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let name = |d: &str| User::new(Username::new("bob").unwrap(), Some(d.into()), None, now);
        assert!(name("Bob Tanaka 田中").is_ok());
        assert_eq!(name("").unwrap_err(), UserError::DisplayNameEmpty);
        assert_eq!(
            name(&"x".repeat(201)).unwrap_err(),
            UserError::DisplayNameTooLong { max: 200 }
        );
        // One rule for every displayed field: controls and bidirectional formatting, as for
        // client_name and authorization_details.
        for bad in [
            "Bob\nAdmin",
            "Bob \u{202e}nimdA",
            "\u{2066}Bob\u{2069}",
            "Bob\u{2028}",
        ] {
            assert_eq!(
                name(bad).unwrap_err(),
                UserError::DisplayNameControlCharacter,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lock_holds_until_its_instant() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let mut u = User::new(Username::new("bob").unwrap(), None, None, now).unwrap();
        u.locked_until = Some(now + Duration::minutes(30));
        assert!(u.is_locked(now));
        assert!(u.is_locked(now + Duration::minutes(30) - Duration::microseconds(1)));
        assert!(!u.is_locked(now + Duration::minutes(30)));
    }
}
