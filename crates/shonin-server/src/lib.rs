//! The `shonin` server: HTTP and TLS wiring, configuration, operational endpoints and the admin
//! commands. Protocol logic lives in the domain crates; handlers here stay thin and every error
//! becomes an HTTP response in one place ([`error`]).

pub mod admin;
pub mod alerts;
pub mod audit_events;
pub mod cli;
pub mod config;
pub mod dev;
pub mod error;
pub mod forms;
pub mod global_args;
pub mod i18n;
pub mod keys;
pub mod layers;
pub mod net;
pub mod oauth;
pub mod pages;
pub mod passkeys;
pub mod request_meta;
pub mod routes;
pub mod runtime;
pub mod sign_in;
pub mod state;
pub mod telemetry;
pub mod threeds;
pub mod threeds_server;
pub mod txn;
pub mod vault;
