//! An ES256 signer whose private key stays in the HSM.

use crate::Pkcs11Error;
use crate::worker::Pool;
use async_trait::async_trait;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use shonin_jose::{Alg, b64url_encode, jwk_thumbprint_sha256};
use shonin_keys::{KeyError, Signer};
use std::sync::Arc;

/// Signs with `CKM_ECDSA` over a SHA-256 digest computed here: the module returns r ‖ s, exactly
/// the JWS ES256 signature (RFC 7518 §3.4). The kid is the RFC 7638 thumbprint of the public key,
/// as for local keys.
pub struct HsmSigner {
    kid: String,
    jwk: serde_json::Value,
    handle: ObjectHandle,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for HsmSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmSigner")
            .field("kid", &self.kid)
            .field("alg", &"ES256")
            .finish_non_exhaustive()
    }
}

/// The public JWK of a P-256 key, without kid.
pub(crate) fn es256_jwk(x: &[u8], y: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(x),
        "y": b64url_encode(y),
    })
}

impl HsmSigner {
    pub(crate) fn new(
        mut jwk: serde_json::Value,
        handle: ObjectHandle,
        pool: Arc<Pool>,
    ) -> Result<Self, Pkcs11Error> {
        let kid = jwk_thumbprint_sha256(&jwk)
            .map_err(|e| Pkcs11Error::call("computing the key's thumbprint", e))?;
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), kid.clone().into());
            o.insert("alg".into(), "ES256".into());
            o.insert("use".into(), "sig".into());
        }
        Ok(HsmSigner {
            kid,
            jwk,
            handle,
            pool,
        })
    }

    pub fn kid_str(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }
}

#[async_trait]
impl Signer for HsmSigner {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn alg(&self) -> Alg {
        Alg::ES256
    }

    fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
        let digest = digest.as_ref().to_vec();
        let handle = self.handle;
        let signature = self
            .pool
            .run(move |s| {
                s.sign(&Mechanism::Ecdsa, handle, &digest)
                    .map_err(|e| Pkcs11Error::call("C_Sign", e))
            })
            .await?;
        if signature.len() != 64 {
            return Err(KeyError::Sign(format!(
                "the HSM returned a {}-byte ECDSA signature; ES256 needs 64 (r ‖ s)",
                signature.len()
            )));
        }
        Ok(signature)
    }
}
