//! Fresh throw-away databases for contract tests, here and in the server crate (feature
//! `testing`; never enable it in a release build).
//!
//! SQLite: a new file in a temporary directory. PostgreSQL: a new database `shonin_t_<uuid>` on
//! the server named by `SHONIN_TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`]), dropped
//! afterwards. An unreachable PostgreSQL is an error that says how to start one: PostgreSQL tests
//! never skip silently.

use crate::error::sqlx_err;
use crate::store::{Store, StoreOptions};
use shonin_types::StorageError;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

/// Names the PostgreSQL server (any database on it) that tests create their databases on.
pub const POSTGRES_URL_ENV: &str = "SHONIN_TEST_POSTGRES_URL";
/// Used when [`POSTGRES_URL_ENV`] is unset: a local server with trust authentication.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const HOW_TO_START_POSTGRES: &str = "the PostgreSQL contract tests need a running server: \
    start one (Debian: `apt-get install -y postgresql && pg_ctlcluster 15 main start`; the \
    default URL expects trust authentication for user postgres on 127.0.0.1:5432) or set \
    SHONIN_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/postgres";

/// Which engine a test database uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    Sqlite,
    Postgres,
}

/// A migrated database that exists only for one test.
#[derive(Debug)]
pub struct TestDb {
    store: Store,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// The PostgreSQL server URL tests use.
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

impl TestDb {
    /// A fresh, migrated database on `engine`.
    pub async fn create(engine: TestEngine) -> Result<TestDb, StorageError> {
        match engine {
            TestEngine::Sqlite => Self::sqlite().await,
            TestEngine::Postgres => Self::postgres().await,
        }
    }

    /// A fresh, migrated SQLite file in a new temporary directory.
    pub async fn sqlite() -> Result<TestDb, StorageError> {
        let dir = tempfile::tempdir()
            .map_err(|e| StorageError::Unavailable(format!("cannot create a temp dir: {e}")))?;
        let url = format!("sqlite://{}", dir.path().join("shonin.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        store.migrate().await?;
        Ok(TestDb {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        })
    }

    /// A fresh, migrated PostgreSQL database `shonin_t_<uuid>`.
    pub async fn postgres() -> Result<TestDb, StorageError> {
        let admin_url = postgres_admin_url();
        let name = format!("shonin_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&admin_url).await?;
        // `name` is ours: lower-case letters, digits and underscores only.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .map_err(sqlx_err("create test database"))?;
        admin.close().await.ok();

        let mut url = url::Url::parse(&admin_url)
            .map_err(|_| StorageError::Unavailable(format!("{POSTGRES_URL_ENV} is not a URL")))?;
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        let cleanup = Cleanup::Postgres { admin_url, name };
        let store = match Store::connect(&url, &StoreOptions::default()).await {
            Ok(store) => store,
            Err(e) => {
                drop_postgres(&cleanup).await.ok();
                return Err(e);
            }
        };
        let db = TestDb {
            store,
            url,
            cleanup,
        };
        if let Err(e) = db.store.migrate().await {
            db.destroy().await.ok();
            return Err(e);
        }
        Ok(db)
    }

    /// The store, already migrated.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A URL another process can pass to [`Store::connect`] to open the same database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool and removes the database (the file, or `DROP DATABASE … WITH (FORCE)`).
    pub async fn destroy(self) -> Result<(), StorageError> {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Sqlite(dir) => dir
                .close()
                .map_err(|e| StorageError::Unavailable(format!("cannot remove test dir: {e}"))),
            postgres @ Cleanup::Postgres { .. } => drop_postgres(&postgres).await,
        }
    }
}

/// Runs `body` against a fresh migrated database on `engine` and destroys the database afterwards,
/// also when `body` panics (the panic is then resumed, so the test still fails).
pub async fn with_fresh_store<F, Fut>(engine: TestEngine, body: F) -> Result<(), StorageError>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_fresh_db(engine, |store, _url| body(store)).await
}

/// Like [`with_fresh_store`], also passing the database URL (for tests that start other
/// processes on the same database).
pub async fn with_fresh_db<F, Fut>(engine: TestEngine, body: F) -> Result<(), StorageError>
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::create(engine).await?;
    let outcome = tokio::spawn(body(db.store().clone(), db.url().to_owned())).await;
    let destroyed = db.destroy().await;
    if let Err(join) = outcome {
        if join.is_panic() {
            std::panic::resume_unwind(join.into_panic());
        }
        return Err(StorageError::Unavailable(format!(
            "test body did not finish: {join}"
        )));
    }
    destroyed
}

/// Executes `sql` (one or more statements) directly, bypassing the ports: for tests that tamper
/// with stored rows. Returns the rows affected.
pub async fn raw_execute(store: &Store, sql: &str) -> Result<u64, StorageError> {
    let sql = AssertSqlSafe(sql.to_owned());
    match store {
        Store::Sqlite(s) => sqlx::raw_sql(sql)
            .execute(&s.sql.pool)
            .await
            .map(|r| r.rows_affected()),
        Store::Postgres(s) => sqlx::raw_sql(sql)
            .execute(&s.sql.pool)
            .await
            .map(|r| r.rows_affected()),
    }
    .map_err(sqlx_err("raw test statement"))
}

/// Every row of `table`, each column as text (integers in decimal), one row a line: for tests
/// that scan what is stored for data that must not be there.
pub async fn raw_rows_text(store: &Store, table: &str) -> Result<String, StorageError> {
    use sqlx::Row as _;
    let sql = AssertSqlSafe(format!("SELECT * FROM {table}"));
    macro_rules! dump {
        ($pool:expr) => {{
            let rows = sqlx::query(sql)
                .fetch_all($pool)
                .await
                .map_err(sqlx_err("raw test select"))?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<String, _>(i)
                                .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect::<Vec<_>>()
                .join("\n")
        }};
    }
    Ok(match store {
        Store::Sqlite(s) => dump!(&s.sql.pool),
        Store::Postgres(s) => dump!(&s.sql.pool),
    })
}

/// How many rows `table` holds.
pub async fn raw_count(store: &Store, table: &str) -> Result<i64, StorageError> {
    use sqlx::Row as _;
    let sql = AssertSqlSafe(format!("SELECT count(*) AS n FROM {table}"));
    match store {
        Store::Sqlite(s) => sqlx::query(sql)
            .fetch_one(&s.sql.pool)
            .await
            .and_then(|r| r.try_get::<i64, _>("n")),
        Store::Postgres(s) => sqlx::query(sql)
            .fetch_one(&s.sql.pool)
            .await
            .and_then(|r| r.try_get::<i64, _>("n")),
    }
    .map_err(sqlx_err("raw test count"))
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, StorageError> {
    let options = PgConnectOptions::from_str(admin_url)
        .map_err(|_| StorageError::Unavailable(format!("{POSTGRES_URL_ENV} is not a valid URL")))?;
    let shown = format!("{}:{}", options.get_host(), options.get_port());
    match tokio::time::timeout(
        Duration::from_secs(10),
        PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(StorageError::Unavailable(format!(
            "PostgreSQL at {shown} is not reachable ({e}); {HOW_TO_START_POSTGRES}"
        ))),
        Err(_) => Err(StorageError::Unavailable(format!(
            "PostgreSQL at {shown} did not answer within 10 s; {HOW_TO_START_POSTGRES}"
        ))),
    }
}

async fn drop_postgres(cleanup: &Cleanup) -> Result<(), StorageError> {
    let Cleanup::Postgres { admin_url, name } = cleanup else {
        return Ok(());
    };
    let mut admin = admin_connection(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .map_err(sqlx_err("drop test database"))?;
    admin.close().await.ok();
    Ok(())
}

/// Writes `claims` (namespace, key, expiry), `tokens` and `audits` (each one append) through
/// the group-commit path as **one** batch on a fresh writer connection, as the writer task
/// would if they had all been queued together, and returns each caller's outcome in order, and
/// whether the batch transaction itself committed (`false`: it failed and every write was
/// retried on its own). Lets tests pin down what concurrent callers can only make likely:
/// duplicate keys in one batch, and a batch that fails and is retried one by one.
pub async fn write_one_batch(
    store: &Store,
    claims: &[(&str, &str, time::OffsetDateTime)],
    tokens: &[shonin_oauth::token_record::TokenRecord],
    audits: &[Vec<shonin_audit::AuditRecord>],
) -> BatchOutcome {
    write_one_batch_with_issues(store, claims, tokens, audits, &[]).await
}

/// A token response's unit for [`write_one_batch_with_issues`]: its claims, its token
/// records and its audit entry, committed as one unit of work.
#[derive(Debug, Clone)]
pub struct TestIssue<'a> {
    pub claims: Vec<(&'a str, &'a str, time::OffsetDateTime)>,
    pub tokens: Vec<shonin_oauth::token_record::TokenRecord>,
    pub audit: shonin_audit::AuditRecord,
}

/// One batch for [`write_batches`], queued in this order: plain claims and token records (each
/// a unit of its own, as `ReplayStore::first_use` and `TokenStore::insert_token` queue them),
/// audit appends, issues, then any other units.
#[derive(Debug, Clone, Default)]
pub struct TestBatch<'a> {
    pub claims: Vec<(&'a str, &'a str, time::OffsetDateTime)>,
    pub tokens: Vec<shonin_oauth::token_record::TokenRecord>,
    pub audits: Vec<Vec<shonin_audit::AuditRecord>>,
    pub issues: Vec<TestIssue<'a>>,
    pub units: Vec<(
        shonin_types::unit::UnitOfWork,
        Option<shonin_audit::AuditRecord>,
    )>,
    /// Appended to the audit log by the store itself (another writer) just before the batch.
    pub others_append_first: Vec<shonin_audit::AuditRecord>,
}

/// [`write_one_batch`] with issues queued after the other operations.
pub async fn write_one_batch_with_issues(
    store: &Store,
    claims: &[(&str, &str, time::OffsetDateTime)],
    tokens: &[shonin_oauth::token_record::TokenRecord],
    audits: &[Vec<shonin_audit::AuditRecord>],
    issues: &[TestIssue<'_>],
) -> BatchOutcome {
    let batch = TestBatch {
        claims: claims.to_vec(),
        tokens: tokens.to_vec(),
        audits: audits.to_vec(),
        issues: issues.to_vec(),
        units: Vec::new(),
        others_append_first: Vec::new(),
    };
    let mut out = write_batches(store, &[batch]).await;
    out.pop()
        .unwrap_or_else(|| unreachable!("one batch, one outcome"))
}

/// Writes each of `batches` as one batch, in order, on **one** writer connection, as the
/// writer task does from batch to batch (so the writer's knowledge of the audit head carries
/// over, and a warm batch may be sent as one statement list: [`BatchOutcome::scripted`]).
pub async fn write_batches(store: &Store, batches: &[TestBatch<'_>]) -> Vec<BatchOutcome> {
    let mut out = Vec::new();
    dispatch!(store, s => {
        let mut held = None;
        for batch in batches {
            append_elsewhere(store, batch).await;
            let now = s.sql.clock.now();
            out.push(write_test_batch(&s.sql, &mut held, batch, now).await);
        }
        crate::batch::close::<crate::engine::Sql<_>>(held).await;
    });
    out
}

async fn append_elsewhere(store: &Store, batch: &TestBatch<'_>) {
    use shonin_audit::AuditStore;
    if !batch.others_append_first.is_empty() {
        let appended = store.append(batch.others_append_first.clone()).await;
        assert!(appended.is_ok(), "append elsewhere: {appended:?}");
    }
}

async fn write_test_batch<W: crate::batch::Writes>(
    sql: &W,
    held: &mut Option<W::Conn>,
    batch: &TestBatch<'_>,
    now: time::OffsetDateTime,
) -> BatchOutcome {
    use crate::batch::{Claim, Op, WritePath, commit};
    use crate::timestamp::to_micros;
    use crate::unit::Unit;
    use shonin_types::unit::{Outcome, Record};
    use tokio::sync::oneshot;
    let now = to_micros(now);
    let claim = |(namespace, key, expires_at): &(&str, &str, time::OffsetDateTime)| Claim {
        namespace: (*namespace).to_owned(),
        key: (*key).to_owned(),
        expires_at: to_micros(*expires_at),
        now,
    };
    let unit = |claims: Vec<Claim>, rows, audit| Unit {
        claims,
        updates: Vec::new(),
        rows,
        audit,
    };
    let mut ops = Vec::new();
    let queue = |ops: &mut Vec<Op>, u: Unit| {
        let (ack, rx) = oneshot::channel();
        ops.push(Op::Unit(Box::new(u), ack));
        rx
    };
    let claim_rx: Vec<_> = batch
        .claims
        .iter()
        .map(|c| queue(&mut ops, unit(vec![claim(c)], Vec::new(), None)))
        .collect();
    let token_rx: Vec<_> = batch
        .tokens
        .iter()
        .map(|r| queue(&mut ops, unit(Vec::new(), vec![r.row()], None)))
        .collect();
    let mut audit_rx = Vec::new();
    for records in &batch.audits {
        let (ack, rx) = oneshot::channel();
        ops.push(Op::Audit(records.clone(), ack));
        audit_rx.push(rx);
    }
    let issue_rx: Vec<_> = batch
        .issues
        .iter()
        .map(|i| {
            let u = unit(
                i.claims.iter().map(claim).collect(),
                i.tokens.iter().map(Record::row).collect(),
                Some(i.audit.clone()),
            );
            queue(&mut ops, u)
        })
        .collect();
    let unit_rx: Vec<_> = batch
        .units
        .iter()
        .map(|(u, audit)| {
            let u = Unit::new(u.clone(), audit.clone(), now);
            queue(&mut ops, u)
        })
        .collect();
    let path = commit(sql, held, ops).await;
    let gone = || StorageError::Unavailable("no answer".into());
    let mut claimed = Vec::new();
    for rx in claim_rx {
        let outcome = rx.await.unwrap_or_else(|_| Err(gone()));
        claimed.push(outcome.map(|o| o == Outcome::Committed { seq: None }));
    }
    let mut inserted = Vec::new();
    for rx in token_rx {
        let outcome = rx.await.unwrap_or_else(|_| Err(gone()));
        inserted.push(outcome.map(|_| ()));
    }
    let mut appended = Vec::new();
    for rx in audit_rx {
        appended.push(rx.await.unwrap_or_else(|_| Err(gone())));
    }
    let mut issued = Vec::new();
    for rx in issue_rx {
        issued.push(rx.await.unwrap_or_else(|_| Err(gone())));
    }
    let mut units = Vec::new();
    for rx in unit_rx {
        units.push(rx.await.unwrap_or_else(|_| Err(gone())));
    }
    BatchOutcome {
        committed: path != WritePath::OneByOne,
        scripted: path == WritePath::Script,
        claimed,
        inserted,
        appended,
        issued,
        units,
    }
}

/// What [`write_one_batch`] observed.
#[derive(Debug)]
pub struct BatchOutcome {
    /// The batch transaction committed (no one-by-one retry).
    pub committed: bool,
    /// It committed as one statement list (SQLite, with the audit head known from the
    /// previous batch on the same connection).
    pub scripted: bool,
    pub claimed: Vec<Result<bool, StorageError>>,
    pub inserted: Vec<Result<(), StorageError>>,
    pub appended: Vec<Result<Vec<shonin_audit::SealedEntry>, StorageError>>,
    pub issued: Vec<Result<shonin_types::unit::Outcome, StorageError>>,
    pub units: Vec<Result<shonin_types::unit::Outcome, StorageError>>,
}
