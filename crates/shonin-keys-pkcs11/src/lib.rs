//! Keys held in an HSM through PKCS#11 (the `cryptoki` crate): an ES256 [`Signer`] for tokens and
//! audit checkpoints, a [`KeyEncryptionKey`] (AES key wrap, RFC 3394) for the card vault's
//! data keys, and HMAC-SHA256 [`MacKey`]s for card fingerprints, 3-D Secure authentication values
//! and challenge codes. Private and secret keys never leave the module: Shonin asks it to sign, MAC, wrap
//! and unwrap, nothing else.
//!
//! PKCS#11 calls block, so every call runs on a small pool of dedicated threads, each with its own
//! session (a session is not to be shared between threads, PKCS#11 v2.40 §5.2); async callers wait
//! on a reply channel and never block the runtime. SoftHSM2 runs the tests; any vendor module
//! (CloudHSM, Luna, nShield, a YubiHSM's PKCS#11 module) is configured the same way.
//!
//! [`Signer`]: shonin_keys::Signer
//! [`KeyEncryptionKey`]: shonin_keys::KeyEncryptionKey
//! [`MacKey`]: shonin_keys::MacKey

mod error;
mod kek;
mod keys;
mod mac;
mod signer;
mod worker;

pub use error::Pkcs11Error;
pub use kek::HsmKek;
pub use keys::{Hsm, HsmKeyInfo, HsmSettings, finalize};
pub use mac::{HsmMacKey, MAC_PURPOSES};
pub use signer::HsmSigner;
