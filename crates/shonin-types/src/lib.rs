//! Types shared by every Shonin crate: clocks, actors, secrets, the storage error that every
//! domain crate's storage port returns, the unit of work ([`unit`]) and typed flows ([`flow`]).
//!
//! This crate must stay free of I/O: no HTTP, no SQL, no file access.

mod clock;
mod error_code;
pub mod flow;
pub mod iban;
pub mod json;
mod pan;
pub mod ports;
mod secret;
mod storage;
pub mod text;
pub mod unit;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error_code::ErrorCode;
pub use pan::Pan;
pub use secret::{SecretBytes, constant_time_eq};
pub use storage::StorageError;
