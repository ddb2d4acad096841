//! `shonin txn …`: approval receipts. `verify` needs no server and no database, only the
//! receipt and the server's public keys, so an auditor or a court can check one; `receipt`
//! prints the one kept for a transaction.
#![allow(clippy::print_stdout)]

use crate::config::Config;
use crate::global_args::GlobalArgs;
use crate::{dev, runtime};
use anyhow::Context as _;
use clap::Subcommand;
use shonin_keys::KeySource;
use shonin_txn::receipt::{self, ReceiptStore};
use shonin_types::SystemClock;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum TxnCommand {
    /// Prove offline that a user's passkey signed exactly a receipt's payee and amount: checks
    /// the server's signature, recomputes the challenge from the transaction data, and checks
    /// the passkey assertion against it. Exit 0 if it holds, 1 if not.
    Verify {
        /// The receipt: the compact JWS, or a JSON object with a `receipt` member (the answer
        /// of `POST /transactions/{id}/approve`, or `GET /transactions/{id}`'s `approval`).
        receipt: PathBuf,
        /// The server's public keys as a JWK set (`shonin keys public`); without it, the
        /// local keyring's.
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// Print the receipt kept for transaction `id` (receipts outlive the transaction's record).
    Receipt { id: String },
}

pub async fn run(g: &GlobalArgs, config: &Config, cmd: TxnCommand) -> anyhow::Result<ExitCode> {
    crate::telemetry::cli_logging();
    match cmd {
        TxnCommand::Verify { receipt, jwks } => {
            let text = std::fs::read_to_string(&receipt)
                .with_context(|| format!("reading {}", receipt.display()))?;
            let jwks = match jwks {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?
                }
                None => {
                    if g.dev {
                        dev::prepare(&g.data_dir, config)?;
                    }
                    runtime::open_keys(config, Arc::new(SystemClock))?
                        .0
                        .verification_jwks()
                }
            };
            match receipt::verify(&receipt_text(&text), &jwks) {
                Ok(c) => {
                    println!("receipt holds: transaction {}", c.txn.id);
                    println!(
                        "  payee     {} ({})",
                        c.txn.payee.name,
                        c.txn.payee.account.display()
                    );
                    println!(
                        "  amount    {} {}",
                        c.txn.amount.canonical(),
                        c.txn.amount.currency().code()
                    );
                    if let Some(r) = &c.txn.reference {
                        println!("  reference {r}");
                    }
                    println!("  user      {} with passkey {}", c.user, c.credential.id);
                    println!(
                        "  challenge {} ({})",
                        c.linking.challenge, c.linking.encoding
                    );
                    if let Some(spc) = &c.spc {
                        println!(
                            "  via       Secure Payment Confirmation on {} (frame {}), \
                             instrument {}",
                            spc.top_origin, spc.origin, spc.instrument.display_name
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("receipt does NOT hold: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        TxnCommand::Receipt { id } => {
            if g.dev {
                dev::prepare(&g.data_dir, config)?;
            }
            let store = runtime::open_store(config).await?;
            let found = store.get_receipt(&id).await;
            store.close().await;
            match found? {
                Some(r) => {
                    println!("{}", r.receipt);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("no receipt for transaction {id}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// The JWS in `text`: the text itself, or the `receipt` member of a JSON object (also nested
/// in `approval`).
fn receipt_text(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v
            .get("receipt")
            .or_else(|| v.pointer("/approval/receipt"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Err(_) => text.trim().to_owned(),
    }
}
