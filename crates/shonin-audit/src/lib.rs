//! The audit log: an append-only, hash-chained record of every security decision, with signed
//! checkpoints and a verifier that names the first entry that does not hold (PCI DSS req. 10).
//!
//! Each entry's `hash` is SHA-256 over `prev_hash` and the canonical encoding of the entry
//! ([`chain`]). Storage is a port ([`AuditStore`]) implemented by `shonin-store`; this crate knows
//! nothing of SQL or HTTP. The writer ([`AuditLog`]) batches appends into single store calls and
//! answers a caller only once its entry is committed; [`verify`] checks a stored log end to end;
//! [`export`] writes it as JSON Lines for a SIEM ([`export_annotated`] with members the caller
//! adds beside some entries, such as the receipt an entry names by digest).
//!
//! This crate must never drop an entry silently: every failure reaches the caller that appended.

pub mod archive;
pub mod chain;
mod error;
mod export;
pub mod files;
mod record;
pub mod sampler;
mod store;
mod verify;
mod writer;

pub use chain::{GENESIS_HASH, Hash};
pub use error::AuditError;
pub use export::{Annotate, Annotations, ENTRY_MEMBERS, Plain, export, export_annotated};
pub use record::{
    Actor, ActorKind, AuditRecord, MAX_ACTION_CHARS, MAX_ACTOR_ID_CHARS, MAX_REASON_CHARS,
    MAX_REQUEST_ID_CHARS, MAX_TARGET_CHARS, Outcome, SealedEntry,
};
pub use store::{AuditStore, Checkpoint};
pub use verify::{
    Anchor, AnchorError, BadEntry, VerifyFailure, VerifyReport, verify, verify_anchored,
};
pub use writer::{AuditConfig, AuditLog, CHECKPOINT_TYP, CheckpointHook};
