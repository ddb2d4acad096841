//! The audit log's tests against a faithful in-memory store that can be tampered with.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod archive;
mod checkpoint;
mod export;
mod props;
mod support;
mod verify;
mod writer;
