//! Users and the identity rules of Shonin: who an account is, how it proves it, and what a
//! sign-in allows.
//!
//! - [`user`]: accounts ([`User`], [`Username`]), their password (policy, Argon2id hashing and
//!   verification), password sign-in with lockout and without user enumeration
//!   ([`PasswordSignIn`], [`LockoutPolicy`]), and the [`UserStore`] port.
//! - [`session`]: a sign-in session ([`Session`]) with its `amr`/`acr` ([`SignInMethod`]), the
//!   `acr_values` rules, and its typed flow record ([`SessionState`]).
//! - [`methods`]: the sign-in method policy ([`MethodPolicy`]): passkey-only, when a change of
//!   method needs a fresh sign-in, and when the last passkey may not be removed.
//!
//! Like the other domain crates it does no I/O of its own: no HTTP, no SQL (`shonin-store`
//! implements [`UserStore`] and the flow records go through
//! [`FlowStore`](shonin_types::ports::FlowStore)), no async runtime (Argon2 runs wherever the
//! caller's [`PasswordVerifier`] puts it). Passkey ceremonies are `shonin-passkeys`'; cookies,
//! pages and audit entries are the server's.

mod config;

pub mod methods;
pub mod session;
pub mod user;

pub use config::ConfigError;
pub use methods::{MethodPolicy, PasskeyOnlyChange, PasskeyRemoval};
pub use session::{Session, SessionState, SignInMethod};
pub use user::{
    Argon2Params, FailedSignIns, InlineVerifier, LockoutPolicy, Password, PasswordHash,
    PasswordSignIn, PasswordVerifier, SignInError, SignInFailure, User, UserError, UserStore,
    Username, hash_password, verify_password,
};
