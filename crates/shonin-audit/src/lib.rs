//! The audit log: an append-only, hash-chained record of every security decision, with signed
//! checkpoints and a verifier that names the first entry that does not hold (PCI DSS req. 10).
//!
//! Each entry's `hash` is SHA-256 over `prev_hash` and the canonical encoding of the entry
//! ([`chain`]). Storage is a port ([`AuditStore`]) implemented by `shonin-store`; this crate knows
//! nothing of SQL or HTTP.

pub mod chain;
mod record;
mod store;

pub use chain::{Hash, GENESIS_HASH};
pub use record::{Actor, ActorKind, AuditRecord, Outcome, SealedEntry};
pub use store::{AuditStore, Checkpoint};
