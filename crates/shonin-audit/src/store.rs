//! The storage port of the audit log.

use crate::{Hash, record::AuditRecord, record::SealedEntry};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shonin_types::StorageError;
use time::OffsetDateTime;

/// A signed statement that the chain up to `seq` ends in `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    #[serde(with = "crate::chain::hex_hash")]
    pub hash: Hash,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Compact JWS over `{"seq","hash","iat"}`, signed by the keyring's current key.
    pub jws: String,
}

/// Durable, serialised storage of the chain. Implementations must make `append` atomic and
/// serialised across every process sharing the database: they read the head, seal each record with
/// [`crate::chain::seal`], insert the entries and move the head in one transaction, so the chain
/// can never fork.
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Appends `records` in order and returns them sealed. All or nothing.
    async fn append(&self, records: Vec<AuditRecord>) -> Result<Vec<SealedEntry>, StorageError>;
    /// Up to `limit` entries with `seq >= from_seq`, in `seq` order, as stored (not re-sealed).
    async fn entries(&self, from_seq: u64, limit: u32) -> Result<Vec<SealedEntry>, StorageError>;
    /// The stored head: the last sequence number and hash, or `None` for an empty log.
    async fn head(&self) -> Result<Option<(u64, Hash)>, StorageError>;
    /// Stores a checkpoint.
    async fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StorageError>;
    /// All checkpoints in `seq` order.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StorageError>;
}
