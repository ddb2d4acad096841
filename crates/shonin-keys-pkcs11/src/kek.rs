//! A key-encryption key that stays in the HSM: AES key wrap (RFC 3394, `CKM_AES_KEY_WRAP`).
//!
//! A data key made in software is imported as a short-lived session object, wrapped with
//! `C_WrapKey`, and destroyed; unwrapping makes a session object from the wrapped bytes and reads
//! its value back. The wrapped form is plain RFC 3394, the same as the local keyring's, so a vault
//! can move between keystores by re-wrapping.

use crate::Pkcs11Error;
use crate::worker::Pool;
use async_trait::async_trait;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use shonin_keys::{KeyEncryptionKey, KeyError};
use std::sync::Arc;
use zeroize::Zeroizing;

pub struct HsmKek {
    version: String,
    handle: ObjectHandle,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for HsmKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmKek")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl HsmKek {
    pub(crate) fn new(version: String, handle: ObjectHandle, pool: Arc<Pool>) -> Self {
        HsmKek {
            version,
            handle,
            pool,
        }
    }

    pub fn version_str(&self) -> &str {
        &self.version
    }
}

/// A session object holding a data key, destroyed when dropped.
struct Temporary<'a> {
    session: &'a Session,
    handle: ObjectHandle,
}

impl Drop for Temporary<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.session.destroy_object(self.handle) {
            tracing::warn!(error = %e, "PKCS#11: a temporary data-key object was not destroyed");
        }
    }
}

fn data_key_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

#[async_trait]
impl KeyEncryptionKey for HsmKek {
    fn version(&self) -> &str {
        &self.version
    }

    async fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, KeyError> {
        if key.len() != 32 {
            return Err(KeyError::Wrap("data keys are 32 bytes".into()));
        }
        let value = Zeroizing::new(key.to_vec());
        let kek = self.handle;
        let wrapped = self
            .pool
            .run(move |s| {
                let mut template = data_key_template();
                template.push(Attribute::Value(value.to_vec()));
                let handle = s
                    .create_object(&template)
                    .map_err(|e| Pkcs11Error::call("C_CreateObject", e))?;
                let tmp = Temporary { session: s, handle };
                s.wrap_key(&Mechanism::AesKeyWrap, kek, tmp.handle)
                    .map_err(|e| Pkcs11Error::call("C_WrapKey", e))
            })
            .await?;
        Ok(wrapped)
    }

    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, KeyError> {
        if wrapped.len() != 40 {
            return Err(KeyError::Wrap("a wrapped data key is 40 bytes".into()));
        }
        let wrapped = wrapped.to_vec();
        let kek = self.handle;
        let key = self
            .pool
            .run(move |s| {
                let handle = s
                    .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &data_key_template())
                    .map_err(|e| Pkcs11Error::call("C_UnwrapKey", e))?;
                let tmp = Temporary { session: s, handle };
                let attrs = s
                    .get_attributes(tmp.handle, &[AttributeType::Value])
                    .map_err(|e| Pkcs11Error::call("C_GetAttributeValue", e))?;
                attrs
                    .into_iter()
                    .find_map(|a| match a {
                        Attribute::Value(v) => Some(v),
                        _ => None,
                    })
                    .ok_or_else(|| Pkcs11Error::call("C_GetAttributeValue", "no CKA_VALUE"))
            })
            .await
            .map_err(|e| KeyError::Wrap(e.to_string()))?;
        if key.len() != 32 {
            return Err(KeyError::Wrap(
                "the unwrapped data key is not 32 bytes".into(),
            ));
        }
        Ok(key)
    }
}
