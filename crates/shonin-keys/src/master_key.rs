//! The master key that seals private keys in the keyring file.

use crate::KeyError;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use shonin_types::SecretBytes;
use std::fmt;
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

/// Length of the master key: an AES-256 key.
pub const MASTER_KEY_LEN: usize = 32;

/// A master key file is one line of base64; anything much larger is not one.
const MAX_FILE_LEN: u64 = 1024;

/// 32 secret bytes (AES-256-GCM key). `Debug` is redacted and the bytes are zeroized on drop.
#[derive(Clone)]
pub struct MasterKey(SecretBytes);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// Parses base64 (standard or URL-safe alphabet, padded or not) of exactly 32 bytes;
    /// surrounding whitespace is ignored. Errors describe the rule, never the text.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::MasterKey("it is empty".into()));
        }
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok().map(Zeroizing::new))
            .ok_or_else(|| KeyError::MasterKey("it is not base64".into()))?;
        if decoded.len() != MASTER_KEY_LEN {
            return Err(KeyError::MasterKey(format!(
                "it must decode to exactly {MASTER_KEY_LEN} bytes, not {}",
                decoded.len()
            )));
        }
        Ok(Self(SecretBytes::new(decoded.to_vec())))
    }

    /// Reads a master key file: at most 1 KiB of base64 (see [`MasterKey::parse`]). On unix the
    /// file must not be accessible by group or others (mode 0600 or stricter).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::MasterKeyFile {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        // Check the opened file, not the path, so a swap between check and read changes nothing.
        let meta = file
            .metadata()
            .map_err(|e| err(format!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(err("is not a regular file".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "is accessible by group or others (mode {mode:04o}); run `chmod 600` on it"
                )));
            }
        }
        if meta.len() > MAX_FILE_LEN {
            return Err(err(format!("is larger than {MAX_FILE_LEN} bytes")));
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_FILE_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|_| err("is not readable UTF-8 text".into()))?;
        Self::parse(&text).map_err(|e| match e {
            KeyError::MasterKey(reason) => err(reason),
            other => other,
        })
    }

    /// A fresh random master key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; MASTER_KEY_LEN]);
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| KeyError::Generate("no randomness for a master key".into()))?;
        Ok(Self(SecretBytes::new(bytes.to_vec())))
    }

    /// The key as standard padded base64, for writing a new (development) key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.expose()))
    }

    /// A 32-byte secret for one purpose, derived as HMAC-SHA256(master key, `label`), so every
    /// node sharing the master key derives the same value (e.g. the DPoP nonce key) and no
    /// purpose ever sees the master key itself.
    pub fn derive(&self, label: &str) -> SecretBytes {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.0.expose());
        SecretBytes::new(
            aws_lc_rs::hmac::sign(&key, label.as_bytes())
                .as_ref()
                .to_vec(),
        )
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_secrets_are_stable_per_label_and_differ_between_labels() {
        let k = MasterKey::generate().unwrap();
        assert_eq!(k.derive("a"), k.derive("a"));
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_eq!(k.derive("a").len(), 32);
        assert_ne!(k.derive("a").expose(), k.expose());
    }

    #[test]
    fn parses_standard_and_url_safe_base64_with_whitespace() {
        let bytes: Vec<u8> = (0xe0..=0xff).collect(); // forces '+' '/' vs '-' '_'
        for text in [
            STANDARD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            STANDARD_NO_PAD.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
        ] {
            let k = MasterKey::parse(&format!("  {text}\n")).unwrap();
            assert_eq!(k.expose(), bytes.as_slice());
        }
    }

    #[test]
    fn rejects_empty_non_base64_and_wrong_length() {
        let msg = |t: &str| MasterKey::parse(t).unwrap_err().to_string();
        assert!(msg(" \n").contains("empty"));
        assert!(msg("not base64!").contains("not base64"));
        assert!(msg(&STANDARD.encode([1u8; 31])).contains("exactly 32 bytes, not 31"));
        assert!(msg(&STANDARD.encode([1u8; 33])).contains("not 33"));
    }

    #[test]
    fn generated_key_round_trips_and_debug_is_redacted() {
        let k = MasterKey::generate().unwrap();
        let text = k.to_base64();
        assert_eq!(MasterKey::parse(&text).unwrap().expose(), k.expose());
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "MasterKey([REDACTED])");
        assert!(!dbg.contains(text.as_str()));
    }
}
