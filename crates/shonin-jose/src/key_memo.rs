//! A bounded memo of parsed public keys.
//!
//! Turning key bytes into an aws-lc key (an `EVP_PKEY`, with the point checked to be on the curve
//! or the RSA modulus read) costs about a tenth of an ES256 verification, and a client signs
//! every client assertion and every DPoP proof with the same few keys. So the parsed key is kept
//! and reused. A memo entry is keyed by the algorithm and the key's exact bytes, after every rule
//! on the JWK has been applied; only successful parses are kept. A lookup therefore returns what
//! parsing the same bytes would return, and the memo changes no decision.
//!
//! Bounded: it holds at most [`CAPACITY`] keys and is emptied when full. Anyone can send a DPoP
//! proof with a fresh key; at worst, keys are then parsed on every use, as without the memo.

use crate::{Alg, JoseError};
use aws_lc_rs::signature::ParsedPublicKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Keys kept at most. A few per client in use; a DPoP key per client instance.
const CAPACITY: usize = 4096;

/// The memo's key: the algorithm and the bytes the key was parsed from.
type MemoKey = (Alg, Box<[u8]>);

/// Parsed keys by algorithm and bytes; see the module documentation.
pub(crate) struct KeyMemo {
    // The std HashMap's hasher has random keys: key bytes chosen by a client cannot be made to
    // collide on purpose.
    map: Mutex<HashMap<MemoKey, Arc<ParsedPublicKey>>>,
    capacity: usize,
}

impl KeyMemo {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The parsed key for `bytes` under `alg`: from the memo, or `parse(&bytes)`, then kept.
    pub(crate) fn parsed(
        &self,
        alg: Alg,
        bytes: Vec<u8>,
        parse: impl FnOnce(&[u8]) -> Result<ParsedPublicKey, JoseError>,
    ) -> Result<Arc<ParsedPublicKey>, JoseError> {
        let key: MemoKey = (alg, bytes.into_boxed_slice());
        if let Some(found) = self.lock().get(&key) {
            return Ok(Arc::clone(found));
        }
        // Parsed outside the lock: two threads may each parse the same key once; both results
        // are the same key.
        let fresh = Arc::new(parse(&key.1)?);
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, Arc::clone(&fresh));
        Ok(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemoKey, Arc<ParsedPublicKey>>> {
        // Insert and clear are whole operations, so a panic elsewhere while the lock was held
        // cannot have left the map half-changed: a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The process's memo, used by every verification.
pub(crate) fn parsed(
    alg: Alg,
    bytes: Vec<u8>,
    parse: impl FnOnce(&[u8]) -> Result<ParsedPublicKey, JoseError>,
) -> Result<Arc<ParsedPublicKey>, JoseError> {
    static MEMO: OnceLock<KeyMemo> = OnceLock::new();
    MEMO.get_or_init(|| KeyMemo::new(CAPACITY))
        .parsed(alg, bytes, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair};
    use std::cell::Cell;

    fn ed25519_public() -> Vec<u8> {
        let pair = Ed25519KeyPair::generate().expect("key");
        pair.public_key().as_ref().to_vec()
    }

    fn parse_counted(
        calls: &Cell<u32>,
    ) -> impl FnOnce(&[u8]) -> Result<ParsedPublicKey, JoseError> {
        move |b| {
            calls.set(calls.get() + 1);
            ParsedPublicKey::new(&ED25519, b).map_err(|_| JoseError::InvalidJwk("x"))
        }
    }

    #[test]
    fn a_key_is_parsed_once_and_then_found() {
        let memo = KeyMemo::new(8);
        let calls = Cell::new(0);
        let bytes = ed25519_public();
        let first = memo
            .parsed(Alg::EdDSA, bytes.clone(), parse_counted(&calls))
            .expect("parses");
        let second = memo
            .parsed(Alg::EdDSA, bytes, parse_counted(&calls))
            .expect("found");
        assert_eq!(calls.get(), 1);
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn the_algorithm_is_part_of_the_key() {
        let memo = KeyMemo::new(8);
        let calls = Cell::new(0);
        let bytes = ed25519_public();
        memo.parsed(Alg::EdDSA, bytes.clone(), parse_counted(&calls))
            .expect("parses");
        // The same bytes under another algorithm are not the memo's key: parsed afresh.
        let _ = memo.parsed(Alg::ES256, bytes, parse_counted(&calls));
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_failed_parse_is_not_kept() {
        let memo = KeyMemo::new(8);
        let bytes = ed25519_public();
        let refused = memo.parsed(Alg::EdDSA, bytes.clone(), |_| {
            Err(JoseError::InvalidJwk("x"))
        });
        assert!(matches!(refused, Err(JoseError::InvalidJwk("x"))));
        assert_eq!(memo.len(), 0);
        let calls = Cell::new(0);
        memo.parsed(Alg::EdDSA, bytes, parse_counted(&calls))
            .expect("parses");
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn the_memo_never_holds_more_than_its_capacity() {
        let memo = KeyMemo::new(4);
        for _ in 0..9 {
            let calls = Cell::new(0);
            memo.parsed(Alg::EdDSA, ed25519_public(), parse_counted(&calls))
                .expect("parses");
            assert!(memo.len() <= 4);
        }
        // 9 keys into room for 4: emptied at the 5th and the 9th, so the 9th is alone.
        assert_eq!(memo.len(), 1);
    }
}
