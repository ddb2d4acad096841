//! The store handle: connecting, migrating, health, sweeping.

use crate::batch::Batcher;
use crate::claims_memo::ClaimsMemo;
use crate::engine::Sql;
use crate::error::{from_migrate, sqlx_err};
use crate::wal_checkpoint;
use shonin_types::ports::{FlowStore, ReplayStore};
use shonin_types::{Clock, StorageError, SystemClock};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Postgres, Sqlite};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a SQLite connection waits for another writer before failing with
/// [`StorageError::Unavailable`].
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const URL_RULE: &str = "the database URL must be sqlite:PATH, sqlite://PATH, postgres://… or \
                        postgresql://…";

/// Pool settings shared by both engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Upper bound of open connections in this process.
    pub max_connections: u32,
    /// How long to wait for a connection, new or from the pool, before failing with
    /// [`StorageError::Unavailable`].
    pub connect_timeout: Duration,
    /// PostgreSQL only: the server aborts any statement running longer (`statement_timeout`).
    /// SQLite statements are bounded by [`SQLITE_BUSY_TIMEOUT`] instead.
    pub statement_timeout: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Storage for one Shonin deployment: a SQLite file (single node) or a PostgreSQL database
/// (any number of nodes). Cheap to clone; clones share the pool.
///
/// Implements [`shonin_audit::AuditStore`], [`ReplayStore`] and [`FlowStore`].
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// A SQLite database file in WAL mode with `synchronous = FULL`, so a committed audit entry
/// survives power loss.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) sql: Sql<Sqlite>,
    /// The one connection of the group-commit writer ([`crate::batch`]).
    writer: Pool<Sqlite>,
    /// The one connection of the background WAL checkpoint ([`crate::wal_checkpoint`]).
    checkpointer: Pool<Sqlite>,
    path: Arc<PathBuf>,
}

/// A PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) sql: Sql<Postgres>,
    /// The one connection of the group-commit writer ([`crate::batch`]).
    writer: Pool<Postgres>,
    /// `host:port/database`; never the user or password.
    location: Arc<str>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Rows removed by one [`Store::sweep`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    pub replays: u64,
    pub flows: u64,
    pub tokens: u64,
    pub acs_transactions: u64,
    pub server_transactions: u64,
    pub vault_cards: u64,
    pub vault_nonces: u64,
    pub vault_cvvs: u64,
    pub vault_client_tokens: u64,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens a pool to `url` and checks that one connection works. Does not migrate.
    ///
    /// `sqlite:PATH` or `sqlite://PATH` (the file is created if missing; in-memory databases are
    /// refused because the audit log must be durable), `postgres://…` or `postgresql://…`.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store, StorageError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return connect_sqlite(sqlite_path(path)?, opts)
                .await
                .map(Store::Sqlite);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return connect_postgres(url, opts).await.map(Store::Postgres);
        }
        Err(StorageError::Unavailable(format!(
            "unsupported database URL: {URL_RULE}"
        )))
    }

    /// Replaces the clock that decides expiry where a port method takes no `now`
    /// ([`ReplayStore::first_use`], [`FlowStore::create_flow`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        match &mut self {
            Store::Sqlite(s) => s.sql.clock = clock,
            Store::Postgres(s) => s.sql.clock = clock,
        }
        self
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Applies the embedded migrations that have not run yet. Safe to run on every start and from
    /// several nodes at once (PostgreSQL takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let result = match self {
            Store::Sqlite(s) => SQLITE_MIGRATIONS.run(&s.sql.pool).await,
            Store::Postgres(s) => POSTGRES_MIGRATIONS.run(&s.sql.pool).await,
        };
        result.map_err(|e| from_migrate("migrate", &e))
    }

    /// One round trip to the database, for readiness probes.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let result = match self {
            Store::Sqlite(s) => sqlx::query("SELECT 1").execute(&s.sql.pool).await.map(drop),
            Store::Postgres(s) => sqlx::query("SELECT 1").execute(&s.sql.pool).await.map(drop),
        };
        result.map_err(sqlx_err("ping"))
    }

    /// Deletes expired replay records and flow records, and token records expired for longer
    /// than `token_retention`; the server runs this periodically. Expired rows are never
    /// returned as live even before a sweep; sweeping only reclaims space.
    pub async fn sweep(
        &self,
        now: OffsetDateTime,
        token_retention: time::Duration,
    ) -> Result<SweepCounts, StorageError> {
        let tokens_before = now
            .checked_sub(token_retention)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        // PCI DSS 3.2.1: a card past its retention is deleted with its data key; 3.3.2: a held
        // CVV and an unexchanged nonce only live minutes.
        let vault = shonin_vault::VaultStore::sweep_vault(self, now).await?;
        Ok(SweepCounts {
            replays: self.sweep_replays(now).await?,
            flows: self.sweep_flows(now).await?,
            tokens: shonin_oauth::TokenStore::sweep_tokens(self, tokens_before).await?,
            // PCI 3DS: a transaction's data is kept only until it expires.
            acs_transactions: shonin_3ds::acs::AcsStore::sweep_acs_transactions(self, now).await?,
            server_transactions: shonin_3ds::server::ServerStore::sweep_server_transactions(
                self, now,
            )
            .await?,
            vault_cards: vault.cards,
            vault_nonces: vault.nonces,
            vault_cvvs: vault.cvvs,
            vault_client_tokens: vault.client_tokens,
        })
    }

    /// Makes this process the one that decides replay claims on a SQLite database (see
    /// `claims_memo.rs`): takes its lock and reads the claim log now rather than on the first
    /// claim, so that a second server on the same file fails at start. Call after
    /// [`Store::migrate`]. PostgreSQL: nothing to hold (any number of nodes claim together).
    pub async fn hold_replay_claims(&self) -> Result<(), StorageError> {
        match self {
            Store::Sqlite(s) => match &s.sql.memo {
                Some(memo) => memo.ensure_loaded(&s.sql.pool).await,
                None => Ok(()),
            },
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Closes every pooled connection; later calls fail with [`StorageError::Unavailable`].
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => {
                s.sql.pool.close().await;
                s.writer.close().await;
                s.checkpointer.close().await;
                if let Some(memo) = &s.sql.memo {
                    memo.unlock();
                }
            }
            Store::Postgres(s) => {
                s.sql.pool.close().await;
                s.writer.close().await;
            }
        }
    }
}

fn sqlite_path(path: &str) -> Result<PathBuf, StorageError> {
    if path.is_empty() {
        return Err(StorageError::Unavailable(format!(
            "empty SQLite path: {URL_RULE}"
        )));
    }
    if path == ":memory:" || path.starts_with(":memory:") {
        return Err(StorageError::Unavailable(
            "in-memory SQLite is refused: the audit log must survive a restart; use a file".into(),
        ));
    }
    if path.contains('?') {
        return Err(StorageError::Unavailable(format!(
            "SQLite URLs take no query parameters: {URL_RULE}"
        )));
    }
    Ok(PathBuf::from(path))
}

async fn connect_sqlite(path: PathBuf, opts: &StoreOptions) -> Result<SqliteStore, StorageError> {
    crate::file_mode::make_private(&path).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "cannot create the SQLite database file 0600");
        StorageError::Unavailable("cannot create the SQLite database file".into())
    })?;
    let connect = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit returns only once the WAL is synced, so an audit entry that was
        // reported appended survives power loss (NORMAL may lose the last transactions).
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // Statement journals and RETURNING's scratch tables stay in memory (bounded by a
        // batch) instead of a temporary file created and deleted per statement.
        .pragma("temp_store", "memory")
        // Checkpoints run in the background (crate::wal_checkpoint); a committing connection
        // checkpoints itself only once the WAL is this long.
        .pragma(
            "wal_autocheckpoint",
            wal_checkpoint::WRITER_AUTOCHECKPOINT.to_string(),
        );
    let pool = SqlitePoolOptions::new()
        .max_connections(opts.max_connections.max(1))
        .acquire_timeout(opts.connect_timeout)
        .connect_with(connect.clone())
        .await
        .map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "cannot open SQLite database");
            StorageError::Unavailable("cannot open the SQLite database file".into())
        })?;
    // The group-commit writer keeps one connection of its own: SQLite drops a connection's page
    // cache whenever another connection has committed since its last transaction, so a writer
    // drawing a different pooled connection per batch would re-read every page it touches.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(opts.connect_timeout)
        // No ping before each batch: a round trip to the connection's thread per batch, and a
        // broken connection fails the batch anyway (its callers get the error; the pool
        // reconnects).
        .test_before_acquire(false)
        .connect_lazy_with(connect.clone());
    let mut sql = Sql {
        pool,
        clock: Arc::new(SystemClock),
        append_gate: Some(Arc::new(tokio::sync::Mutex::new(()))),
        batch: None,
        memo: Some(Arc::new(ClaimsMemo::new(&path))),
    };
    sql.batch = Batcher::start(Sql {
        pool: writer.clone(),
        ..sql.clone()
    });
    let checkpointer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(opts.connect_timeout)
        .connect_lazy_with(connect);
    wal_checkpoint::start(checkpointer.clone());
    Ok(SqliteStore {
        sql,
        writer,
        checkpointer,
        path: Arc::new(path),
    })
}

async fn connect_postgres(url: &str, opts: &StoreOptions) -> Result<PgStore, StorageError> {
    let mut connect = PgConnectOptions::from_str(url).map_err(|e| {
        // The parse error does not echo the URL, so it cannot leak the password.
        tracing::error!(error = %e, "invalid PostgreSQL URL");
        StorageError::Unavailable("invalid PostgreSQL URL".into())
    })?;
    connect = connect.application_name("shonin");
    if let Some(timeout) = opts.statement_timeout {
        connect = connect.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    let location: Arc<str> = format!(
        "{}:{}/{}",
        connect.get_host(),
        connect.get_port(),
        connect.get_database().unwrap_or("")
    )
    .into();
    let pool = PgPoolOptions::new()
        .max_connections(opts.max_connections.max(1))
        .acquire_timeout(opts.connect_timeout)
        .connect_with(connect.clone())
        .await
        .map_err(|e| {
            tracing::error!(%location, error = %e, "cannot connect to PostgreSQL");
            StorageError::Unavailable(format!("cannot connect to PostgreSQL at {location}"))
        })?;
    let mut sql = Sql {
        pool,
        clock: Arc::new(SystemClock),
        append_gate: None,
        batch: None,
        memo: None,
    };
    // The writer's connection is its own, opened on first use from the writer's thread, so
    // its socket is served by that thread's runtime rather than by the busy request runtime.
    let writer = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(opts.connect_timeout)
        .connect_lazy_with(connect);
    sql.batch = Batcher::start(Sql {
        pool: writer.clone(),
        ..sql.clone()
    });
    Ok(PgStore {
        sql,
        writer,
        location,
    })
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(Store::connect(url, &StoreOptions::default())) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("{url} was accepted: {s:?}"),
        }
    }

    #[test]
    fn unknown_scheme_is_refused_naming_the_rule() {
        let msg = refused("mysql://root@localhost/shonin");
        assert!(
            msg.contains("sqlite:PATH") && msg.contains("postgres://"),
            "{msg}"
        );
    }

    #[test]
    fn in_memory_sqlite_is_refused() {
        assert!(refused("sqlite::memory:").contains("in-memory"));
        assert!(refused("sqlite://:memory:").contains("in-memory"));
    }

    #[test]
    fn sqlite_query_parameters_are_refused() {
        assert!(refused("sqlite:/tmp/x.db?mode=ro").contains("query parameters"));
    }

    #[test]
    fn invalid_postgres_url_error_does_not_echo_the_password() {
        let msg = refused("postgres://user:hunter2@[::1:5432/db");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[tokio::test]
    async fn debug_output_never_contains_credentials() {
        let url = std::env::var("SHONIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut with_password = url::Url::parse(&url).unwrap();
        with_password.set_password(Some("s3cret-pw")).unwrap();
        // Trust authentication ignores the password, so this connects when PostgreSQL is up;
        // either way neither the error nor the Debug output may contain it.
        match Store::connect(with_password.as_str(), &StoreOptions::default()).await {
            Ok(store) => {
                let dbg = format!("{store:?}");
                assert!(
                    !dbg.contains("s3cret-pw") && dbg.contains("PgStore"),
                    "{dbg}"
                );
                store.close().await;
            }
            Err(e) => assert!(!e.to_string().contains("s3cret-pw"), "{e}"),
        }
    }

    #[tokio::test]
    async fn sqlite_file_is_created_in_wal_mode_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = Store::connect(
            &format!("sqlite:{}", path.display()),
            &StoreOptions::default(),
        )
        .await
        .unwrap();
        assert!(path.exists());
        let Store::Sqlite(s) = &store else {
            panic!("not sqlite: {store:?}")
        };
        let pragma = |name: &'static str| {
            let pool = s.sql.pool.clone();
            async move {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                sqlx::Row::try_get::<String, _>(&row, 0)
                    .or_else(|_| sqlx::Row::try_get::<i64, _>(&row, 0).map(|n| n.to_string()))
                    .unwrap()
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("synchronous").await, "2"); // FULL
        assert_eq!(pragma("foreign_keys").await, "1");
        assert_eq!(pragma("busy_timeout").await, "5000");
        assert_eq!(pragma("temp_store").await, "2"); // MEMORY
        assert_eq!(pragma("wal_autocheckpoint").await, "10000");
        assert_eq!(store.engine(), "sqlite");
        store.close().await;
    }

    #[tokio::test]
    async fn the_background_checkpoint_copies_the_wal_into_the_database_file() {
        use shonin_audit::AuditStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.db");
        let url = format!("sqlite:{}", path.display());
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        // Let the first checkpoint take the migrations, then write more than fits in the
        // file as it is, far fewer pages than the writer's own backstop.
        tokio::time::sleep(wal_checkpoint::IDLE_INTERVAL * 2).await;
        let before = std::fs::metadata(&path).unwrap().len();
        for i in 0..40 {
            let record = shonin_audit::AuditRecord {
                time: time::OffsetDateTime::now_utc(),
                actor: shonin_audit::Actor {
                    kind: shonin_audit::ActorKind::Client,
                    id: format!("client-{i}"),
                },
                action: "token.issue".into(),
                target: "rs".into(),
                outcome: shonin_audit::Outcome::Failure,
                reason: Some("x".repeat(2000)),
                source_ip: None,
                request_id: None,
            };
            store.append(vec![record]).await.unwrap();
        }
        // Far fewer pages than the writer's backstop: without the task they would stay in the
        // WAL.
        let mut after = before;
        for _ in 0..20 {
            tokio::time::sleep(wal_checkpoint::IDLE_INTERVAL).await;
            after = std::fs::metadata(&path).unwrap().len();
            if after > before + 40 * 2000 {
                break;
            }
        }
        assert!(after > before + 40 * 2000, "{before} -> {after}");
        store.close().await;
    }

    #[test]
    fn default_options_are_bounded() {
        let o = StoreOptions::default();
        assert!(o.max_connections > 0);
        assert!(o.connect_timeout > Duration::ZERO);
    }
}
