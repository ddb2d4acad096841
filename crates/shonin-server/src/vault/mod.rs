//! The card vault in the server: `[vault]` settings, the service every node builds the same way
//! (the fingerprint key and the local KEK derive from the shared master key), and the scopes of
//! its API (`routes/vault.rs`).

use serde::{Deserialize, Serialize};
use shonin_keys::{KeyPurpose, LocalMacKey, MasterKey};
use shonin_store::Store;
use shonin_vault::{Vault, VaultSettings};
use std::sync::Arc;

/// Tokenize, show and delete a client's own cards.
pub const SCOPE: &str = "vault";
/// Read a card's number back. Granted to a client only by listing it in its registration.
pub const DETOKENIZE_SCOPE: &str = "vault:detokenize";

/// `[vault]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// A card is kept this many days after it was last stored: 1 – 3650 (PCI DSS 3.2.1).
    pub card_retention_days: u32,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            card_retention_days: 3 * 365,
        }
    }
}

impl VaultConfig {
    /// The rule the settings break, if any (`config.rs` reports it under `vault`).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=3650).contains(&self.card_retention_days) {
            return Err("card_retention_days must be between 1 and 3650");
        }
        Ok(())
    }
}

pub type CardVault = Vault<Store>;

/// Builds the vault over `store`.
pub fn build(config: &VaultConfig, store: &Store, master: &MasterKey) -> Arc<CardVault> {
    Arc::new(Vault::new(
        store.clone(),
        Arc::new(LocalMacKey::derived(master, KeyPurpose::CardFingerprint)),
        VaultSettings {
            card_retention: time::Duration::days(i64::from(config.card_retention_days)),
        },
    ))
}
