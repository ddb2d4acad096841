//! Symmetric keys that compute MACs for one purpose and never hand out their bytes: the key an
//! ACS computes 3-D Secure authentication values with is one. The local implementation derives
//! the key from the master key, so every node sharing the master key computes the same values; an
//! HSM implementation keeps it in the HSM.

use std::fmt::{self, Debug};

use crate::{KeyError, KeyPurpose, MasterKey};
use async_trait::async_trait;

/// A MAC key for one purpose: HMAC-SHA256 (in an HSM, `CKM_SHA256_HMAC`). Callers compare MACs
/// in constant time. Async because an HSM answers from its own thread.
#[async_trait]
pub trait MacKey: Send + Sync + Debug {
    /// Names the key (its purpose and version) so a value can say which key made it.
    fn key_id(&self) -> &str;
    async fn mac(&self, data: &[u8]) -> Result<[u8; 32], KeyError>;
}

/// HMAC-SHA256 under a key derived from the master key for one purpose
/// (`MasterKey::derive("shonin mac v1 <purpose>")`). `Debug` shows the key id only.
pub struct LocalMacKey {
    key_id: String,
    key: aws_lc_rs::hmac::Key,
}

impl LocalMacKey {
    pub fn derived(master: &MasterKey, purpose: KeyPurpose) -> Self {
        let secret = master.derive(&format!("shonin mac v1 {}", purpose.as_str()));
        LocalMacKey {
            key_id: format!("local:{}", purpose.as_str().replace(' ', "-")),
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.expose()),
        }
    }
}

impl Debug for LocalMacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalMacKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MacKey for LocalMacKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn mac(&self, data: &[u8]) -> Result<[u8; 32], KeyError> {
        let tag = aws_lc_rs::hmac::sign(&self.key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_derived_key_is_stable_per_master_key_and_purpose() {
        let master = MasterKey::generate().unwrap();
        let a = LocalMacKey::derived(&master, KeyPurpose::ThreeDsAuthenticationValue);
        let b = LocalMacKey::derived(&master, KeyPurpose::ThreeDsAuthenticationValue);
        let other = LocalMacKey::derived(&master, KeyPurpose::AcsContentSigning);
        let x = a.mac(b"x").await.unwrap();
        assert_eq!(x, b.mac(b"x").await.unwrap());
        assert_ne!(x, other.mac(b"x").await.unwrap());
        assert_ne!(x, a.mac(b"y").await.unwrap());
        assert_eq!(a.key_id(), "local:3-D-Secure-authentication-values");
        assert!(!format!("{a:?}").contains("key:"), "{a:?}");
    }
}
