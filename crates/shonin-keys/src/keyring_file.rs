//! The keyring file format `shonin-keyring-v1`: parsing with every structural rule checked, and
//! sealing private keys under the master key.
//!
//! ```json
//! {"format":"shonin-keyring-v1","keys":[{"kid":"…","alg":"ES256","state":"current",
//!   "created_at":"…","activated_at":"…","public_jwk":{…},"sealed_private":"…"}]}
//! ```

use crate::{KeyError, LocalSigner, MasterKey, Signer};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shonin_jose::{Alg, b64url_decode, b64url_encode, jwk_thumbprint_sha256};
use shonin_types::SecretBytes;
use std::collections::HashSet;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The value of the `format` member.
pub const KEYRING_FORMAT: &str = "shonin-keyring-v1";

/// The largest keyring file accepted: thousands of retired public keys fit in far less.
pub const MAX_KEYRING_LEN: usize = 1024 * 1024;

const MAX_KID_LEN: usize = 128;

/// Where a key is in its life: `next` (published, not yet signing), `current` (signing) or
/// `retired` (public half kept for verification, private half destroyed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Current,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyEntry {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retired_at: Option<OffsetDateTime>,
    pub public_jwk: Value,
    /// base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag) of the PKCS#8 private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_private: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    format: String,
    keys: Vec<KeyEntry>,
}

/// A keyring file that passed every structural rule. Private keys are still sealed.
#[derive(Clone, PartialEq)]
pub struct KeyringFile {
    pub(crate) keys: Vec<KeyEntry>,
}

impl std::fmt::Debug for KeyringFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Kids and states only: sealed blobs are ciphertext, but logs have no use for them.
        f.debug_list().entries(self.keys()).finish()
    }
}

impl KeyringFile {
    /// `(kid, alg, state)` of every key, in file order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, Alg, KeyState)> {
        self.keys.iter().map(|k| (k.kid.as_str(), k.alg, k.state))
    }

    pub(crate) fn the(&self, state: KeyState) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.state == state)
    }

    /// Serialises for writing, re-checking the rules so we never write a file we would refuse.
    pub(crate) fn to_bytes(&self, path: &str) -> Result<Vec<u8>, KeyError> {
        check(&self.keys, path)?;
        let repr = FileRepr {
            format: KEYRING_FORMAT.to_owned(),
            keys: self.keys.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&repr).map_err(|e| KeyError::Keyring {
            path: path.to_owned(),
            reason: format!("could not be serialised: {e}"),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Parses and checks a keyring file's bytes without decrypting anything. Exposed for fuzzing.
pub fn parse_keyring_file(bytes: &[u8]) -> Result<KeyringFile, KeyError> {
    parse_at(bytes, "(in memory)")
}

pub(crate) fn parse_at(bytes: &[u8], path: &str) -> Result<KeyringFile, KeyError> {
    let fail = |reason: String| KeyError::Keyring {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() > MAX_KEYRING_LEN {
        return Err(fail(format!("is larger than {MAX_KEYRING_LEN} bytes")));
    }
    let repr: FileRepr = serde_json::from_slice(bytes)
        .map_err(|e| fail(format!("is not a valid {KEYRING_FORMAT} document: {e}")))?;
    if repr.format != KEYRING_FORMAT {
        return Err(fail(format!("\"format\" must be \"{KEYRING_FORMAT}\"")));
    }
    check(&repr.keys, path)?;
    Ok(KeyringFile { keys: repr.keys })
}

/// Every rule of the format, each with its own message.
fn check(keys: &[KeyEntry], path: &str) -> Result<(), KeyError> {
    let fail = |reason: String| KeyError::Keyring {
        path: path.to_owned(),
        reason,
    };
    let mut kids = HashSet::new();
    for k in keys {
        if k.kid.is_empty()
            || k.kid.len() > MAX_KID_LEN
            || !k
                .kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(fail(format!(
                "a kid must be 1 to {MAX_KID_LEN} characters of A-Z a-z 0-9 - _ ."
            )));
        }
        let kid = &k.kid;
        if !kids.insert(kid.as_str()) {
            return Err(fail(format!("kid {kid} appears more than once")));
        }
        shonin_jose::validate_public_jwk(&k.public_jwk, k.alg).map_err(|e| {
            fail(format!(
                "key {kid}: public_jwk is not a public {} key: {e}",
                k.alg
            ))
        })?;
        if k.public_jwk.get("kid").and_then(Value::as_str) != Some(kid) {
            return Err(fail(format!("key {kid}: public_jwk.kid must equal kid")));
        }
        if k.public_jwk.get("alg").and_then(Value::as_str) != Some(k.alg.as_str()) {
            return Err(fail(format!("key {kid}: public_jwk.alg must equal alg")));
        }
        let (needs_activated, needs_retired, needs_private) = match k.state {
            KeyState::Next => (false, false, true),
            KeyState::Current => (true, false, true),
            // Retired keys never sign again, so their private half must be gone.
            KeyState::Retired => (true, true, false),
        };
        let state = format!("{:?}", k.state).to_lowercase();
        if k.activated_at.is_some() != needs_activated {
            return Err(fail(format!(
                "key {kid}: a {state} key must {}have activated_at",
                if needs_activated { "" } else { "not " }
            )));
        }
        if k.retired_at.is_some() != needs_retired {
            return Err(fail(format!(
                "key {kid}: a {state} key must {}have retired_at",
                if needs_retired { "" } else { "not " }
            )));
        }
        if k.sealed_private.is_some() != needs_private {
            return Err(fail(format!(
                "key {kid}: a {state} key must {}have sealed_private",
                if needs_private { "" } else { "not " }
            )));
        }
        if k.activated_at.is_some_and(|a| a < k.created_at)
            || matches!((k.activated_at, k.retired_at), (Some(a), Some(r)) if r < a)
        {
            return Err(fail(format!(
                "key {kid}: created_at <= activated_at <= retired_at must hold"
            )));
        }
    }
    for state in [KeyState::Current, KeyState::Next] {
        let n = keys.iter().filter(|k| k.state == state).count();
        if n != 1 {
            let name = format!("{state:?}").to_lowercase();
            return Err(fail(format!(
                "exactly one {name} key is required, found {n}"
            )));
        }
    }
    Ok(())
}

/// Additional data binding a sealed key to its entry, so a blob moved to another entry (other kid
/// or algorithm) fails to open. NUL separates the parts; kids cannot contain it.
fn aad(kid: &str, alg: Alg) -> Vec<u8> {
    let mut aad = Vec::with_capacity(KEYRING_FORMAT.len() + kid.len() + 8);
    aad.extend_from_slice(KEYRING_FORMAT.as_bytes());
    aad.push(0);
    aad.extend_from_slice(kid.as_bytes());
    aad.push(0);
    aad.extend_from_slice(alg.as_str().as_bytes());
    aad
}

fn cipher(master: &MasterKey) -> Result<LessSafeKey, KeyError> {
    let key = UnboundKey::new(&AES_256_GCM, master.expose()).map_err(|_| KeyError::Decrypt)?;
    Ok(LessSafeKey::new(key))
}

/// Seals `signer`'s private key: base64url(random 96-bit nonce ‖ ciphertext ‖ tag). Random nonces
/// are safe here: one key seals only a handful of blobs per rotation (NIST SP 800-38D §8.3).
pub(crate) fn seal(master: &MasterKey, signer: &LocalSigner) -> Result<String, KeyError> {
    let pkcs8 = signer.to_pkcs8()?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| KeyError::Generate("no randomness for a nonce".into()))?;
    let mut buf = Zeroizing::new(pkcs8.expose().to_vec());
    cipher(master)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(signer.kid(), signer.alg())),
            &mut *buf,
        )
        .map_err(|_| KeyError::Generate("sealing the private key failed".into()))?;
    let mut blob = Vec::with_capacity(NONCE_LEN + buf.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&buf);
    Ok(b64url_encode(&blob))
}

/// Opens `entry`'s sealed key and checks it matches the entry's public JWK.
pub(crate) fn unseal(master: &MasterKey, entry: &KeyEntry) -> Result<LocalSigner, KeyError> {
    let blob = entry.sealed_private.as_deref().ok_or(KeyError::Decrypt)?;
    let blob = b64url_decode(blob).map_err(|_| KeyError::Decrypt)?;
    let (nonce, ciphertext) = blob.split_at_checked(NONCE_LEN).ok_or(KeyError::Decrypt)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Decrypt)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let plain = cipher(master)?
        .open_in_place(nonce, Aad::from(aad(&entry.kid, entry.alg)), &mut buf)
        .map_err(|_| KeyError::Decrypt)?;
    let pkcs8 = SecretBytes::new(plain.to_vec());
    let signer = LocalSigner::from_pkcs8(entry.kid.clone(), entry.alg, pkcs8.expose())?;
    // The AEAD covers the private key, not public_jwk: compare them so a swapped public key
    // cannot be published beside a private key that does not match it.
    let stored = jwk_thumbprint_sha256(&entry.public_jwk)?;
    let derived = jwk_thumbprint_sha256(signer.public_jwk())?;
    if stored != derived {
        return Err(KeyError::PublicKeyMismatch {
            kid: entry.kid.clone(),
        });
    }
    Ok(signer)
}

/// A new `next` entry for `signer`, created at `now`.
pub(crate) fn new_entry(
    master: &MasterKey,
    signer: &LocalSigner,
    now: OffsetDateTime,
) -> Result<KeyEntry, KeyError> {
    Ok(KeyEntry {
        kid: signer.kid().to_owned(),
        alg: signer.alg(),
        state: KeyState::Next,
        created_at: now,
        activated_at: None,
        retired_at: None,
        public_jwk: signer.public_jwk().clone(),
        sealed_private: Some(seal(master, signer)?),
    })
}
