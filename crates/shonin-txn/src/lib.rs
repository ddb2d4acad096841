//! Transaction authorization for Shonin: the user sees payee and amount and signs exactly that
//! with a passkey (OWASP Transaction Authorization Cheat Sheet, PSD2 RTS Art. 5 "dynamic
//! linking").
//!
//! - [`Amount`], [`Currency`], [`Payee`]: the data, checked once and stored.
//! - [`linking`]: the one function that makes both what a page shows and the challenge a passkey
//!   signs: SHA-256 over a canonical, tagged encoding of the stored data and a server nonce.
//! - [`TxnState`]: `created → challenged → approved → executed`, or `rejected | expired |
//!   locked`; every move a compare-and-set (`shonin_types::flow`).
//! - [`Loaded`]: the rules of each step as pure functions that return the move to stage in the
//!   request's unit of work.
//! - [`approve::verify`]: the assertion check against the stored transaction.
//! - [`receipt`]: signed approval receipts that anyone can verify offline.
//! - [`spc`]: Secure Payment Confirmation, the same approval in the browser's own dialog.
//! - [`consent`]: a FAPI request's `payment_initiation` detail as a transaction, and the
//!   details granted once it is approved.
//!
//! Nothing here does I/O: the server reads the transaction and the passkey through the ports,
//! calls these functions, and commits what they return together with the audit entry.

pub mod amount;
pub mod approve;
pub mod consent;
mod currency;
mod error;
pub mod linking;
mod payee;
pub mod receipt;
pub mod receipt_export;
pub mod settings;
pub mod spc;
mod state;
mod transaction;

pub use amount::{Amount, Locale};
pub use currency::Currency;
pub use error::TxnError;
pub use payee::{Account, Payee};
pub use state::TxnState;
pub use transaction::{
    Approval, ID_LEN, Loaded, MAX_ATTEMPTS, MAX_LIFETIME, Move, NewTransaction, Terms, Transaction,
    TxnPolicy, is_valid_id,
};
