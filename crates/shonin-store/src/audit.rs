//! [`AuditStore`] over both engines: serialised, all-or-nothing appends that never fork the chain.

use crate::engine::{Engine, Sql};
use crate::error::sqlx_err;
use crate::store::Store;
use async_trait::async_trait;
use shonin_audit::chain::{self, format_time, parse_time};
use shonin_audit::{
    Actor, ActorKind, AuditRecord, AuditStore, Checkpoint, Hash, Outcome, SealedEntry,
};
use shonin_types::StorageError;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type,
};

/// Entries per INSERT statement: 12 parameters each keeps a statement far below both engines'
/// parameter limits (SQLite 32 766, PostgreSQL 65 535).
pub(crate) const ROWS_PER_INSERT: usize = 500;

const ENTRY_COLUMNS: &str = "seq, time, actor_kind, actor_id, action, target, outcome, reason, \
                             source_ip, request_id, prev_hash, hash";

impl<DB: Engine> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    async fn append(&self, records: Vec<AuditRecord>) -> Result<Vec<SealedEntry>, StorageError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        match &self.batch {
            Some(batch) => match batch.append(records).await {
                Ok(result) => result,
                Err(records) => self.append_direct(records).await,
            },
            None => self.append_direct(records).await,
        }
    }

    /// One append in its own transaction.
    pub(crate) async fn append_direct(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<SealedEntry>, StorageError> {
        let _queued = self.queue_write().await;
        let mut tx = self
            .pool
            .begin_with(DB::BEGIN_APPEND)
            .await
            .map_err(sqlx_err("audit append"))?;
        match append_in(&mut tx, records).await {
            Ok(sealed) => {
                tx.commit().await.map_err(sqlx_err("audit append"))?;
                Ok(sealed)
            }
            Err(e) => {
                // Dropping `tx` only queues the rollback; roll back now so SQLite's write lock
                // and PostgreSQL's row lock are released before the next append queues up.
                if let Err(rb) = tx.rollback().await {
                    tracing::warn!(error = %rb, "audit append: rollback failed");
                }
                Err(e)
            }
        }
    }

    async fn entries(&self, from_seq: u64, limit: u32) -> Result<Vec<SealedEntry>, StorageError> {
        let from = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT seq, time, actor_kind, actor_id, action, target, outcome, reason, source_ip, \
             request_id, prev_hash, hash FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("audit entries"))?;
        rows.iter().map(decode_entry::<DB>).collect()
    }

    async fn head(&self) -> Result<Option<(u64, Hash)>, StorageError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlx_err("audit head"))?;
        let (seq, hash) = decode_head::<DB>(row)?;
        Ok((seq != 0).then_some((seq, hash)))
    }

    async fn base(&self) -> Result<(u64, Hash), StorageError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_base WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlx_err("audit base"))?;
        decode_head::<DB>(row)
    }

    async fn prune_through(&self, seq: u64, hash: Hash) -> Result<u64, StorageError> {
        let seq = i64::try_from(seq)
            .map_err(|_| StorageError::Conflict("audit prune: seq out of range".into()))?;
        {
            let _queued = self.queue_write().await;
            // The base moves first (only forward, only to a stored, checkpointed entry); from
            // then on the triggers allow the deletes below, and a prune cut short is finished
            // by the next one.
            let moved = sqlx::query(
                "UPDATE audit_base SET seq = $1, hash = $2 WHERE id = 1 AND seq < $1 \
                 AND EXISTS (SELECT 1 FROM audit_entries WHERE seq = $1 AND hash = $2) \
                 AND EXISTS (SELECT 1 FROM audit_checkpoints WHERE seq = $1 AND hash = $2)",
            )
            .bind(seq)
            .bind(hash.to_vec())
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("audit prune"))?;
            if DB::rows_affected(&moved) != 1 {
                return Err(StorageError::Conflict(
                    "audit prune: not after the base, or not a stored and checkpointed entry"
                        .into(),
                ));
            }
        }
        let deleted = self
            .delete_in_chunks(
                "DELETE FROM audit_entries WHERE seq IN \
                 (SELECT seq FROM audit_entries WHERE seq <= $1 ORDER BY seq LIMIT $2)",
                seq,
                "audit prune",
            )
            .await?;
        let _queued = self.queue_write().await;
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1")
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err("audit prune"))?;
        Ok(deleted)
    }

    async fn put_checkpoint(&self, cp: &Checkpoint) -> Result<(), StorageError> {
        let out_of_range = || StorageError::Conflict("audit checkpoint: seq out of range".into());
        let seq = i64::try_from(cp.seq).map_err(|_| out_of_range())?;
        let prev = cp.prev_seq.ok_or_else(|| {
            StorageError::Conflict("audit checkpoint: new checkpoints must be chained".into())
        })?;
        let prev = i64::try_from(prev).map_err(|_| out_of_range())?;
        // Only after the latest checkpoint: the condition decides on one node, the unique index
        // on prev_seq between nodes inserting at once (the loser gets a unique violation, which
        // is a conflict, and nothing is stored).
        //
        // On SQLite the insert waits its turn behind this process's other writes (the group
        // commit holds the write lock nearly all the time under load): without the gate it
        // would poll SQLite's busy handler, whose growing sleeps made checkpoint inserts take
        // 1–2 s in an 8-minute soak.
        let _queued = self.queue_write().await;
        let inserted = sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, created_at, jws, prev_seq) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) = $5 AND $1 > $5",
        )
        .bind(seq)
        .bind(cp.hash.to_vec())
        .bind(format_time(cp.created_at))
        .bind(cp.jws.clone())
        .bind(prev)
        .execute(&self.pool)
        .await
        .map_err(sqlx_err("audit checkpoint"))?;
        if DB::rows_affected(&inserted) == 1 {
            Ok(())
        } else {
            Err(StorageError::Conflict(
                "audit checkpoint: another checkpoint was stored first".into(),
            ))
        }
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, hash, created_at, jws, prev_seq FROM audit_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(sqlx_err("audit checkpoints"))?;
        rows.iter().map(decode_checkpoint::<DB>).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StorageError> {
        let row = sqlx::query(
            "SELECT seq, hash, created_at, jws, prev_seq FROM audit_checkpoints \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlx_err("audit checkpoints"))?;
        row.as_ref().map(decode_checkpoint::<DB>).transpose()
    }
}

/// Reads and locks the head, seals `records` after it, inserts them and moves the head.
pub(crate) async fn append_in<DB: Engine>(
    conn: &mut DB::Connection,
    records: Vec<AuditRecord>,
) -> Result<Vec<SealedEntry>, StorageError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let head = sqlx::query(DB::LOCK_HEAD)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sqlx_err("audit append"))?;
    let head = decode_head::<DB>(head)?;
    let sealed = seal_after(head, records)?;
    for chunk in sealed.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<DB>::new("");
        push_entries(&mut insert, chunk);
        insert
            .build()
            .execute(&mut *conn)
            .await
            .map_err(sqlx_err("audit append"))?;
    }
    if let Some(last) = sealed.last() {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq_column(last.seq))
            .bind(last.hash.to_vec())
            .execute(&mut *conn)
            .await
            .map_err(sqlx_err("audit append"))?;
    }
    Ok(sealed)
}

/// Seals `records` as the entries after `head` (its seq and hash). Every seq must fit the
/// BIGINT column; it does iff the last one does.
pub(crate) fn seal_after(
    (head_seq, mut prev): (u64, Hash),
    records: Vec<AuditRecord>,
) -> Result<Vec<SealedEntry>, StorageError> {
    i64::try_from(head_seq)
        .ok()
        .zip(i64::try_from(records.len()).ok())
        .and_then(|(head, n)| head.checked_add(n))
        .ok_or_else(|| StorageError::Corrupt("audit head: sequence exhausted".into()))?;
    let mut sealed = Vec::with_capacity(records.len());
    for (seq, record) in (head_seq + 1..).zip(records) {
        let entry = chain::seal(seq, prev, record);
        prev = entry.hash;
        sealed.push(entry);
    }
    Ok(sealed)
}

/// A sealed seq as the column's value: [`seal_after`] checked that it fits.
pub(crate) fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Appends `INSERT INTO audit_entries … VALUES …` for `entries` (at most [`ROWS_PER_INSERT`])
/// to `q`.
pub(crate) fn push_entries<DB: Database>(q: &mut QueryBuilder<DB>, entries: &[SealedEntry])
where
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB>,
    for<'e> Vec<u8>: Encode<'e, DB> + Type<DB>,
{
    q.push(format!("INSERT INTO audit_entries ({ENTRY_COLUMNS}) "));
    q.push_values(entries, |mut row, e| {
        let r = &e.record;
        row.push_bind(seq_column(e.seq))
            .push_bind(format_time(r.time))
            .push_bind(r.actor.kind.as_str().to_owned())
            .push_bind(r.actor.id.clone())
            .push_bind(r.action.clone())
            .push_bind(r.target.clone())
            .push_bind(r.outcome.as_str().to_owned())
            .push_bind(r.reason.clone())
            .push_bind(r.source_ip.map(|ip| ip.to_string()))
            .push_bind(r.request_id.clone())
            .push_bind(e.prev_hash.to_vec())
            .push_bind(e.hash.to_vec());
    });
}

fn corrupt_head(what: &str) -> StorageError {
    StorageError::Corrupt(format!("audit head: {what}"))
}

fn decode_head<DB: Database>(row: Option<DB::Row>) -> Result<(u64, Hash), StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    // The migration creates the row; without it the chain's end is unknown.
    let row = row.ok_or_else(|| corrupt_head("row missing (was the database migrated?)"))?;
    let seq: i64 = row
        .try_get("seq")
        .map_err(|_| corrupt_head("seq does not decode"))?;
    let hash: Vec<u8> = row
        .try_get("hash")
        .map_err(|_| corrupt_head("hash does not decode"))?;
    let seq = u64::try_from(seq).map_err(|_| corrupt_head("negative seq"))?;
    let hash = Hash::try_from(hash.as_slice()).map_err(|_| corrupt_head("hash is not 32 bytes"))?;
    Ok((seq, hash))
}

/// A row as stored, or [`StorageError::Corrupt`] naming its seq and the first field that does not
/// decode. Never re-seals: `hash` and `prev_hash` are returned as stored for the verifier.
fn decode_entry<DB: Database>(row: &DB::Row) -> Result<SealedEntry, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let seq: i64 = row
        .try_get("seq")
        .map_err(|_| StorageError::Corrupt("audit entry: seq does not decode".into()))?;
    let bad = |what: &str| StorageError::Corrupt(format!("audit entry {seq}: {what}"));
    let text = |col: &'static str| -> Result<String, StorageError> {
        row.try_get::<String, _>(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let opt_text = |col: &'static str| -> Result<Option<String>, StorageError> {
        row.try_get::<Option<String>, _>(col)
            .map_err(|_| bad(&format!("{col} does not decode")))
    };
    let hash = |col: &'static str| -> Result<Hash, StorageError> {
        let bytes: Vec<u8> = row
            .try_get(col)
            .map_err(|_| bad(&format!("{col} does not decode")))?;
        Hash::try_from(bytes.as_slice()).map_err(|_| bad(&format!("{col} is not 32 bytes")))
    };

    let seq_u = u64::try_from(seq).map_err(|_| bad("negative seq"))?;
    let time = parse_time(&text("time")?).ok_or_else(|| bad("time is not RFC 3339"))?;
    let kind = ActorKind::parse(&text("actor_kind")?).ok_or_else(|| bad("unknown actor kind"))?;
    let outcome = Outcome::parse(&text("outcome")?).ok_or_else(|| bad("unknown outcome"))?;
    let source_ip = opt_text("source_ip")?
        .map(|s| s.parse().map_err(|_| bad("source_ip is not an IP address")))
        .transpose()?;
    Ok(SealedEntry {
        seq: seq_u,
        record: AuditRecord {
            time,
            actor: Actor {
                kind,
                id: text("actor_id")?,
            },
            action: text("action")?,
            target: text("target")?,
            outcome,
            reason: opt_text("reason")?,
            source_ip,
            request_id: opt_text("request_id")?,
        },
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

fn decode_checkpoint<DB: Database>(row: &DB::Row) -> Result<Checkpoint, StorageError>
where
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> Vec<u8>: Decode<'e, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let seq: i64 = row
        .try_get("seq")
        .map_err(|_| StorageError::Corrupt("audit checkpoint: seq does not decode".into()))?;
    let bad = |what: &str| StorageError::Corrupt(format!("audit checkpoint {seq}: {what}"));
    let hash: Vec<u8> = row
        .try_get("hash")
        .map_err(|_| bad("hash does not decode"))?;
    let created_at: String = row
        .try_get("created_at")
        .map_err(|_| bad("created_at does not decode"))?;
    let prev_seq: Option<i64> = row
        .try_get("prev_seq")
        .map_err(|_| bad("prev_seq does not decode"))?;
    Ok(Checkpoint {
        seq: u64::try_from(seq).map_err(|_| bad("negative seq"))?,
        hash: Hash::try_from(hash.as_slice()).map_err(|_| bad("hash is not 32 bytes"))?,
        created_at: parse_time(&created_at).ok_or_else(|| bad("created_at is not RFC 3339"))?,
        prev_seq: prev_seq
            .map(|p| u64::try_from(p).map_err(|_| bad("negative prev_seq")))
            .transpose()?,
        jws: row.try_get("jws").map_err(|_| bad("jws does not decode"))?,
    })
}

#[async_trait]
impl AuditStore for Store {
    async fn append(&self, records: Vec<AuditRecord>) -> Result<Vec<SealedEntry>, StorageError> {
        dispatch!(self, s => s.sql.append(records).await)
    }

    async fn entries(&self, from_seq: u64, limit: u32) -> Result<Vec<SealedEntry>, StorageError> {
        dispatch!(self, s => s.sql.entries(from_seq, limit).await)
    }

    async fn head(&self) -> Result<Option<(u64, Hash)>, StorageError> {
        dispatch!(self, s => s.sql.head().await)
    }

    async fn base(&self) -> Result<(u64, Hash), StorageError> {
        dispatch!(self, s => s.sql.base().await)
    }

    async fn prune_through(&self, seq: u64, hash: Hash) -> Result<u64, StorageError> {
        dispatch!(self, s => s.sql.prune_through(seq, hash).await)
    }

    async fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StorageError> {
        dispatch!(self, s => s.sql.put_checkpoint(checkpoint).await)
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StorageError> {
        dispatch!(self, s => s.sql.checkpoints().await)
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StorageError> {
        dispatch!(self, s => s.sql.latest_checkpoint().await)
    }
}
