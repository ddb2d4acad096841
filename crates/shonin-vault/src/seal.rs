//! Envelope encryption of one record: a fresh AES-256-GCM data key, wrapped by the current KEK.

use crate::VaultError;
use aws_lc_rs::aead::{AES_256_GCM, Aad as GcmAad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use shonin_keys::KeyEncryptionKey;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a ciphertext is bound to (its GCM associated data): the record's kind, tenant, token and
/// the version of the KEK its data key is wrapped with.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub kind: &'static str,
    pub tenant: &'a str,
    pub token: &'a str,
}

impl Aad<'_> {
    /// Each part as its length (4 bytes, big-endian) and its bytes, after a version tag, so no two
    /// different bindings give the same bytes.
    fn bytes(&self, kek_version: &str) -> Vec<u8> {
        let mut out = b"shonin-vault-v1".to_vec();
        for part in [self.kind, self.tenant, self.token, kek_version] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// A sealed record: the wrapped data key, which KEK wrapped it, and nonce ‖ ciphertext ‖ tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub kek_version: String,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("kek_version", &self.kek_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey, VaultError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::Integrity("data key is not an AES-256 key"))
}

/// Encrypts `plaintext` under a new data key wrapped by `kek`.
pub async fn seal(
    kek: &dyn KeyEncryptionKey,
    aad: Aad<'_>,
    plaintext: &[u8],
) -> Result<Sealed, VaultError> {
    let mut dek = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(dek.as_mut_slice())
        .and_then(|()| aws_lc_rs::rand::fill(&mut nonce))
        .map_err(|_| shonin_keys::KeyError::Generate("data key".into()))?;
    let wrapped_key = kek.wrap(dek.as_slice()).await?;
    let kek_version = kek.version().to_owned();
    let mut buf = plaintext.to_vec();
    gcm_key(dek.as_slice())?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            GcmAad::from(aad.bytes(&kek_version)),
            &mut buf,
        )
        .map_err(|_| VaultError::Integrity("encryption failed"))?;
    let mut ciphertext = nonce.to_vec();
    ciphertext.extend_from_slice(&buf);
    Ok(Sealed {
        kek_version,
        wrapped_key,
        ciphertext,
    })
}

/// Finds the record's KEK among `keks`, unwraps its data key and decrypts. Fails if anything —
/// the wrapped key, the ciphertext, the tenant, the token or the KEK version — was changed.
pub async fn open(
    keks: &[Arc<dyn KeyEncryptionKey>],
    aad: Aad<'_>,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let kek = keks
        .iter()
        .find(|k| k.version() == sealed.kek_version)
        .ok_or_else(|| VaultError::MissingKek(sealed.kek_version.clone()))?;
    let dek = Zeroizing::new(
        kek.unwrap(&sealed.wrapped_key)
            .await
            .map_err(|_| VaultError::Integrity("the data key does not unwrap"))?,
    );
    let (nonce, body) = sealed
        .ciphertext
        .split_at_checked(NONCE_LEN)
        .ok_or(VaultError::Integrity("ciphertext too short"))?;
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Integrity("bad nonce"))?;
    let mut buf = Zeroizing::new(body.to_vec());
    let len = gcm_key(dek.as_slice())?
        .open_in_place(
            nonce,
            GcmAad::from(aad.bytes(&sealed.kek_version)),
            &mut buf,
        )
        .map_err(|_| VaultError::Integrity("authentication tag does not match"))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Wraps the record's data key again under `to` (rotation): the ciphertext stays, the data key
/// never leaves memory unwrapped for longer than this call.
pub async fn rewrap(
    keks: &[Arc<dyn KeyEncryptionKey>],
    to: &dyn KeyEncryptionKey,
    aad: Aad<'_>,
    sealed: &Sealed,
) -> Result<Sealed, VaultError> {
    // The version is part of the associated data, so the record is re-encrypted, not only
    // re-wrapped: open it, then seal it under `to` with a fresh data key.
    let plaintext = open(keks, aad, sealed).await?;
    seal(to, aad, &plaintext).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_keys::{LocalKek, MasterKey};

    fn keks() -> (Arc<dyn KeyEncryptionKey>, Arc<dyn KeyEncryptionKey>) {
        let m = MasterKey::generate().unwrap();
        (
            Arc::new(LocalKek::derived(&m, 1)),
            Arc::new(LocalKek::derived(&m, 2)),
        )
    }

    const AAD: Aad<'static> = Aad {
        kind: "card",
        tenant: "merchant-a",
        token: "tok_one",
    };

    #[tokio::test]
    async fn a_sealed_record_opens_only_with_its_own_binding() {
        let (k1, k2) = keks();
        let sealed = seal(k1.as_ref(), AAD, b"secret").await.unwrap();
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"secret"));
        let all = [k1.clone(), k2.clone()];
        assert_eq!(
            open(&all, AAD, &sealed).await.unwrap().as_slice(),
            b"secret"
        );
        for other in [
            Aad {
                token: "tok_two",
                ..AAD
            },
            Aad {
                tenant: "merchant-b",
                ..AAD
            },
            Aad { kind: "cvv", ..AAD },
        ] {
            assert!(matches!(
                open(&all, other, &sealed).await,
                Err(VaultError::Integrity(_))
            ));
        }
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.ciphertext.last_mut() {
            *b ^= 1;
        }
        assert!(open(&all, AAD, &tampered).await.is_err());
        // A record claiming another KEK version does not open either.
        let claimed = Sealed {
            kek_version: k2.version().into(),
            ..sealed.clone()
        };
        assert!(open(&all, AAD, &claimed).await.is_err());
        assert!(matches!(
            open(std::slice::from_ref(&k2), AAD, &sealed).await,
            Err(VaultError::MissingKek(_))
        ));
    }

    #[tokio::test]
    async fn rewrap_moves_a_record_to_the_new_kek() {
        let (k1, k2) = keks();
        let sealed = seal(k1.as_ref(), AAD, b"pan").await.unwrap();
        let all = [k1.clone(), k2.clone()];
        let moved = rewrap(&all, k2.as_ref(), AAD, &sealed).await.unwrap();
        assert_eq!(moved.kek_version, "local:2");
        assert_eq!(
            open(std::slice::from_ref(&k2), AAD, &moved)
                .await
                .unwrap()
                .as_slice(),
            b"pan"
        );
        assert!(open(std::slice::from_ref(&k1), AAD, &moved).await.is_err());
    }
}
