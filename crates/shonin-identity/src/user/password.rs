//! Passwords: the policy for new ones, Argon2id hashing to PHC strings, and verification.
//!
//! [`hash_password`] and [`verify_password`] are synchronous and expensive by design (OWASP
//! Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1). The server must run them
//! in `tokio::task::spawn_blocking`; [`PasswordVerifier`] is the seam through which
//! [`super::PasswordSignIn`] gets that done without this crate depending on a runtime:
//!
//! ```ignore
//! #[derive(Debug)]
//! struct BlockingArgon2;
//!
//! #[async_trait::async_trait]
//! impl PasswordVerifier for BlockingArgon2 {
//!     async fn verify(&self, password: SecretBytes, hash: PasswordHash) -> bool {
//!         tokio::task::spawn_blocking(move || verify_password(password.expose(), &hash))
//!             .await
//!             .unwrap_or(false)
//!     }
//! }
//! ```

use super::UserError;
use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHasher, Version};
use async_trait::async_trait;
use shonin_types::SecretBytes;
use std::fmt;

/// NIST SP 800-63B §3.1.1.2: at least 15 characters for single-factor passwords, 8 with MFA;
/// Shonin asks 12 for every account (the issue's choice) and no composition rules.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// NIST SP 800-63B §3.1.1.2: verifiers should allow at least 64 characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Largest Argon2 memory cost (KiB) a stored hash may ask for: bounds what one verification
/// costs even if a hash was imported from elsewhere.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// A new password that meets the policy: 12–256 characters (Unicode scalar values), anything
/// else allowed. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(SecretBytes);

impl Password {
    /// Takes ownership of `password` (its buffer is zeroized with this value, accepted or not).
    pub fn new(password: String) -> Result<Self, UserError> {
        let chars = password.chars().count();
        let secret = SecretBytes::new(password.into_bytes());
        if chars < MIN_PASSWORD_CHARS {
            return Err(UserError::PasswordTooShort {
                min: MIN_PASSWORD_CHARS,
            });
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(UserError::PasswordTooLong {
                max: MAX_PASSWORD_CHARS,
            });
        }
        Ok(Self(secret))
    }

    /// The UTF-8 bytes, for hashing.
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// Argon2id cost parameters for new hashes. Verification always uses the parameters recorded
/// in the hash itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// OWASP's Argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Self = Self {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Custom parameters, refused if weaker than [`Self::OWASP`] in memory or iterations.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, crate::ConfigError> {
        let out = |setting, rule| crate::ConfigError::OutOfRange { setting, rule };
        if !(Self::OWASP.m_cost_kib..=MAX_M_COST_KIB).contains(&m_cost_kib) {
            return Err(out("argon2 m_cost", "between 19456 and 262144 KiB"));
        }
        if !(Self::OWASP.t_cost..=MAX_T_COST).contains(&t_cost) {
            return Err(out("argon2 t_cost", "between 2 and 16"));
        }
        if !(1..=MAX_P_COST).contains(&p_cost) {
            return Err(out("argon2 p_cost", "between 1 and 8"));
        }
        Ok(Self {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }

    /// The cheapest parameters Argon2 accepts (8 KiB, 1 iteration), so tests hash in
    /// microseconds. **Never** use outside tests: such hashes fall to offline guessing.
    pub fn danger_weak_for_tests() -> Self {
        Self {
            m_cost_kib: Params::MIN_M_COST,
            t_cost: 1,
            p_cost: 1,
        }
    }

    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// An Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). `Debug` is redacted: a
/// hash is material for offline guessing.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Parses a stored or imported hash: Argon2id, with salt and output, and costs no higher
    /// than 256 MiB, 16 iterations and 8 lanes (so one verification cannot exhaust the host).
    pub fn parse(phc: &str) -> Result<Self, UserError> {
        let parsed = Phc::new(phc).map_err(|_| UserError::InvalidPasswordHash)?;
        let params = Params::try_from(&parsed).map_err(|_| UserError::InvalidPasswordHash)?;
        let bounded = params.m_cost() <= MAX_M_COST_KIB
            && params.t_cost() <= MAX_T_COST
            && params.p_cost() <= MAX_P_COST;
        if parsed.algorithm != ARGON2ID_IDENT
            || parsed.salt.is_none()
            || parsed.hash.is_none()
            || !bounded
        {
            return Err(UserError::InvalidPasswordHash);
        }
        Ok(Self(phc.to_owned()))
    }

    /// [`DUMMY_HASH`]; a unit test checks that it parses.
    pub(crate) fn dummy() -> Self {
        Self(DUMMY_HASH.to_owned())
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A hash with [`Argon2Params::OWASP`] of a password nobody knows. Sign-in verifies against it
/// when there is no real hash to check (unknown user, disabled, locked, no password), so every
/// failure costs one Argon2 verification and timing does not reveal whether a username exists.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$\
                              c2hvbmluLWR1bW15LXNhbHQ$\
                              1Bj2+MXs7hcvc9RMJ3AnmKnLlfs/JzuMbLgcYDtiUSU";

/// Hashes `password` with Argon2id under `params` and a fresh random 16-byte salt. Blocking and
/// expensive: see the module documentation.
pub fn hash_password(
    password: &Password,
    params: &Argon2Params,
) -> Result<PasswordHash, UserError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
        .map_err(|_| UserError::Hashing)?;
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password(password.expose())
        .map_err(|_| UserError::Hashing)?;
    Ok(PasswordHash(phc.to_string()))
}

/// Whether `password` matches `hash`. The output comparison inside Argon2 is constant-time.
/// Blocking and expensive: see the module documentation.
pub fn verify_password(password: &[u8], hash: &PasswordHash) -> bool {
    use argon2::PasswordVerifier as _;
    let Ok(phc) = Phc::new(hash.as_str()) else {
        return false;
    };
    Argon2::default().verify_password(password, &phc).is_ok()
}

/// Runs [`verify_password`] for [`super::PasswordSignIn`]. The server's implementation moves
/// the work to a blocking thread (module documentation); tests inject fakes that count calls.
#[async_trait]
pub trait PasswordVerifier: Send + Sync + fmt::Debug {
    async fn verify(&self, password: SecretBytes, hash: PasswordHash) -> bool;
}

/// Verifies on the calling thread. For the CLI and tests; on a server it would stall an async
/// executor thread for the whole verification.
#[derive(Debug, Default, Clone, Copy)]
pub struct InlineVerifier;

#[async_trait]
impl PasswordVerifier for InlineVerifier {
    async fn verify(&self, password: SecretBytes, hash: PasswordHash) -> bool {
        verify_password(password.expose(), &hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::new(s.to_owned()).unwrap()
    }

    #[test]
    fn policy_is_length_only() {
        assert!(Password::new("correct horse".into()).is_ok());
        assert!(Password::new("aaaaaaaaaaaa".into()).is_ok());
        // 12 characters of 3 bytes each: counted in characters, not bytes.
        assert!(Password::new("パスワードパスワードパス".into()).is_ok());
        assert_eq!(
            Password::new("elevenchars".into()).unwrap_err(),
            UserError::PasswordTooShort { min: 12 }
        );
        assert!(Password::new("x".repeat(256)).is_ok());
        assert_eq!(
            Password::new("x".repeat(257)).unwrap_err(),
            UserError::PasswordTooLong { max: 256 }
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let p = pw("correct horse battery");
        assert_eq!(format!("{p:?}"), "Password([REDACTED])");
        let h = PasswordHash::parse(DUMMY_HASH).unwrap();
        assert_eq!(format!("{h:?}"), "PasswordHash([REDACTED])");
    }

    #[test]
    fn hash_then_verify_round_trips() {
        let p = pw("correct horse battery");
        let h = hash_password(&p, &Argon2Params::danger_weak_for_tests()).unwrap();
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{}",
            h.as_str()
        );
        assert_eq!(PasswordHash::parse(h.as_str()).unwrap(), h);
        assert!(verify_password(p.expose(), &h));
        assert!(!verify_password(b"correct horse batterY", &h));
        // A fresh salt each time.
        let again = hash_password(&p, &Argon2Params::danger_weak_for_tests()).unwrap();
        assert_ne!(again, h);
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let parsed = Phc::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        let owasp = Argon2Params::OWASP;
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (owasp.m_cost_kib(), owasp.t_cost(), owasp.p_cost())
        );
        assert_eq!(Argon2Params::default(), owasp);
        assert!(PasswordHash::parse(DUMMY_HASH).is_ok());
    }

    #[test]
    fn only_bounded_argon2id_hashes_parse() {
        let weak = Argon2Params::danger_weak_for_tests();
        let id = hash_password(&pw("correct horse battery"), &weak).unwrap();
        let argon2i = id.as_str().replacen("argon2id", "argon2i", 1);
        let huge = id.as_str().replacen("m=8,", "m=4194304,", 1);
        for bad in [
            "",
            "plain",
            "$2b$12$abcdefghijklmnopqrstuv",
            &argon2i,
            &huge,
        ] {
            assert_eq!(
                PasswordHash::parse(bad),
                Err(UserError::InvalidPasswordHash),
                "{bad}"
            );
        }
        assert!(!verify_password(b"x", &PasswordHash("garbage".into())));
    }

    #[test]
    fn configured_params_are_never_weaker_than_owasp() {
        assert!(Argon2Params::new(19_456, 2, 1).is_ok());
        assert!(Argon2Params::new(65_536, 3, 4).is_ok());
        assert!(Argon2Params::new(19_455, 2, 1).is_err());
        assert!(Argon2Params::new(19_456, 1, 1).is_err());
        assert!(Argon2Params::new(19_456, 2, 0).is_err());
        assert!(Argon2Params::new(1 << 20, 2, 1).is_err());
    }
}
