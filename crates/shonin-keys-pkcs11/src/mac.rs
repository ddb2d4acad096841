//! A MAC key that stays in the HSM: HMAC-SHA256 (`CKM_SHA256_HMAC`, PKCS#11 v2.40 §2.21) over a
//! generic secret key. One key per purpose, labelled `<mac_key_label>/<purpose>`: card
//! fingerprints, 3-D Secure authentication values, challenge codes. The module returns the full
//! 32-byte tag, the same as a local HMAC-SHA256 under the same secret would.

use crate::Pkcs11Error;
use crate::worker::Pool;
use async_trait::async_trait;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use shonin_keys::{KeyError, KeyPurpose, MacKey};
use std::sync::Arc;

/// The purposes an HSM holds a MAC key for, and the suffix of each one's label.
pub const MAC_PURPOSES: [(KeyPurpose, &str); 3] = [
    (KeyPurpose::CardFingerprint, "card-fingerprints"),
    (
        KeyPurpose::ThreeDsAuthenticationValue,
        "3ds-authentication-values",
    ),
    (KeyPurpose::ChallengeCodes, "3ds-challenge-codes"),
];

/// The label of the MAC key for `suffix` under `mac_key_label`.
pub(crate) fn mac_label(mac_key_label: &str, suffix: &str) -> String {
    format!("{mac_key_label}/{suffix}")
}

pub struct HsmMacKey {
    key_id: String,
    purpose: KeyPurpose,
    handle: ObjectHandle,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for HsmMacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmMacKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl HsmMacKey {
    pub(crate) fn new(
        key_id: String,
        purpose: KeyPurpose,
        handle: ObjectHandle,
        pool: Arc<Pool>,
    ) -> Self {
        HsmMacKey {
            key_id,
            purpose,
            handle,
            pool,
        }
    }

    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }
}

#[async_trait]
impl MacKey for HsmMacKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn mac(&self, data: &[u8]) -> Result<[u8; 32], KeyError> {
        let data = data.to_vec();
        let key = self.handle;
        let tag = self
            .pool
            .run(move |s| {
                s.sign(&Mechanism::Sha256Hmac, key, &data)
                    .map_err(|e| Pkcs11Error::call("C_Sign (CKM_SHA256_HMAC)", e))
            })
            .await?;
        tag.try_into()
            .map_err(|_| KeyError::from(Pkcs11Error::call("C_Sign", "the tag is not 32 bytes")))
    }
}
