//! Signing keys for Shonin: the [`Signer`] trait, a local implementation on aws-lc-rs (ES256, PS256,
//! EdDSA), the keyring file encrypted under a master key, rotation and the published JWK set.
//!
//! A later crate feature adds a PKCS#11 implementation of [`Signer`]; nothing here may assume the
//! private key is in process memory. This crate performs file I/O only on the keyring file (and
//! its lock file) and the master key file. Private keys never appear in a `Debug` output, an
//! error message or a published JWK.

use async_trait::async_trait;
use shonin_jose::Alg;
use std::fmt::Debug;

mod error;
mod jwt;
mod keyring_file;
mod keyring_io;
mod local_signer;
mod master_key;
mod service;

pub use error::KeyError;
pub use jwt::sign_jwt;
pub use keyring_file::{
    KEYRING_FORMAT, KeyState, KeyringFile, MAX_KEYRING_LEN, parse_keyring_file,
};
pub use local_signer::{LocalSigner, RsaBits};
pub use master_key::{MASTER_KEY_LEN, MasterKey};
pub use service::{KeyInfo, KeyService, KeyringConfig, RotationReport};

/// A key that signs on Shonin's behalf. The private half may live in memory or in an HSM.
#[async_trait]
pub trait Signer: Send + Sync + Debug {
    /// The key id published in the JWK set and placed in JWS headers.
    fn kid(&self) -> &str;
    /// The JWS algorithm this key signs with.
    fn alg(&self) -> Alg;
    /// The public key as a JWK (RFC 7517) object, with `kid`, `alg` and `use: "sig"`.
    fn public_jwk(&self) -> &serde_json::Value;
    /// Signs `message` and returns the JWS signature bytes (ECDSA as raw r‖s, RFC 7518 §3.4).
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// Where services get the key to sign with now and the keys to verify old signatures with.
/// Implemented by the local keyring and, later, by the PKCS#11 keyring.
pub trait KeySource: Send + Sync + Debug {
    /// The key that signs new tokens and checkpoints.
    fn current_signer(&self) -> std::sync::Arc<dyn Signer>;
    /// The public JWK set served at `/jwks`: current, next and recently retired keys.
    fn published_jwks(&self) -> serde_json::Value;
    /// Every public key the keyring has ever held (`{"keys":[...]}`), for verifying old audit
    /// checkpoints long after the key stopped being published.
    fn verification_jwks(&self) -> serde_json::Value;
}
