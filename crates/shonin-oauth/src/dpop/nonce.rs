//! Stateless server-provided DPoP nonces (RFC 9449 §8).
//!
//! A nonce is `BASE64URL(version ‖ window ‖ HMAC-SHA256(key, label ‖ version ‖ window))` where
//! `window` is the number of whole windows since the Unix epoch. Every node holding the shared key
//! issues the same nonce within a window and accepts the nonces of the current and the previous
//! window, so no node keeps nonce state and a client may be served by any node.

use super::NonceRejection;
use crate::ConfigError;
use aws_lc_rs::hmac;
use shonin_jose::{b64url_decode, b64url_encode};
use shonin_types::SecretBytes;
use std::fmt;
use time::{Duration, OffsetDateTime};

/// Format version, the first byte of every nonce.
const VERSION: u8 = 1;
/// Domain separation: a key shared with other HMAC uses never yields a valid nonce for them.
const LABEL: &[u8] = b"shonin/dpop-nonce";
/// version (1) + window counter (8) + HMAC-SHA256 tag (32).
const NONCE_BYTES: usize = 1 + 8 + 32;

/// The key and window length of stateless DPoP nonces. Its `Debug` never shows the key.
pub struct NonceKey {
    key: hmac::Key,
    window_secs: i64,
}

impl NonceKey {
    /// Shortest accepted secret: the full strength of HMAC-SHA256.
    pub const MIN_SECRET_LEN: usize = 32;
    /// Default window: a nonce is accepted for 60–120 s after it is issued.
    pub const DEFAULT_WINDOW: Duration = Duration::seconds(60);

    /// A nonce key over `secret` (at least 32 random bytes, shared by every node) with windows
    /// of `window` (1 s to 1 h, whole seconds). A nonce issued at time t is accepted until the end
    /// of the window after the one containing t: between `window` and `2 × window`.
    pub fn new(secret: &SecretBytes, window: Duration) -> Result<Self, ConfigError> {
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(ConfigError::NonceSecretTooShort);
        }
        if window < Duration::SECOND || window > Duration::HOUR || window.subsec_nanoseconds() != 0
        {
            return Err(ConfigError::OutOfRange {
                setting: "DPoP nonce window",
                rule: "a whole number of seconds from 1 s to 1 h",
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
            window_secs: window.whole_seconds(),
        })
    }

    /// The nonce to send in `DPoP-Nonce` at `now`.
    pub fn issue(&self, now: OffsetDateTime) -> String {
        let counter = self.counter(now);
        let mut out = Vec::with_capacity(NONCE_BYTES);
        out.push(VERSION);
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(self.tag(counter).as_ref());
        b64url_encode(&out)
    }

    /// Whether `nonce` was issued by a holder of this key in the current or the previous window.
    pub fn check(&self, nonce: &str, now: OffsetDateTime) -> bool {
        self.classify(nonce, now).is_ok()
    }

    /// As [`NonceKey::check`], saying why a nonce is refused.
    pub(crate) fn classify(&self, nonce: &str, now: OffsetDateTime) -> Result<(), NonceRejection> {
        // Bounded before decoding: a valid nonce is 55 characters.
        if nonce.len() > 64 {
            return Err(NonceRejection::Invalid);
        }
        let bytes = b64url_decode(nonce).map_err(|_| NonceRejection::Invalid)?;
        let (version, rest) = bytes.split_first().ok_or(NonceRejection::Invalid)?;
        if *version != VERSION {
            return Err(NonceRejection::Invalid);
        }
        let (counter_bytes, tag) = rest
            .split_first_chunk::<8>()
            .ok_or(NonceRejection::Invalid)?;
        let counter = i64::from_be_bytes(*counter_bytes);
        let message = Self::message(counter);
        // Constant-time tag comparison (aws-lc-rs).
        hmac::verify(&self.key, &message, tag).map_err(|_| NonceRejection::Invalid)?;
        let current = self.counter(now);
        if counter == current || Some(counter) == current.checked_sub(1) {
            Ok(())
        } else if counter < current {
            Err(NonceRejection::Expired)
        } else {
            // Authentic but from a future window: a node's clock is far ahead. Treat as invalid so
            // the client is handed a nonce this node accepts.
            Err(NonceRejection::Invalid)
        }
    }

    fn counter(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().div_euclid(self.window_secs)
    }

    fn message(counter: i64) -> Vec<u8> {
        let mut m = Vec::with_capacity(LABEL.len() + 9);
        m.extend_from_slice(LABEL);
        m.push(VERSION);
        m.extend_from_slice(&counter.to_be_bytes());
        m
    }

    fn tag(&self, counter: i64) -> hmac::Tag {
        hmac::sign(&self.key, &Self::message(counter))
    }
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceKey")
            .field("key", &"[REDACTED]")
            .field("window_secs", &self.window_secs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn key(byte: u8) -> NonceKey {
        NonceKey::new(&SecretBytes::new(vec![byte; 32]), NonceKey::DEFAULT_WINDOW).unwrap()
    }

    #[test]
    fn a_nonce_is_accepted_in_its_window_and_the_next() {
        let k = key(1);
        let n = k.issue(T0);
        assert_eq!(n.len(), 55);
        assert!(k.check(&n, T0));
        assert!(k.check(&n, T0 + Duration::seconds(59)));
        assert!(k.check(&n, T0 + Duration::seconds(119)));
        assert_eq!(
            k.classify(&n, T0 + Duration::seconds(120)),
            Err(NonceRejection::Expired)
        );
    }

    #[test]
    fn another_node_with_the_same_key_accepts_the_nonce() {
        let (a, b) = (key(7), key(7));
        assert!(b.check(&a.issue(T0), T0 + Duration::seconds(30)));
        assert_eq!(a.issue(T0), b.issue(T0 + Duration::seconds(59)));
    }

    #[test]
    fn a_nonce_under_another_key_is_invalid() {
        let n = key(1).issue(T0);
        assert_eq!(key(2).classify(&n, T0), Err(NonceRejection::Invalid));
    }

    #[test]
    fn tampered_truncated_and_garbage_nonces_are_invalid() {
        let k = key(1);
        let n = k.issue(T0);
        let mut bytes = b64url_decode(&n).unwrap();
        // Move the counter forward without re-signing.
        bytes[8] ^= 1;
        let moved = b64url_encode(&bytes);
        bytes[8] ^= 1;
        bytes[40] ^= 0x80;
        let bad_tag = b64url_encode(&bytes);
        bytes[40] ^= 0x80;
        bytes[0] = 2;
        let bad_version = b64url_encode(&bytes);
        for bad in [
            moved.as_str(),
            bad_tag.as_str(),
            bad_version.as_str(),
            &n[..54],
            "",
            "nonce",
            "!!!!",
            &"A".repeat(200),
        ] {
            assert_eq!(k.classify(bad, T0), Err(NonceRejection::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn a_nonce_from_a_future_window_is_invalid() {
        let k = key(1);
        let n = k.issue(T0 + Duration::seconds(120));
        assert_eq!(k.classify(&n, T0), Err(NonceRejection::Invalid));
    }

    #[test]
    fn times_before_the_epoch_do_not_break_the_window_arithmetic() {
        let k = key(1);
        let t = datetime!(1960-01-01 0:00 UTC);
        assert!(k.check(&k.issue(t), t + Duration::seconds(60)));
    }

    #[test]
    fn short_secrets_and_odd_windows_are_configuration_errors() {
        let s = SecretBytes::new(vec![0; 31]);
        assert_eq!(
            NonceKey::new(&s, Duration::seconds(60)).unwrap_err(),
            ConfigError::NonceSecretTooShort
        );
        let s = SecretBytes::new(vec![0; 32]);
        for w in [
            Duration::ZERO,
            Duration::milliseconds(1500),
            Duration::hours(2),
            Duration::seconds(-60),
        ] {
            assert!(NonceKey::new(&s, w).is_err(), "{w}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", key(0x41));
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}
