//! SQLite and PostgreSQL implementations of the storage ports of the Shonin domain crates:
//! [`shonin_audit::AuditStore`], [`shonin_types::ports::ReplayStore`],
//! [`shonin_types::ports::FlowStore`] and the unit of work ([`shonin_types::unit::UnitStore`]),
//! behind one [`Store`] handle with embedded migrations.
//!
//! Every port is written once over `sqlx::Database` (the SQL text is shared: both engines take
//! `$1` parameters, upserts with `WHERE` and `RETURNING`); what differs — how an audit append
//! takes the chain lock — sits side by side in `engine.rs`.
//!
//! Schema conventions:
//! - expiry times (`replay_cache.expires_at` on PostgreSQL, `replay_log.expires_at` on SQLite,
//!   `flow_records.expires_at`) are integer unix
//!   **microseconds** (UTC); a row with `expires_at <= now` is expired and never returned;
//! - audit entry times are the text of `shonin_audit::chain::format_time`, hashes raw 32 bytes;
//! - `audit_entries` refuses UPDATE and DELETE (triggers): Shonin only appends;
//! - audit fields are bounded (characters): `actor_id` 256, `action` 128, `target` 1024,
//!   `reason` 2048, `source_ip` 64, `request_id` 256. A batch with a longer field fails as a whole
//!   with [`shonin_types::StorageError::Conflict`]; callers should truncate before appending.
//!
//! This crate holds no domain logic and must never return SQL text, database messages or
//! connection credentials to callers: errors are fixed descriptions, details go to `tracing`.

/// Runs `$call` with `$s` bound to the engine store inside a [`Store`].
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            $crate::Store::Sqlite($s) => $call,
            $crate::Store::Postgres($s) => $call,
        }
    };
}

mod acs;
mod audit;
mod batch;
mod batch_script;
mod claims_memo;
mod client;
mod engine;
mod error;
mod file_mode;
mod flow;
mod passkey;
mod receipt;
mod recovery;
mod replay;
mod store;
mod threeds_server;
mod timestamp;
mod token;
mod unit;
mod user;
mod vault;
mod wal_checkpoint;

#[cfg(feature = "testing")]
pub mod testing;

pub use store::{PgStore, SQLITE_BUSY_TIMEOUT, SqliteStore, Store, StoreOptions, SweepCounts};
