//! The storage port of the audit log.

use crate::{Hash, record::AuditRecord, record::SealedEntry};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shonin_types::StorageError;
use time::OffsetDateTime;

/// A signed statement that the chain up to `seq` ends in `hash`, following the checkpoint at
/// `prev_seq`. Its serde form is what `audit anchor` exports and `audit.anchor_file` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    #[serde(with = "crate::chain::hex_hash")]
    pub hash: Hash,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The seq of the checkpoint this one follows (0: the first). `None` only for checkpoints
    /// written before checkpoints were chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_seq: Option<u64>,
    /// Compact JWS over `{"seq","hash","iat","prev_seq","prev_hash"}` (`prev_hash`: the entry
    /// hash the previous checkpoint attests, or the genesis hash), signed by the keyring's
    /// current key.
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
    /// Stores a checkpoint if it follows the latest stored one: `checkpoint.prev_seq` must be
    /// the highest stored seq (0 when none) and no checkpoint may follow that one yet. Otherwise
    /// `Err(StorageError::Conflict)` and nothing is stored (another node checkpointed first).
    async fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StorageError>;
    /// All checkpoints in `seq` order.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StorageError>;
    /// The checkpoint with the highest seq.
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StorageError> {
        Ok(self.checkpoints().await?.pop())
    }
    /// Where the stored log begins: entries through this seq (whose hash is given) were
    /// archived and pruned. `(0, GENESIS_HASH)` while nothing was.
    async fn base(&self) -> Result<(u64, Hash), StorageError> {
        Ok((0, crate::GENESIS_HASH))
    }
    /// Moves the base to `seq`, which must be stored with `hash` and carry a checkpoint, then
    /// deletes the entries through `seq` and the checkpoints before it (the one at `seq` stays:
    /// it attests the base). Returns how many entries were deleted. `Conflict` if `seq` is not
    /// after the current base or does not match.
    async fn prune_through(&self, seq: u64, hash: Hash) -> Result<u64, StorageError> {
        let _ = (seq, hash);
        Err(StorageError::Unavailable(
            "this audit store cannot prune".into(),
        ))
    }
}
