//! A [`Signer`] whose private key is in process memory, on aws-lc-rs.

use crate::{KeyError, Signer};
use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PSS_SHA256,
    RsaKeyPair,
};
use serde_json::{Value, json};
use shonin_jose::{Alg, b64url_encode, jwk_thumbprint_sha256};
use shonin_types::SecretBytes;
use std::fmt;

/// RSA modulus sizes [`LocalSigner::generate_ps256`] can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBits {
    Rsa2048,
    Rsa3072,
}

/// Smallest and largest RSA moduli accepted from PKCS#8 (FAPI 2.0 §5.4.1 sets the floor).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

enum PrivateKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// An in-memory signing key: ES256 (P-256, signatures as raw r‖s), PS256 (RSA-PSS with SHA-256)
/// or EdDSA (Ed25519). Its `Debug` shows the kid and algorithm only.
pub struct LocalSigner {
    kid: String,
    alg: Alg,
    public_jwk: Value,
    key: PrivateKey,
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

impl LocalSigner {
    /// Generates a new key for `alg`; PS256 keys are RSA-3072 (keys that sign audit checkpoints
    /// must stay trustworthy past 2030, NIST SP 800-57 Part 1 §5.6.3). The kid is the key's
    /// RFC 7638 thumbprint.
    pub fn generate(alg: Alg) -> Result<Self, KeyError> {
        let gen_err = |_| KeyError::Generate(format!("aws-lc-rs could not generate an {alg} key"));
        let key = match alg {
            Alg::ES256 => PrivateKey::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(gen_err)?,
            ),
            Alg::PS256 => PrivateKey::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(gen_err)?),
            Alg::EdDSA => PrivateKey::Ed(Ed25519KeyPair::generate().map_err(gen_err)?),
        };
        Self::with_thumbprint_kid(alg, key)
    }

    /// Generates a PS256 key of the given size; the kid is its RFC 7638 thumbprint.
    pub fn generate_ps256(bits: RsaBits) -> Result<Self, KeyError> {
        let size = match bits {
            RsaBits::Rsa2048 => KeySize::Rsa2048,
            RsaBits::Rsa3072 => KeySize::Rsa3072,
        };
        let key = RsaKeyPair::generate(size)
            .map_err(|_| KeyError::Generate("aws-lc-rs could not generate an RSA key".into()))?;
        Self::with_thumbprint_kid(Alg::PS256, PrivateKey::Rsa(key))
    }

    fn with_thumbprint_kid(alg: Alg, key: PrivateKey) -> Result<Self, KeyError> {
        let bare = public_jwk(&key, alg, None)?;
        let kid = jwk_thumbprint_sha256(&bare)?;
        Self::assemble(kid, alg, key)
    }

    /// Loads a PKCS#8 (v1 or v2) private key for `alg` under `kid`. ES256 needs a P-256 key, PS256
    /// an RSA key of 2048 to 4096 bits, EdDSA an Ed25519 key.
    pub fn from_pkcs8(
        kid: impl Into<String>,
        alg: Alg,
        pkcs8_der: &[u8],
    ) -> Result<Self, KeyError> {
        let invalid = |reason| KeyError::InvalidPrivateKey { alg, reason };
        let key = match alg {
            Alg::ES256 => PrivateKey::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der)
                    .map_err(|_| invalid("not a PKCS#8 P-256 ECDSA key"))?,
            ),
            Alg::PS256 => {
                let k = RsaKeyPair::from_pkcs8(pkcs8_der)
                    .map_err(|_| invalid("not a PKCS#8 RSA key"))?;
                if !RSA_BITS.contains(&(k.public_modulus_len() * 8)) {
                    return Err(invalid("RSA modulus must be 2048 to 4096 bits"));
                }
                PrivateKey::Rsa(k)
            }
            Alg::EdDSA => PrivateKey::Ed(
                Ed25519KeyPair::from_pkcs8(pkcs8_der)
                    .map_err(|_| invalid("not a PKCS#8 Ed25519 key"))?,
            ),
        };
        Self::assemble(kid.into(), alg, key)
    }

    fn assemble(kid: String, alg: Alg, key: PrivateKey) -> Result<Self, KeyError> {
        let public_jwk = public_jwk(&key, alg, Some(&kid))?;
        Ok(Self {
            kid,
            alg,
            public_jwk,
            key,
        })
    }

    /// The private key as PKCS#8 DER, for sealing into the keyring. Never leaves this crate.
    pub(crate) fn to_pkcs8(&self) -> Result<SecretBytes, KeyError> {
        let fail = |_| KeyError::Generate("private key could not be exported as PKCS#8".into());
        let bytes = match &self.key {
            PrivateKey::Ec(k) => k.to_pkcs8v1().map_err(fail)?.as_ref().to_vec(),
            PrivateKey::Rsa(k) => {
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = k.as_der().map_err(fail)?;
                der.as_ref().to_vec()
            }
            PrivateKey::Ed(k) => k.to_pkcs8().map_err(fail)?.as_ref().to_vec(),
        };
        Ok(SecretBytes::new(bytes))
    }

    /// Signs `message` synchronously: the JWS signature bytes for this key's algorithm.
    pub fn sign_now(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.key {
            // RFC 7518 §3.4: ES256 signatures are the 64-byte r‖s, which *_FIXED_SIGNING produces.
            PrivateKey::Ec(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign("ECDSA signing failed".into())),
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PSS_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Sign("RSA-PSS signing failed".into()))?;
                Ok(sig)
            }
            PrivateKey::Ed(k) => k
                .try_sign(message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign("Ed25519 signing failed".into())),
        }
    }
}

/// The public JWK of `key` (RFC 7518 §6.2/§6.3, RFC 8037 §2), with `kid` (if given), `alg` and
/// `use: "sig"`.
fn public_jwk(key: &PrivateKey, alg: Alg, kid: Option<&str>) -> Result<Value, KeyError> {
    let mut jwk = match key {
        PrivateKey::Ec(k) => {
            // SEC 1 §2.3.3 uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each for P-256.
            let point = k.public_key().as_ref();
            let (x, y) = match point {
                [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                _ => {
                    return Err(KeyError::Generate(
                        "unexpected P-256 public key encoding".into(),
                    ));
                }
            };
            json!({"kty":"EC","crv":"P-256","x":b64url_encode(x),"y":b64url_encode(y)})
        }
        PrivateKey::Rsa(k) => {
            let pk = k.public_key();
            json!({"kty":"RSA",
                "n":b64url_encode(pk.modulus().big_endian_without_leading_zero()),
                "e":b64url_encode(pk.exponent().big_endian_without_leading_zero())})
        }
        PrivateKey::Ed(k) => {
            json!({"kty":"OKP","crv":"Ed25519","x":b64url_encode(k.public_key().as_ref())})
        }
    };
    if let (Some(kid), Value::Object(map)) = (kid, &mut jwk) {
        map.insert("kid".into(), Value::from(kid));
        map.insert("alg".into(), Value::from(alg.as_str()));
        map.insert("use".into(), Value::from("sig"));
    }
    Ok(jwk)
}

#[async_trait]
impl Signer for LocalSigner {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn alg(&self) -> Alg {
        self.alg
    }

    fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        // A software signature takes well under a millisecond (RSA-3072 a few), so it runs inline.
        self.sign_now(message)
    }
}
