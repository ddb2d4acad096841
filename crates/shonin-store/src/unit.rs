//! [`UnitStore`] over both engines: a request's unit of work (`shonin_types::unit`) and its
//! audit entry, written as one operation of the group-commit writer ([`crate::batch`]), so many
//! requests' units share one transaction and each is still all or nothing.
//!
//! Also the SQL of a unit's parts, shared by the step-by-step transaction and the SQLite
//! statement list ([`crate::batch_script`]): rows become multi-row inserts grouped by table,
//! updates one guarded `UPDATE` each. Table and column names come from `&'static str`s in the
//! domain crates' code, never from input; every value is a bound parameter.

use crate::batch::{Claim, unit_one};
use crate::store::Store;
use crate::timestamp::to_micros;
use async_trait::async_trait;
use shonin_audit::AuditRecord;
use shonin_types::StorageError;
use shonin_types::unit::{Assign, Cond, Outcome, Row, UnitOfWork, UnitStore, Update, Value};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Bound parameters per insert statement, below SQLite's 32,766 (PostgreSQL: 65,535).
const PARAMS_PER_INSERT: usize = 30_000;

/// A unit as the writer queues it: claims with the caller's clock reading, the audit record.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub claims: Vec<Claim>,
    pub updates: Vec<Update>,
    pub rows: Vec<Row>,
    pub audit: Option<AuditRecord>,
}

impl Unit {
    pub(crate) fn new(unit: UnitOfWork, audit: Option<AuditRecord>, now: i64) -> Self {
        Unit {
            claims: unit
                .claims
                .into_iter()
                .map(|c| Claim {
                    namespace: c.namespace.to_owned(),
                    key: c.key,
                    expires_at: to_micros(c.expires_at),
                    now,
                })
                .collect(),
            updates: unit.updates,
            rows: unit.rows,
            audit,
        }
    }
}

#[async_trait]
impl UnitStore<AuditRecord> for Store {
    /// The caller owns the audit log's bookkeeping: it should clamp `entry` and report it to
    /// its [`shonin_audit::AuditLog`] (`appended_elsewhere`) so checkpoints count it.
    async fn commit(
        &self,
        unit: UnitOfWork,
        entry: Option<AuditRecord>,
    ) -> Result<Outcome, StorageError> {
        let now = to_micros(dispatch!(self, s => s.sql.clock.now()));
        let unit = Unit::new(unit, entry, now);
        dispatch!(self, s => {
            let unit = match &s.sql.batch {
                Some(batch) => match batch.unit(unit).await {
                    Ok(result) => return result,
                    // The writer is gone (shutting down): write it directly.
                    Err(unit) => *unit,
                },
                None => unit,
            };
            unit_one(&s.sql, &mut None, &unit).await
        })
    }
}

/// Binds `v` in `q`.
pub(crate) fn push_value<DB: Database>(q: &mut QueryBuilder<DB>, v: &Value)
where
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB> + Type<DB>,
{
    match v {
        Value::Int(x) => q.push_bind(*x),
        Value::Text(x) => q.push_bind(x.clone()),
        Value::Blob(x) => q.push_bind(x.clone()),
        Value::Bool(x) => q.push_bind(*x),
    };
}

/// One multi-row insert: a table, its columns and the rows for them.
pub(crate) type InsertChunk<'a> = (&'static str, &'static [&'static str], Vec<&'a Row>);

/// `rows` grouped into inserts: one per table (in order of first appearance) and per
/// [`PARAMS_PER_INSERT`] parameters. Write each with [`push_insert`].
pub(crate) fn insert_chunks<'a>(rows: &[&'a Row]) -> Vec<InsertChunk<'a>> {
    let mut groups: Vec<InsertChunk<'a>> = Vec::new();
    for row in rows {
        match groups
            .iter_mut()
            .find(|(t, c, _)| *t == row.table && *c == row.columns)
        {
            Some((_, _, members)) => members.push(row),
            None => groups.push((row.table, row.columns, vec![row])),
        }
    }
    let mut out = Vec::new();
    for (table, columns, members) in groups {
        let per_insert = (PARAMS_PER_INSERT / columns.len().max(1)).max(1);
        for chunk in members.chunks(per_insert) {
            out.push((table, columns, chunk.to_vec()));
        }
    }
    out
}

/// Appends `INSERT INTO table (columns) VALUES (…), (…)` for `rows` to `q`.
pub(crate) fn push_insert<DB: Database>(
    q: &mut QueryBuilder<DB>,
    table: &str,
    columns: &[&str],
    rows: &[&Row],
) where
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB> + Type<DB>,
{
    q.push("INSERT INTO ");
    q.push(table);
    q.push(" (");
    q.push(columns.join(", "));
    q.push(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(");
        for (j, v) in row.values.iter().enumerate() {
            if j > 0 {
                q.push(", ");
            }
            push_value(q, v);
        }
        q.push(")");
    }
}

/// Appends `UPDATE table SET … WHERE …` for `u` to `q`, or `DELETE FROM table WHERE …` when
/// it sets nothing.
pub(crate) fn push_update<DB: Database>(q: &mut QueryBuilder<DB>, u: &Update)
where
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<Vec<u8>>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB> + Type<DB>,
{
    if u.is_delete() {
        q.push("DELETE FROM ");
        q.push(u.table);
    } else {
        q.push("UPDATE ");
        q.push(u.table);
        q.push(" SET ");
    }
    for (i, (column, assign)) in u.set.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(*column);
        q.push(" = ");
        match assign {
            Assign::Value(v) => push_value(q, v),
            Assign::AtMost(v) => {
                // Portable min(column, v): SQLite's min() and PostgreSQL's LEAST() differ.
                q.push("CASE WHEN ");
                q.push(*column);
                q.push(" > ");
                push_value(q, v);
                q.push(" THEN ");
                push_value(q, v);
                q.push(" ELSE ");
                q.push(*column);
                q.push(" END");
            }
            Assign::Increment => {
                q.push(*column);
                q.push(" + 1");
            }
        }
    }
    for (i, (column, cond)) in u.filter.iter().enumerate() {
        q.push(if i == 0 { " WHERE " } else { " AND " });
        q.push(*column);
        match cond {
            Cond::Eq(v) => {
                q.push(" = ");
                push_value(q, v);
            }
            Cond::Greater(v) => {
                q.push(" > ");
                push_value(q, v);
            }
            Cond::Less(v) => {
                q.push(" < ");
                push_value(q, v);
            }
            Cond::IsNull => {
                q.push(" IS NULL");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_types::unit::Expect;
    use sqlx::Sqlite;

    #[test]
    fn an_update_renders_every_assignment_and_condition() {
        let u = Update {
            table: "t",
            set: vec![
                ("a", Assign::Value(Value::int(1))),
                ("b", Assign::AtMost(Value::int(2))),
                ("v", Assign::Increment),
            ],
            filter: vec![
                ("k", Cond::Eq(Value::text("x"))),
                ("r", Cond::IsNull),
                ("e", Cond::Greater(Value::int(3))),
                ("c", Cond::Less(Value::int(4))),
            ],
            expect: Expect::One,
        };
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_update(&mut q, &u);
        assert_eq!(
            q.sql().as_str(),
            "UPDATE t SET a = ?, b = CASE WHEN b > ? THEN ? ELSE b END, v = v + 1 \
             WHERE k = ? AND r IS NULL AND e > ? AND c < ?"
        );
        let d = Update::delete("t", vec![("k", Cond::Eq(Value::text("x")))], Expect::One);
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_update(&mut q, &d);
        assert_eq!(q.sql().as_str(), "DELETE FROM t WHERE k = ?");
    }

    #[test]
    fn rows_are_grouped_by_table_and_split_below_the_parameter_limit() {
        let row = |table| Row {
            table,
            columns: &["a", "b"],
            values: vec![Value::int(1), Value::Text(None)],
        };
        let rows: Vec<Row> = std::iter::repeat_n(row("x"), 15_001)
            .chain([row("y")])
            .collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let chunks = insert_chunks(&refs);
        // 15,000 rows of 2 columns fill one insert; the 15,001st starts another; "y" its own.
        let shape: Vec<(&str, usize)> = chunks.iter().map(|(t, _, r)| (*t, r.len())).collect();
        assert_eq!(shape, [("x", 15_000), ("x", 1), ("y", 1)]);
        let mut q = QueryBuilder::<Sqlite>::new("");
        let (table, columns, rows) = &chunks[1];
        push_insert(&mut q, table, columns, rows);
        assert_eq!(q.sql().as_str(), "INSERT INTO x (a, b) VALUES (?, ?)");
    }
}
