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
mod local_kek;
mod local_signer;
mod mac_key;
mod master_key;
mod service;

pub use error::KeyError;
pub use jwt::sign_jwt;
pub use keyring_file::{
    KEYRING_FORMAT, KeyState, KeyringFile, MAX_KEYRING_LEN, parse_keyring_file,
};
pub use local_kek::LocalKek;
pub use local_signer::{LocalSigner, RsaBits};
pub use mac_key::{LocalMacKey, MacKey};
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

/// What a signature is for. Each purpose gets its signer from [`KeySource::signer_for`], so an
/// operator can later hold, say, the 3-D Secure keys in an HSM while tokens stay on the local
/// keyring, without touching the code that signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Access tokens, ID tokens and signed introspection responses (the published JWK set).
    Tokens,
    /// The audit log's signed checkpoints.
    AuditCheckpoints,
    /// EMV 3-D Secure authentication values (CAVV) an ACS computes.
    ThreeDsAuthenticationValue,
    /// The ACS's signed content (the `acsSignedContent` JWS of an app-based challenge).
    AcsContentSigning,
    /// Keyed fingerprints of card numbers: a card is found by its number without the number
    /// being stored (PCI DSS 3.5.1: a keyed hash).
    CardFingerprint,
    /// The one-time codes of 3-D Secure challenges, kept only as a keyed hash (a six-digit code
    /// has too little entropy for a plain one).
    ChallengeCodes,
}

impl KeyPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Tokens => "tokens",
            KeyPurpose::AuditCheckpoints => "audit checkpoints",
            KeyPurpose::ThreeDsAuthenticationValue => "3-D Secure authentication values",
            KeyPurpose::AcsContentSigning => "ACS signed content",
            KeyPurpose::CardFingerprint => "card fingerprints",
            KeyPurpose::ChallengeCodes => "3-D Secure challenge codes",
        }
    }
}

impl std::fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key-encryption key that never leaves its keystore (the card vault wraps its data keys with
/// it: AES key wrap, RFC 3394): [`LocalKek`] derived from the master key, or one in a PKCS#11
/// token.
#[async_trait]
pub trait KeyEncryptionKey: Send + Sync + Debug {
    /// Identifies the key version a wrapped key was made with.
    fn version(&self) -> &str;
    async fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, KeyError>;
    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// Where services get the key to sign with now and the keys to verify old signatures with.
/// Implemented by the local keyring and, later, by the PKCS#11 keyring.
pub trait KeySource: Send + Sync + Debug {
    /// The keyring's current signing key (the one the published JWK set leads with).
    fn current_signer(&self) -> std::sync::Arc<dyn Signer>;
    /// The signer for `purpose`. The local keyring signs tokens and audit checkpoints with its
    /// current key and holds no 3-D Secure keys.
    fn signer_for(&self, purpose: KeyPurpose) -> Result<std::sync::Arc<dyn Signer>, KeyError> {
        match purpose {
            KeyPurpose::Tokens | KeyPurpose::AuditCheckpoints => Ok(self.current_signer()),
            other => Err(KeyError::NoKeyForPurpose(other)),
        }
    }
    /// The key-encryption keys this keystore holds, oldest first: the last wraps new data keys,
    /// the others still unwrap what they wrapped. The keyring file holds none (the server derives
    /// a [`LocalKek`] from the master key); a PKCS#11 token may.
    fn key_encryption_keys(&self) -> Vec<std::sync::Arc<dyn KeyEncryptionKey>> {
        Vec::new()
    }
    /// The public JWK set served at `/jwks`: current, next and recently retired keys.
    fn published_jwks(&self) -> serde_json::Value;
    /// Every public key the keyring has ever held (`{"keys":[...]}`), for verifying old audit
    /// checkpoints long after the key stopped being published.
    fn verification_jwks(&self) -> serde_json::Value;
}
