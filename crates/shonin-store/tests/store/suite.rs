//! Shared pieces of the contract suite: the two-engine test generator, sample records and the
//! chain walk.

use shonin_audit::chain::entry_hash;
use shonin_audit::{Actor, ActorKind, AuditRecord, AuditStore, GENESIS_HASH, Outcome, SealedEntry};
use shonin_store::Store;
use shonin_store::testing::raw_execute;
use shonin_types::FixedClock;
use shonin_types::ports::FlowRecord;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// For each `name`, an `async fn name(store: &Store)` in the enclosing module becomes two tests,
/// `sqlite::name` and `postgres::name`, each on a fresh migrated database.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    shonin_store::testing::with_fresh_store(
                        shonin_store::testing::TestEngine::Sqlite,
                        |store| async move { super::$name(&store).await },
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    shonin_store::testing::with_fresh_store(
                        shonin_store::testing::TestEngine::Postgres,
                        |store| async move { super::$name(&store).await },
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                }
            )*
        }
    };
}

pub const T0: OffsetDateTime = datetime!(2026-05-01 12:00:00 UTC);

/// A distinct, valid record.
pub fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time: T0 + Duration::milliseconds(i64::try_from(i).unwrap()) + Duration::nanoseconds(789),
        actor: Actor {
            kind: ActorKind::Client,
            id: format!("client-{i}"),
        },
        action: "token.issue".into(),
        target: format!("rs-{}", i % 7),
        outcome: if i.is_multiple_of(5) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        reason: (i.is_multiple_of(5)).then(|| "invalid_grant".to_owned()),
        source_ip: Some(
            if i.is_multiple_of(2) {
                "192.0.2.7"
            } else {
                "2001:db8::1"
            }
            .parse()
            .unwrap(),
        ),
        request_id: (!i.is_multiple_of(3)).then(|| format!("req-{i}")),
    }
}

/// Every stored entry, read in pages.
pub async fn all_entries(store: &Store) -> Vec<SealedEntry> {
    let mut out: Vec<SealedEntry> = Vec::new();
    loop {
        let from = out.last().map_or(1, |e| e.seq + 1);
        let page = store.entries(from, 700).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Asserts the log holds exactly `len` entries forming one chain: seq 1..=len, each `prev_hash`
/// the previous `hash` (genesis first), each `hash` recomputed from the stored fields, and the
/// head at the last entry. Returns the entries.
pub async fn assert_unbroken_chain(store: &Store, len: u64) -> Vec<SealedEntry> {
    let entries = all_entries(store).await;
    assert_eq!(entries.len() as u64, len, "entry count");
    let mut prev = GENESIS_HASH;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "seq continuity");
        assert_eq!(e.prev_hash, prev, "prev_hash of {}", e.seq);
        assert_eq!(
            e.hash,
            entry_hash(e.seq, &e.prev_hash, &e.record),
            "hash of {}",
            e.seq
        );
        prev = e.hash;
    }
    let head = store.head().await.unwrap();
    match entries.last() {
        Some(last) => assert_eq!(head, Some((last.seq, last.hash))),
        None => assert_eq!(head, None),
    }
    entries
}

/// Removes the append-only guard so a test can play the attacker with raw SQL.
pub async fn allow_tampering(store: &Store) {
    let sql = match store.engine() {
        "sqlite" => "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;",
        _ => "ALTER TABLE audit_entries DISABLE TRIGGER USER;",
    };
    raw_execute(store, sql).await.unwrap();
}

/// A blob literal in the engine's SQL dialect.
pub fn blob_literal(store: &Store, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match store.engine() {
        "sqlite" => format!("X'{hex}'"),
        _ => format!("'\\x{hex}'::bytea"),
    }
}

/// `store` with a [`FixedClock`] at [`T0`] deciding expiry in `first_use` and `create_flow`.
pub fn clocked(store: &Store) -> (Store, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(T0));
    (store.clone().with_clock(clock.clone()), clock)
}

/// A `par` flow record expiring `expires_in` after [`T0`].
pub fn flow(id: &str, state: &str, expires_in: Duration) -> FlowRecord {
    FlowRecord {
        kind: "par".into(),
        id: id.into(),
        state: state.into(),
        data: format!("{{\"state\":\"{state}\"}}").into_bytes(),
        expires_at: T0 + expires_in,
        version: 42, // ignored: create always starts at 1
    }
}

/// A token response's unit of work: `claims`, then `tokens`, with `audit` — what the token
/// endpoint commits.
pub async fn issue_tokens(
    store: &Store,
    claims: &[(&'static str, &str, OffsetDateTime)],
    tokens: Vec<shonin_oauth::token_record::TokenRecord>,
    audit: AuditRecord,
) -> Result<shonin_types::unit::Outcome, shonin_types::StorageError> {
    use shonin_types::unit::{OneTimeClaim, UnitOfWork, UnitStore};
    let mut unit = UnitOfWork::new();
    for (namespace, key, expires_at) in claims {
        unit.claim(OneTimeClaim {
            namespace,
            key: (*key).to_owned(),
            expires_at: *expires_at,
        });
    }
    for t in &tokens {
        unit.insert(t);
    }
    store.commit(unit, Some(audit)).await
}
