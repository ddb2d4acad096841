//! Recovery codes: the way back in when every passkey is lost. Shown once, stored as SHA-256
//! hashes, each usable once; the server counts wrong codes into the account's sign-in lockout.
//!
//! A code is 16 characters from a 32-symbol alphabet without look-alikes (80 bits), printed in
//! four groups (`7KQ4-M2XD-9RTB-HV3C`). With that much entropy a fast hash is enough: an offline
//! search of 2^80 is out of reach, unlike a password's. Input is normalised before hashing
//! (case folded, spaces and dashes dropped, `O`→`0`, `I`/`L`→`1`), so a code read aloud or
//! retyped still matches.

use crate::error::PasskeyError;
use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use shonin_types::StorageError;
use time::OffsetDateTime;

/// How many codes one generation makes.
pub const RECOVERY_CODE_COUNT: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_CHARS: usize = 16;

/// Storage of recovery code hashes; implemented by `shonin-store`.
#[async_trait]
pub trait RecoveryCodeStore: Send + Sync + std::fmt::Debug {
    /// Replaces every code of the user with these hashes (one transaction).
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<(), StorageError>;

    /// Marks the unused code with this hash as used; `false` if there is none (wrong or used).
    /// Atomic: two concurrent uses of one code cannot both succeed.
    async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// How many unused codes the user has.
    async fn unused_recovery_codes(&self, user_id: &str) -> Result<u32, StorageError>;
}

/// A fresh set of codes (for the user to see once) and their hashes (to store).
pub fn generate_recovery_codes() -> Result<(Vec<String>, Vec<[u8; 32]>), PasskeyError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut hashes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let mut raw = [0u8; CODE_CHARS];
        aws_lc_rs::rand::fill(&mut raw)
            .map_err(|_| PasskeyError::Internal("no randomness for recovery codes".into()))?;
        let plain: String = raw
            .iter()
            .map(|b| char::from(ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'0')))
            .collect();
        hashes.push(hash_code(&plain).ok_or_else(|| {
            PasskeyError::Internal("a generated recovery code does not normalise".into())
        })?);
        codes.push(group(&plain));
    }
    Ok((codes, hashes))
}

/// `XXXX-XXXX-XXXX-XXXX`.
fn group(plain: &str) -> String {
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The hash of a typed code, or `None` if it cannot be a code (wrong length or characters).
pub fn hash_code(input: &str) -> Option<[u8; 32]> {
    if input.len() > 64 {
        return None;
    }
    let mut plain = String::with_capacity(CODE_CHARS);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        plain.push(c);
    }
    if plain.len() != CODE_CHARS {
        return None;
    }
    digest(&SHA256, plain.as_bytes()).as_ref().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_grouped_and_match_their_hash_when_retyped() {
        let (codes, hashes) = generate_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let unique: std::collections::BTreeSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        for (code, hash) in codes.iter().zip(&hashes) {
            assert_eq!(code.len(), 19);
            assert_eq!(code.matches('-').count(), 3);
            assert_eq!(hash_code(code).as_ref(), Some(hash));
            let retyped = code
                .to_lowercase()
                .replace('-', " ")
                .replace('0', "o")
                .replace('1', "l");
            assert_eq!(hash_code(&retyped).as_ref(), Some(hash));
        }
        assert_eq!(hash_code("short"), None);
        assert_eq!(
            hash_code("UUUU-UUUU-UUUU-UUUU"),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(hash_code(&"A".repeat(65)), None);
        assert_eq!(hash_code("ÄAAA-AAAA-AAAA-AAAA"), None);
    }
}
