//! The card vault in the server: `[vault]` settings, the service every node builds the same way
//! (the fingerprint key is the HSM's or derives from the shared master key, as the local KEK), and the scopes of
//! its API (`routes/vault.rs`; client-side tokenization in `routes/vault_nonces.rs`).

use serde::{Deserialize, Serialize};
use shonin_keys::MacKey;
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
    /// A client token's life, seconds: 60 – 86400.
    pub client_token_ttl_seconds: u32,
    /// A payment nonce's life, seconds: 60 – 10800 (Braintree's nonces live 3 hours).
    pub nonce_ttl_seconds: u32,
    /// How long a CVV is held for the card's authorisation, seconds: 60 – 3600 (PCI DSS 3.3.2).
    pub cvv_hold_seconds: u32,
    /// How many payment nonces one client token may issue: 1 – 1000. A checkout page needs one
    /// per card it submits; the bound keeps a token lifted from a page from filling the vault.
    pub nonces_per_client_token: u32,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            card_retention_days: 3 * 365,
            client_token_ttl_seconds: 900,
            nonce_ttl_seconds: 600,
            cvv_hold_seconds: 900,
            nonces_per_client_token: 10,
        }
    }
}

impl VaultConfig {
    /// The rule the settings break, if any (`config.rs` reports it under `vault`).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=3650).contains(&self.card_retention_days) {
            return Err("card_retention_days must be between 1 and 3650");
        }
        if !(60..=86_400).contains(&self.client_token_ttl_seconds) {
            return Err("client_token_ttl_seconds must be between 60 and 86400");
        }
        if !(60..=10_800).contains(&self.nonce_ttl_seconds) {
            return Err("nonce_ttl_seconds must be between 60 and 10800");
        }
        if !(60..=3_600).contains(&self.cvv_hold_seconds) {
            return Err("cvv_hold_seconds must be between 60 and 3600");
        }
        if !(1..=1_000).contains(&self.nonces_per_client_token) {
            return Err("nonces_per_client_token must be between 1 and 1000");
        }
        Ok(())
    }
}

pub type CardVault = Vault<Store>;

/// Builds the vault over `store`, its fingerprints under `fingerprints` (`Keys::mac_key` of
/// `KeyPurpose::CardFingerprint`).
pub fn build(config: &VaultConfig, store: &Store, fingerprints: Arc<dyn MacKey>) -> Arc<CardVault> {
    Arc::new(Vault::new(
        store.clone(),
        fingerprints,
        VaultSettings {
            card_retention: time::Duration::days(i64::from(config.card_retention_days)),
            nonce_ttl: time::Duration::seconds(i64::from(config.nonce_ttl_seconds)),
            cvv_hold: time::Duration::seconds(i64::from(config.cvv_hold_seconds)),
            nonces_per_client_token: config.nonces_per_client_token,
        },
    ))
}
