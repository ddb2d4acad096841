//! A request's writes as one **unit of work**: its one-time values, its compare-and-set
//! updates, the records it creates and (added by the caller) its audit entry are staged here
//! while the request is checked, then committed together through [`UnitStore::commit`] — or
//! none of them is.
//!
//! Domain code never writes while it decides. A grant, a passkey ceremony or a 3DS transaction
//! reads what it needs through its ports, stages what it would write in a [`UnitOfWork`], and
//! returns; the HTTP layer adds the audit entry and commits once. So correctness does not rest
//! on every handler remembering a final step, and the store may commit many requests' units in
//! one transaction (group commit) without any of them seeing another's partial state.
//!
//! What a unit can hold, and how the store writes it:
//! - [`OneTimeClaim`]s: decided first, in order, as `ReplayStore::first_use` would. If one was
//!   used before, the unit stops there: the outcome is [`Outcome::Replayed`] and nothing else of
//!   the unit is written (its fresh claims stay claimed, which is harmless: it got nothing).
//! - [`Update`]s: guarded `UPDATE`s, and `DELETE`s ([`Update::delete`]). One with
//!   [`Expect::One`] must change exactly one row, or the unit's updates are undone and the
//!   outcome is [`Outcome::Conflict`] (another request moved or took the row first).
//!   [`Expect::Any`] updates change what matches, possibly nothing. They run in order, before
//!   the unit's rows are inserted, so a unit can delete a row and insert its successor.
//! - [`Row`]s: inserts, grouped across units into multi-row statements.
//! - the audit entry, appended to the chain after everything above.
//!
//! Rows name their table and columns ([`Record`]); the store's migrations create the tables,
//! and the store's writer never needs to know a domain's types, so a new capability adds rows
//! without editing it.

use crate::StorageError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A one-time value (a JWT `jti`, a DPoP proof's `jti`) to remember until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeClaim {
    /// Which verifier claims it; also picks the error a replay gets.
    pub namespace: &'static str,
    pub key: String,
    pub expires_at: OffsetDateTime,
}

/// A column value. Nulls carry their type, which PostgreSQL needs to bind them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    Bool(Option<bool>),
}

impl Value {
    pub fn int(v: i64) -> Self {
        Value::Int(Some(v))
    }

    pub fn text(v: impl Into<String>) -> Self {
        Value::Text(Some(v.into()))
    }

    pub fn blob(v: impl Into<Vec<u8>>) -> Self {
        Value::Blob(Some(v.into()))
    }

    /// A boolean: `BOOLEAN` on PostgreSQL, 0 or 1 in SQLite's `INTEGER`.
    pub fn bool(v: bool) -> Self {
        Value::Bool(Some(v))
    }

    /// An instant as the store keeps it: unix microseconds, truncated towards the past.
    pub fn time(t: OffsetDateTime) -> Self {
        Value::Int(Some(micros(t)))
    }
}

/// `t` as unix microseconds, truncated towards the past (the store's representation of time).
pub fn micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos().div_euclid(1_000);
    // `time` only represents years -9999..=9999 (±3.2e17 µs), well inside i64 (±9.2e18).
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// A row to insert: `values[i]` goes to `columns[i]` of `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub values: Vec<Value>,
}

/// A domain record that is stored as one row.
pub trait Record {
    fn row(&self) -> Row;
}

/// What an [`Update`] sets a column to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assign {
    Value(Value),
    /// The smaller of the current value and this one (an expiry only brought forward).
    AtMost(Value),
    /// The current value plus one (a version counter).
    Increment,
}

/// What an [`Update`] requires of a column for a row to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    Eq(Value),
    IsNull,
    Greater(Value),
    Less(Value),
}

/// How many rows an [`Update`] must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one: a compare-and-set. Zero makes the unit a [`Outcome::Conflict`].
    One,
    /// Any number, zero included.
    Any,
}

/// `UPDATE table SET set… WHERE filter…`, with what the unit requires of its row count; with
/// nothing to set, `DELETE FROM table WHERE filter…` ([`Update::delete`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub table: &'static str,
    pub set: Vec<(&'static str, Assign)>,
    pub filter: Vec<(&'static str, Cond)>,
    pub expect: Expect,
}

impl Update {
    /// Deletes the rows of `table` that match `filter`: with [`Expect::One`], a take that only
    /// one request can win (a one-time nonce).
    pub fn delete(table: &'static str, filter: Vec<(&'static str, Cond)>, expect: Expect) -> Self {
        Update {
            table,
            set: Vec::new(),
            filter,
            expect,
        }
    }

    /// The compare-and-set of a versioned record: sets `set` and increments `version` on the one
    /// row whose `key` column holds `key` and whose `version` is still `version` (the record as
    /// read); a row changed in between makes it match none.
    pub fn compare_and_set(
        table: &'static str,
        key: (&'static str, Value),
        version: i64,
        mut set: Vec<(&'static str, Assign)>,
    ) -> Self {
        set.push(("version", Assign::Increment));
        Update {
            table,
            set,
            filter: vec![
                (key.0, Cond::Eq(key.1)),
                ("version", Cond::Eq(Value::int(version))),
            ],
            expect: Expect::One,
        }
    }

    /// Whether this is a `DELETE` (it sets nothing).
    pub fn is_delete(&self) -> bool {
        self.set.is_empty()
    }
}

/// The staged writes of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitOfWork {
    pub claims: Vec<OneTimeClaim>,
    pub updates: Vec<Update>,
    pub rows: Vec<Row>,
}

impl UnitOfWork {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn claim(&mut self, claim: OneTimeClaim) {
        self.claims.push(claim);
    }

    /// Stages `update`; returns its index, which an [`Outcome::Conflict`] names.
    pub fn update(&mut self, update: Update) -> usize {
        self.updates.push(update);
        self.updates.len() - 1
    }

    pub fn insert(&mut self, record: &impl Record) {
        self.rows.push(record.row());
    }

    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.updates.is_empty() && self.rows.is_empty()
    }

    /// Stages everything of `other` after what this unit holds (its updates keep their order,
    /// numbered after this unit's).
    pub fn append(&mut self, other: UnitOfWork) {
        self.claims.extend(other.claims);
        self.updates.extend(other.updates);
        self.rows.extend(other.rows);
    }
}

/// How a unit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was written; `seq` is the audit entry's sequence number, if it had one.
    Committed { seq: Option<u64> },
    /// Claim number `claim` was used before; only the unit's fresh claims were written.
    Replayed { claim: usize },
    /// Update number `update` (an [`Expect::One`]) matched no row; only the unit's claims were
    /// written.
    Conflict { update: usize },
}

/// Commits units of work. `E` is the audit entry type of the caller's audit log.
#[async_trait]
pub trait UnitStore<E: Send + 'static>: Send + Sync + std::fmt::Debug {
    /// Writes `unit` and `entry` in one transaction (possibly shared with other units).
    /// `Err` only for a storage failure, after which nothing of the unit but possibly its
    /// claims is written.
    async fn commit(&self, unit: UnitOfWork, entry: Option<E>) -> Result<Outcome, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_truncate_towards_the_past() {
        let t = datetime!(2026-03-04 05:06:07.123456789 UTC);
        assert_eq!(micros(t), 1_772_600_767_123_456);
        let before = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(micros(before), -1);
    }

    #[test]
    fn staged_updates_are_numbered_in_order() {
        let mut unit = UnitOfWork::new();
        assert!(unit.is_empty());
        let u = |t| Update {
            table: t,
            set: vec![],
            filter: vec![],
            expect: Expect::One,
        };
        assert_eq!(unit.update(u("a")), 0);
        assert_eq!(unit.update(u("b")), 1);
        assert!(!unit.is_empty());
        let mut more = UnitOfWork::new();
        more.update(Update::delete("c", vec![], Expect::Any));
        unit.append(more);
        let tables: Vec<_> = unit
            .updates
            .iter()
            .map(|u| (u.table, u.is_delete()))
            .collect();
        assert_eq!(tables, [("a", true), ("b", true), ("c", true)]);
    }
}
