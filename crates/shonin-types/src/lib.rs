//! Types shared by every Shonin crate: clocks, actors, secrets and the storage error that every
//! domain crate's storage port returns.
//!
//! This crate must stay free of I/O: no HTTP, no SQL, no file access.

mod clock;
pub mod json;
pub mod ports;
mod secret;
mod storage;
pub mod text;

pub use clock::{Clock, FixedClock, SystemClock};
pub use secret::{SecretBytes, constant_time_eq};
pub use storage::StorageError;
