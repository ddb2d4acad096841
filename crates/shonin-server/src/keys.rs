//! The server's keys: the keyring file and, with `[keys.pkcs11]`, an HSM. This is the
//! [`KeySource`] every service signs and wraps through; which keystore serves a purpose is
//! decided here and nowhere else.

use crate::config::{Config, Pkcs11Config};
use anyhow::Context;
use secrecy::SecretString;
use shonin_keys::{
    KeyEncryptionKey, KeyError, KeyPurpose, KeyService, KeySource, LocalKek, LocalMacKey, MacKey,
    MasterKey, Signer,
};
use shonin_keys_pkcs11::{Hsm, HsmSettings, MAC_PURPOSES};
use std::sync::Arc;

/// The keyring, the HSM if one is configured, and the local key-encryption and MAC keys.
#[derive(Clone, Debug)]
pub struct Keys {
    pub keyring: KeyService,
    pub hsm: Option<Arc<Hsm>>,
    /// Used when the HSM holds no KEK.
    local_kek: Arc<LocalKek>,
    /// Derived from the master key for every MAC purpose; used when the HSM holds no MAC keys.
    local_macs: Vec<(KeyPurpose, Arc<LocalMacKey>)>,
    hsm_signs: bool,
    hsm_wraps: bool,
}

/// Reads the token PIN: `SHONIN_PKCS11_PIN` first, then `keys.pkcs11.pin_file`.
fn pin(p: &Pkcs11Config) -> anyhow::Result<SecretString> {
    if let Ok(pin) = std::env::var("SHONIN_PKCS11_PIN") {
        return Ok(SecretString::from(pin));
    }
    let Some(path) = &p.pin_file else {
        anyhow::bail!(
            "configuration key `keys.pkcs11.pin_file`: required unless SHONIN_PKCS11_PIN is set"
        );
    };
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "configuration key `keys.pkcs11.pin_file` ({})",
            path.display()
        )
    })?;
    Ok(SecretString::from(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// The HSM settings of `[keys.pkcs11]`, PIN read.
pub fn hsm_settings(p: &Pkcs11Config) -> anyhow::Result<HsmSettings> {
    Ok(HsmSettings {
        module: p.module.clone(),
        token_label: p.token_label.clone(),
        pin: pin(p)?,
        signing_key_label: p.signing_key_label.clone(),
        kek_label: p.kek_label.clone(),
        mac_key_label: p.mac_key_label.clone(),
        sessions: p.sessions,
        serialize_calls: p.serialize_calls,
    })
}

/// Opens the HSM of `[keys.pkcs11]`, if configured, failing with what is missing.
pub fn open_hsm(config: &Config) -> anyhow::Result<Option<Arc<Hsm>>> {
    let Some(p) = &config.keys.pkcs11 else {
        return Ok(None);
    };
    let hsm = Hsm::open(hsm_settings(p)?).context("opening the HSM (keys.pkcs11)")?;
    Ok(Some(Arc::new(hsm)))
}

impl Keys {
    pub fn new(keyring: KeyService, hsm: Option<Arc<Hsm>>, master: &MasterKey) -> Self {
        let hsm_signs = hsm.as_ref().is_some_and(|h| h.current_signer().is_some());
        let hsm_wraps = hsm.as_ref().is_some_and(|h| h.current_kek().is_some());
        Keys {
            keyring,
            hsm,
            local_kek: Arc::new(LocalKek::derived(master, 1)),
            local_macs: MAC_PURPOSES
                .iter()
                .map(|(p, _)| (*p, Arc::new(LocalMacKey::derived(master, *p))))
                .collect(),
            hsm_signs,
            hsm_wraps,
        }
    }

    /// Reloads the keyring file and lists the HSM's keys again (another node may have rotated).
    /// Blocking: call it from a blocking thread.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let file = self.keyring.reload_if_changed()?;
        let hsm = match &self.hsm {
            Some(h) => h.reload()?,
            None => false,
        };
        Ok(file || hsm)
    }

    /// The MAC key for `purpose` (card fingerprints, 3-D Secure authentication values,
    /// challenge codes): the HSM's with `keys.pkcs11.mac_key_label`, else the one derived from the
    /// master key. Every node of a deployment must use the same: stored fingerprints and issued
    /// authentication values depend on it.
    pub fn mac_key(&self, purpose: KeyPurpose) -> Result<Arc<dyn MacKey>, KeyError> {
        if let Some(k) = self.hsm.as_ref().and_then(|h| h.mac_key(purpose)) {
            return Ok(k);
        }
        self.local_macs
            .iter()
            .find(|(p, _)| *p == purpose)
            .map(|(_, k)| k.clone() as Arc<dyn MacKey>)
            .ok_or(KeyError::NoKeyForPurpose(purpose))
    }

    /// Where the signing keys are: "hsm" or "keyring".
    pub fn signing_keystore(&self) -> &'static str {
        if self.hsm_signs { "hsm" } else { "keyring" }
    }

    fn hsm_signer(&self) -> Option<Arc<dyn Signer>> {
        if !self.hsm_signs {
            return None;
        }
        let signer = self.hsm.as_ref()?.current_signer()?;
        Some(signer)
    }
}

impl KeySource for Keys {
    fn current_signer(&self) -> Arc<dyn Signer> {
        self.hsm_signer()
            .unwrap_or_else(|| self.keyring.current_signer())
    }

    fn signer_for(&self, purpose: KeyPurpose) -> Result<Arc<dyn Signer>, KeyError> {
        match purpose {
            KeyPurpose::Tokens | KeyPurpose::AuditCheckpoints => Ok(self.current_signer()),
            other => self.keyring.signer_for(other),
        }
    }

    /// The local KEK first (records sealed before the vault's KEK moved into the HSM still open,
    /// and `keys rotate-kek` moves them), then the HSM's, oldest first: the last wraps.
    fn key_encryption_keys(&self) -> Vec<Arc<dyn KeyEncryptionKey>> {
        let mut keks: Vec<Arc<dyn KeyEncryptionKey>> = vec![self.local_kek.clone()];
        if let (Some(h), true) = (&self.hsm, self.hsm_wraps) {
            keks.extend(h.keks().into_iter().map(|k| k as Arc<dyn KeyEncryptionKey>));
        }
        keks
    }

    /// With the HSM signing: its keys (current first), then the keyring's, so tokens the keyring
    /// signed before the move still verify until they expire.
    fn published_jwks(&self) -> serde_json::Value {
        let mut keys = match (&self.hsm, self.hsm_signs) {
            (Some(h), true) => h.public_jwks(),
            _ => Vec::new(),
        };
        keys.extend(jwk_list(self.keyring.published_jwks()));
        serde_json::json!({ "keys": keys })
    }

    fn verification_jwks(&self) -> serde_json::Value {
        let mut keys = match &self.hsm {
            Some(h) => h.public_jwks(),
            None => Vec::new(),
        };
        keys.extend(jwk_list(self.keyring.verification_jwks()));
        serde_json::json!({ "keys": keys })
    }
}

fn jwk_list(set: serde_json::Value) -> Vec<serde_json::Value> {
    match set {
        serde_json::Value::Object(mut o) => match o.remove("keys") {
            Some(serde_json::Value::Array(keys)) => keys,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
