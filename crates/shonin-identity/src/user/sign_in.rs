//! Password sign-in with lockout and without user enumeration.
//!
//! - Every failure — unknown username, disabled account, locked account, account without a
//!   password, wrong password — is the same [`SignInError::InvalidCredentials`] to the caller and
//!   costs exactly one Argon2 verification (against [`super::password::DUMMY_HASH`] when there is no real hash to
//!   check), so neither the answer nor the time it takes tells whether a username exists. The
//!   reason ([`SignInFailure`]) is kept for the audit log.
//! - Lockout (PCI DSS v4.0 8.3.4): after `max_failures` consecutive failures (at most 10) the
//!   account is locked for `lock_for` (at least 30 minutes). Failures are counted by the store in
//!   one atomic statement, so concurrent attempts on several nodes are all counted.
//!
//! Residual timing difference: a wrong password for an existing account adds one store write
//! (the failure count) that an unknown username does not; it is small beside Argon2's cost.

use super::password::{PasswordHash, PasswordVerifier};
use super::{User, UserStore, Username};
use crate::ConfigError;
use shonin_types::{SecretBytes, StorageError};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How many consecutive failures lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    max_failures: u32,
    lock_for: Duration,
}

impl LockoutPolicy {
    /// PCI DSS v4.0 8.3.4: locked after at most 10 attempts, for at least 30 minutes.
    pub const PCI_DSS: Self = Self {
        max_failures: 10,
        lock_for: Duration::minutes(30),
    };

    /// A stricter policy: `max_failures` in 1..=10, `lock_for` from 30 minutes to 30 days.
    /// Anything weaker than [`Self::PCI_DSS`] is refused.
    pub fn new(max_failures: u32, lock_for: Duration) -> Result<Self, ConfigError> {
        if !(1..=Self::PCI_DSS.max_failures).contains(&max_failures) {
            return Err(ConfigError::OutOfRange {
                setting: "sign-in lockout max_failures",
                rule: "between 1 and 10 (PCI DSS 8.3.4)",
            });
        }
        if lock_for < Self::PCI_DSS.lock_for || lock_for > Duration::days(30) {
            return Err(ConfigError::OutOfRange {
                setting: "sign-in lockout duration",
                rule: "between 30 minutes (PCI DSS 8.3.4) and 30 days",
            });
        }
        Ok(Self {
            max_failures,
            lock_for,
        })
    }

    pub fn max_failures(&self) -> u32 {
        self.max_failures
    }

    pub fn lock_for(&self) -> Duration {
        self.lock_for
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self::PCI_DSS
    }
}

/// Why a sign-in failed, for the audit log only: never shown to the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// No account has this username (or the input is not a valid username).
    UnknownUser,
    Disabled {
        user_id: String,
    },
    /// Locked by earlier failures; the password was not checked and no failure was counted.
    Locked {
        user_id: String,
        until: OffsetDateTime,
    },
    /// The account has no password credential.
    NoPassword {
        user_id: String,
    },
    /// The password did not match; `failures` is the count after this one, and `locked_until`
    /// is set if this failure (or a concurrent one) locked the account.
    WrongPassword {
        user_id: String,
        failures: u32,
        locked_until: Option<OffsetDateTime>,
    },
}

impl SignInFailure {
    /// A short fixed code for the audit entry's reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::Disabled { .. } => "disabled",
            Self::Locked { .. } => "locked",
            Self::NoPassword { .. } => "no_password",
            Self::WrongPassword { .. } => "wrong_password",
        }
    }

    /// The account concerned, if one exists (the audit entry's actor id).
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::UnknownUser => None,
            Self::Disabled { user_id }
            | Self::Locked { user_id, .. }
            | Self::NoPassword { user_id }
            | Self::WrongPassword { user_id, .. } => Some(user_id),
        }
    }
}

/// A failed sign-in. Both variants' messages are safe to show; the HTTP layer shows only
/// "invalid username or password" for the first and a generic error for the second.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Every credential failure, whatever the reason: one public answer (no user enumeration).
    #[error("invalid username or password")]
    InvalidCredentials(SignInFailure),
    /// The user store failed; the attempt was neither accepted nor counted.
    #[error("sign-in is unavailable: {0}")]
    Storage(#[from] StorageError),
}

impl SignInError {
    /// The internal reason, for the audit log.
    pub fn reason(&self) -> Option<&SignInFailure> {
        match self {
            Self::InvalidCredentials(r) => Some(r),
            Self::Storage(_) => None,
        }
    }
}

/// The password sign-in service over a [`UserStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PasswordSignIn {
    users: Arc<dyn UserStore>,
    verifier: Arc<dyn PasswordVerifier>,
    lockout: LockoutPolicy,
    dummy: PasswordHash,
}

impl PasswordSignIn {
    pub fn new(
        users: Arc<dyn UserStore>,
        verifier: Arc<dyn PasswordVerifier>,
        lockout: LockoutPolicy,
    ) -> Self {
        Self {
            users,
            verifier,
            lockout,
            dummy: PasswordHash::dummy(),
        }
    }

    /// Replaces the dummy hash. Only useful if real hashes use other parameters than
    /// [`super::Argon2Params::OWASP`] (the dummy must cost what a real verification costs), or
    /// in tests with weak parameters.
    #[must_use]
    pub fn with_dummy_hash(mut self, hash: PasswordHash) -> Self {
        self.dummy = hash;
        self
    }

    pub fn lockout(&self) -> LockoutPolicy {
        self.lockout
    }

    /// Checks `username` and `password` at `now`. On success, the failure count is reset and the
    /// user returned as it now is; every failure is [`SignInError::InvalidCredentials`].
    pub async fn sign_in(
        &self,
        username: &str,
        password: &SecretBytes,
        now: OffsetDateTime,
    ) -> Result<User, SignInError> {
        let user = match Username::new(username) {
            Ok(name) => self.users.get_user_by_username(&name).await?,
            Err(_) => None,
        };
        let Some(mut user) = user else {
            return Err(self.refuse(password, SignInFailure::UnknownUser).await);
        };
        let user_id = user.id.clone();
        if user.disabled {
            return Err(self
                .refuse(password, SignInFailure::Disabled { user_id })
                .await);
        }
        if let Some(until) = user.locked_until.filter(|until| *until > now) {
            return Err(self
                .refuse(password, SignInFailure::Locked { user_id, until })
                .await);
        }
        let Some(hash) = user.password_hash.clone() else {
            return Err(self
                .refuse(password, SignInFailure::NoPassword { user_id })
                .await);
        };

        if !self.verifier.verify(password.clone(), hash).await {
            let counted = self
                .users
                .record_failed_sign_in(
                    &user.id,
                    now,
                    self.lockout.max_failures,
                    self.lockout.lock_for,
                )
                .await?;
            let reason = match counted {
                Some(c) => SignInFailure::WrongPassword {
                    user_id,
                    failures: c.count,
                    locked_until: c.locked_until,
                },
                // Deleted between the read and the count.
                None => SignInFailure::UnknownUser,
            };
            return Err(SignInError::InvalidCredentials(reason));
        }

        // The reset is refused if a concurrent failure locked the account meanwhile: the lock
        // stands, so a correct guess racing the tenth wrong one does not get in.
        if !self.users.reset_failed_sign_ins(&user.id, now).await? {
            let current = self.users.get_user(&user.id).await?;
            let reason = match current.and_then(|u| u.locked_until) {
                Some(until) => SignInFailure::Locked { user_id, until },
                None => SignInFailure::UnknownUser,
            };
            return Err(SignInError::InvalidCredentials(reason));
        }
        user.failed_attempts = 0;
        user.locked_until = None;
        Ok(user)
    }

    /// Spends one verification against the dummy hash, then fails with `reason`.
    async fn refuse(&self, password: &SecretBytes, reason: SignInFailure) -> SignInError {
        // The result is irrelevant (nobody knows the dummy's password); only the cost matters.
        let _ = self
            .verifier
            .verify(password.clone(), self.dummy.clone())
            .await;
        SignInError::InvalidCredentials(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_is_never_weaker_than_pci_dss() {
        assert_eq!(LockoutPolicy::default(), LockoutPolicy::PCI_DSS);
        assert!(LockoutPolicy::new(10, Duration::minutes(30)).is_ok());
        assert!(LockoutPolicy::new(3, Duration::hours(2)).is_ok());
        assert!(LockoutPolicy::new(11, Duration::minutes(30)).is_err());
        assert!(LockoutPolicy::new(0, Duration::minutes(30)).is_err());
        assert!(LockoutPolicy::new(10, Duration::minutes(29)).is_err());
        assert!(LockoutPolicy::new(10, Duration::days(31)).is_err());
    }

    #[test]
    fn every_failure_has_the_same_public_message() {
        let reasons = [
            SignInFailure::UnknownUser,
            SignInFailure::Disabled {
                user_id: "u".into(),
            },
            SignInFailure::Locked {
                user_id: "u".into(),
                until: OffsetDateTime::UNIX_EPOCH,
            },
            SignInFailure::NoPassword {
                user_id: "u".into(),
            },
            SignInFailure::WrongPassword {
                user_id: "u".into(),
                failures: 1,
                locked_until: None,
            },
        ];
        for r in reasons {
            let e = SignInError::InvalidCredentials(r.clone());
            assert_eq!(e.to_string(), "invalid username or password");
            assert_eq!(e.reason(), Some(&r));
        }
    }
}
