//! The attack suite: what a penetration tester would try against a real listener (TLS, the
//! accept loop, the whole router), with bounded loads on loopback only.
//!
//! `cargo test -p shonin-server --test attack` runs all of it; docs/testing.md lists each probe.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../common/mod.rs"]
mod common;

mod h2raw;
mod harness;
mod http1;
mod http2;
mod input;
mod pages;
mod proxy;
mod storage;
