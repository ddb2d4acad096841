//! The key-encryption key of the embedded default: AES-256 derived from the master key, wrapping
//! with AES key wrap (RFC 3394) like the PKCS#11 KEK, so wrapped data keys look the same under
//! either and a vault can move to an HSM by re-wrapping.

use crate::{KeyEncryptionKey, KeyError, MasterKey};
use async_trait::async_trait;
use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey as AesKek, KeyWrap};
use std::fmt::{self, Debug};
use zeroize::Zeroizing;

/// A data key is 32 bytes; wrapped, 40 (RFC 3394 §2.2.1 adds one 64-bit block).
const DATA_KEY_LEN: usize = 32;
const WRAPPED_LEN: usize = DATA_KEY_LEN + 8;

pub struct LocalKek {
    version: String,
    key: Zeroizing<Vec<u8>>,
}

impl LocalKek {
    /// The KEK of generation `generation`: `MasterKey::derive("shonin kek v<generation>")`.
    pub fn derived(master: &MasterKey, generation: u32) -> Self {
        let secret = master.derive(&format!("shonin kek v{generation}"));
        LocalKek {
            version: format!("local:{generation}"),
            key: Zeroizing::new(secret.expose().to_vec()),
        }
    }

    fn kek(&self) -> Result<AesKek<aws_lc_rs::key_wrap::AesBlockCipher>, KeyError> {
        AesKek::new(&AES_256, &self.key).map_err(|_| KeyError::Wrap("AES-256 KEK".into()))
    }
}

impl Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKek")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl KeyEncryptionKey for LocalKek {
    fn version(&self) -> &str {
        &self.version
    }

    async fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, KeyError> {
        if key.len() != DATA_KEY_LEN {
            return Err(KeyError::Wrap("data keys are 32 bytes".into()));
        }
        let mut out = vec![0u8; WRAPPED_LEN];
        let n = self
            .kek()?
            .wrap(key, &mut out)
            .map_err(|_| KeyError::Wrap("AES key wrap failed".into()))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, KeyError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(KeyError::Wrap("a wrapped data key is 40 bytes".into()));
        }
        let mut out = vec![0u8; WRAPPED_LEN];
        let n = self
            .kek()?
            .unwrap(wrapped, &mut out)
            .map_err(|_| KeyError::Wrap("integrity check failed: another KEK, or tampered".into()))?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3394 §4.6: 256 bits of key data wrapped with a 256-bit KEK.
    #[tokio::test]
    async fn rfc_3394_section_4_6_vector() {
        let kek: Vec<u8> = (0u8..32).collect();
        let data = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let want =
            hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
        let k = LocalKek {
            version: "test".into(),
            key: Zeroizing::new(kek),
        };
        assert_eq!(k.wrap(&data).await.unwrap(), want);
        assert_eq!(k.unwrap(&want).await.unwrap(), data);
    }

    #[tokio::test]
    async fn generations_are_different_keys_and_tampering_fails() {
        let master = MasterKey::generate().unwrap();
        let one = LocalKek::derived(&master, 1);
        let two = LocalKek::derived(&master, 2);
        assert_eq!(one.version(), "local:1");
        let wrapped = one.wrap(&[5u8; 32]).await.unwrap();
        assert_eq!(one.unwrap(&wrapped).await.unwrap(), [5u8; 32]);
        assert!(two.unwrap(&wrapped).await.is_err());
        let mut bad = wrapped.clone();
        bad[3] ^= 0x80;
        assert!(one.unwrap(&bad).await.is_err());
        assert!(one.wrap(&[1u8; 31]).await.is_err());
        assert!(!format!("{one:?}").contains("key:"));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
