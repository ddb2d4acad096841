//! The storage contract, run against SQLite and PostgreSQL.
//!
//! Each test body is written once as `async fn name(store: &Store)` and `contract_tests!` runs it
//! as `<module>::sqlite::name` and `<module>::postgres::name`, each on a fresh migrated database
//! (`shonin_store::testing`). PostgreSQL tests fail, never skip, when no server is reachable.
//! One test binary, so the suite links once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod suite;

mod acs;
mod audit;
mod batch;
mod children;
mod claims_log;
mod clients;
mod concurrency;
mod engine;
mod flow;
mod passkeys;
mod recovery;
mod replay;
mod tamper;
mod threeds_server;
mod tokens;
mod two_process;
mod units;
mod users;
mod vault;
mod vault_two_process;
