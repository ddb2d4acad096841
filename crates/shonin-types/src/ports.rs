//! Storage ports shared by several domain crates: a replay cache and compare-and-set flow
//! records (typed by [`crate::flow`]). `shonin-store` implements both for SQLite and
//! PostgreSQL. Request handlers write through the unit of work ([`crate::unit`]) instead; these
//! ports are for reads and for writes outside a request's commit.
//!
//! Nothing that affects security may live only in one node's memory, so every replay check and
//! every state transition goes through these ports.

use crate::StorageError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Remembers one-time values (JWT `jti`, DPoP proof `jti`, request URIs) across all nodes.
#[async_trait]
pub trait ReplayStore: Send + Sync + std::fmt::Debug {
    /// Records `key` in `namespace` until `expires_at`. Returns `true` the first time a key is
    /// seen and `false` if an unexpired record of it exists (a replay). Atomic across nodes.
    async fn first_use(
        &self,
        namespace: &str,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// Deletes records that expired before `now`; returns how many.
    async fn sweep_replays(&self, now: OffsetDateTime) -> Result<u64, StorageError>;
}

/// A stored flow record: the state of a multi-step protocol run (a pushed authorization request,
/// an authorization code, a WebAuthn ceremony, a 3DS transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub kind: String,
    pub id: String,
    pub state: String,
    /// The domain crate's own serialisation of the record (JSON).
    pub data: Vec<u8>,
    pub expires_at: OffsetDateTime,
    /// Incremented by every transition.
    pub version: i64,
}

/// Flow records whose every change is a compare-and-set on the expected previous state, so two
/// nodes can never both advance the same record.
#[async_trait]
pub trait FlowStore: Send + Sync + std::fmt::Debug {
    /// Creates a record at version 1. Fails with [`StorageError::Conflict`] if `(kind, id)` exists.
    async fn create_flow(&self, record: &FlowRecord) -> Result<(), StorageError>;

    /// The record, or `None` if absent or expired at `now` (expired data is never returned).
    async fn get_flow(
        &self,
        kind: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError>;

    /// Moves `(kind, id)` from `from_state` to `to_state` and replaces its data, only if it is
    /// currently in `from_state` and unexpired at `now`. Returns the new record, or `None` if the
    /// precondition did not hold (another node advanced it, it expired, or it does not exist).
    async fn transition_flow(
        &self,
        kind: &str,
        id: &str,
        from_state: &str,
        to_state: &str,
        data: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<FlowRecord>, StorageError>;

    /// Deletes records that expired before `now`; returns how many.
    async fn sweep_flows(&self, now: OffsetDateTime) -> Result<u64, StorageError>;
}
