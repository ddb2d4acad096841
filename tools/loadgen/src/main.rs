//! `loadgen`: the load generator behind `bench/run.sh` and `docs/benchmarks.md`.
//!
//! - `keys`: makes the benchmark client's ES256 key pair and its DPoP key pair.
//! - `pregen`: signs N requests ahead of time, so the generator is not what is measured:
//!   client_credentials or refresh_token token requests (`private_key_jwt` assertion and DPoP
//!   proof, each with its own `jti`), or userinfo requests (DPoP proof with `ath`).
//! - `run`: sends a pregenerated file to its endpoint with a fixed concurrency, for at most
//!   a duration or the file's N requests, each request exactly once, and prints one JSON line.
//! - `crypto`: the crypto ceiling — how many times per second this machine can do the signature
//!   work one token request needs (two ES256 verifications, one ES256 signature).
//! - `flow`: full authorization code flows per second (PAR, authorize, sign-in with a password or
//!   a passkey, consent, token); with `--save-tokens`, the tokens of one flow for `pregen`.
//! - `mtls-pki` / `mtls`: the token endpoint with mTLS client authentication and
//!   certificate-bound tokens (RFC 8705), with keep-alive or a new full handshake per request.
//!
//! It talks TLS only, trusting only the CA it is given (never with verification switched off),
//! and only to loopback addresses: a load test here must never leave the machine. Every loop is
//! bounded by a count and a duration and stops by itself.

// Printing the JSON result lines to standard output is what this tool is for.
#![allow(clippy::print_stdout)]

mod approvals;
mod ciba;
mod client_jwt;
mod crypto;
mod flow;
mod h1;
mod http;
mod keys;
mod mtls;
mod passkeys;
mod pregen;
mod run;
mod stats;
mod tally;
mod threeds;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "loadgen", about = "Load generator for Shonin's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new client key, DPoP key and the client's public JWK set into a directory.
    Keys(keys::KeysArgs),
    /// Sign N requests (client_credentials, refresh_token, userinfo) ahead of time into a file.
    Pregen(pregen::PregenArgs),
    /// Send a pregenerated file to its endpoint and print the result as one JSON line.
    Run(run::RunArgs),
    /// Measure the crypto ceiling: 2 ES256 verifications + 1 ES256 signature per request.
    Crypto(crypto::CryptoArgs),
    /// Run full authorization code flows (PAR → authorize → sign-in (password or passkey) →
    /// consent → token).
    Flow(flow::FlowArgs),
    /// Write a throw-away client CA and client certificate for the `mtls` mode.
    MtlsPki(mtls::PkiArgs),
    /// Token requests with mTLS client authentication (tls_client_auth) and certificate-bound
    /// tokens, with keep-alive or a new TLS handshake per request; one JSON line.
    Mtls(mtls::MtlsArgs),
    /// Passkey verifications against Argon2id password checks per core (one JSON line).
    Passkeys(passkeys::PasskeyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Keys(a) => keys::run(&a),
        Command::Pregen(a) => pregen::run(&a),
        Command::Crypto(a) => crypto::run(&a),
        Command::Run(a) => with_runtime(a.threads, run::run(a)),
        Command::Flow(a) => with_runtime(a.threads, flow::run(a)),
        Command::MtlsPki(a) => mtls::pki(&a),
        Command::Mtls(a) => with_runtime(a.threads, mtls::run(a)),
        Command::Passkeys(a) => passkeys::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs `fut` on a Tokio runtime with `threads` worker threads (1: a current-thread runtime, so
/// the generator takes as little CPU as possible away from the server on a small machine).
fn with_runtime(
    threads: usize,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(fut)
}
