//! Opening a token, finding Shonin's keys on it, and making new ones.
//!
//! Keys are found by label. Several keys may share one label: each has a `CKA_ID` of 8 bytes of
//! its creation time (Unix seconds, big-endian) and 8 random bytes, so sorting by `CKA_ID` sorts by
//! age. For signing keys the newest is the *next* key (published, not yet signing) and the one
//! before it the *current* key, as with the local keyring; a single key is current. For
//! key-encryption keys the newest is current and the older ones still unwrap what they wrapped.

use crate::mac::{MAC_PURPOSES, mac_label};
use crate::worker::Pool;
use crate::{HsmKek, HsmMacKey, HsmSigner, Pkcs11Error};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use secrecy::SecretString;
use shonin_keys::{KeyPurpose, MacKey};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// DER of the P-256 curve's OID (1.2.840.10045.3.1.7), the `CKA_EC_PARAMS` of an ES256 key.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Where the keys are and how to reach them.
#[derive(Clone)]
pub struct HsmSettings {
    /// The vendor's PKCS#11 module (a shared library).
    pub module: PathBuf,
    /// The label of the token holding Shonin's keys.
    pub token_label: String,
    /// The token's user PIN.
    pub pin: SecretString,
    /// The label of the ES256 key pairs that sign tokens and audit checkpoints, if the HSM does.
    pub signing_key_label: Option<String>,
    /// The label of the AES-256 key-encryption keys of the card vault, if the HSM holds them.
    pub kek_label: Option<String>,
    /// The label prefix of the HMAC-SHA256 keys (card fingerprints, 3-D Secure authentication
    /// values, challenge codes: `<prefix>/<purpose>`), if the HSM holds them.
    pub mac_key_label: Option<String>,
    /// Sessions (and worker threads) opened on the token.
    pub sessions: usize,
    /// Make one PKCS#11 call at a time in this process. SoftHSM2 needs it: it answers
    /// `CKR_GENERAL_ERROR` when objects are created from two sessions at once (SoftHSMv2 issue
    /// 573); network HSMs do not.
    pub serialize_calls: bool,
}

impl std::fmt::Debug for HsmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmSettings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("signing_key_label", &self.signing_key_label)
            .field("kek_label", &self.kek_label)
            .field("mac_key_label", &self.mac_key_label)
            .field("sessions", &self.sessions)
            .field("serialize_calls", &self.serialize_calls)
            .finish_non_exhaustive()
    }
}

/// One key on the token, as `shonin keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmKeyInfo {
    pub label: String,
    /// `CKA_ID`, hex.
    pub id: String,
    /// The JWK kid (signing keys) or the key version (key-encryption keys).
    pub name: String,
    /// "signing" (ES256 key pair), "kek" (AES key wrap) or "mac" (HMAC-SHA256).
    pub kind: &'static str,
    /// "current", "next" or "retired" (signing keys); "current" or "previous" (key-encryption keys);
    /// "in use" (MAC keys: never rotated, since stored fingerprints depend on them).
    pub state: &'static str,
    /// Creation time read from the `CKA_ID`, Unix seconds; `None` for a key made elsewhere.
    pub created: Option<i64>,
}

#[derive(Default)]
struct Loaded {
    /// Oldest first.
    signers: Vec<(Vec<u8>, Arc<HsmSigner>)>,
    /// Oldest first.
    keks: Vec<(Vec<u8>, Arc<HsmKek>)>,
    /// One per purpose found (the oldest key of its label), with its `CKA_ID`.
    macs: Vec<(Vec<u8>, Arc<HsmMacKey>)>,
}

/// An open token: a pool of logged-in sessions and the keys found on it.
pub struct Hsm {
    settings: HsmSettings,
    pool: Arc<Pool>,
    loaded: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

type Contexts = Mutex<HashMap<PathBuf, Arc<Pkcs11>>>;

fn contexts() -> &'static Contexts {
    static CONTEXTS: OnceLock<Contexts> = OnceLock::new();
    CONTEXTS.get_or_init(Default::default)
}

/// Finalises every module this process loaded (`C_Finalize`, which also closes their sessions).
/// Call once, at the end of `main`, after the last use of any key; a key used after this fails
/// with a PKCS#11 error.
pub fn finalize() {
    let drained: Vec<Arc<Pkcs11>> = match contexts().lock() {
        Ok(mut map) => map.drain().map(|(_, ctx)| ctx).collect(),
        Err(_) => return,
    };
    for ctx in drained {
        if let Err(e) = Pkcs11::clone(&ctx).finalize() {
            tracing::warn!(error = %e, "PKCS#11 C_Finalize failed");
        }
    }
}

/// One context per module for the whole process: PKCS#11 allows `C_Initialize` once per
/// application (v2.40 §5.4), and tests open the same module many times.
fn context(module: &PathBuf) -> Result<Arc<Pkcs11>, Pkcs11Error> {
    let mut map = contexts()
        .lock()
        .map_err(|_| Pkcs11Error::call("opening the module", "lock poisoned"))?;
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    let err = |reason: String| Pkcs11Error::Module {
        module: module.display().to_string(),
        reason,
    };
    if !module.is_file() {
        return Err(err("no such file".into()));
    }
    let ctx = Pkcs11::new(module).map_err(|e| err(format!("cannot be loaded: {e}")))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(err(format!("C_Initialize failed: {e}"))),
    }
    let ctx = Arc::new(ctx);
    map.insert(module.clone(), ctx.clone());
    Ok(ctx)
}

impl Hsm {
    /// Loads the module, finds the token, logs in and finds the configured keys. Every failure
    /// names what is missing: the module, the token, the PIN or the key.
    pub fn open(settings: HsmSettings) -> Result<Self, Pkcs11Error> {
        let hsm = Self::open_for_setup(settings)?;
        hsm.require_configured_keys()?;
        Ok(hsm)
    }

    /// Opens the token like [`Hsm::open`] but without requiring the configured keys to exist:
    /// for making them (`shonin keys hsm-generate`).
    pub fn open_for_setup(settings: HsmSettings) -> Result<Self, Pkcs11Error> {
        let ctx = context(&settings.module)?;
        let module = settings.module.display().to_string();
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| Pkcs11Error::call("C_GetSlotList", e))?;
        let mut present = Vec::new();
        let mut found = None;
        for slot in slots {
            // A slot whose token cannot be read (being removed or re-initialised by another
            // process, a faulty reader) does not hide the others; it is named if ours is absent.
            let info = match ctx.get_token_info(slot) {
                Ok(info) if info.token_initialized() => info,
                Ok(_) => continue,
                Err(e) => {
                    present.push(format!("(slot {}: C_GetTokenInfo failed: {e})", slot.id()));
                    continue;
                }
            };
            let label = info.label().trim_end().to_owned();
            if label == settings.token_label && found.is_none() {
                found = Some(slot);
            }
            present.push(format!("{label:?}"));
        }
        let slot = found.ok_or_else(|| Pkcs11Error::NoToken {
            module,
            label: settings.token_label.clone(),
            present: if present.is_empty() {
                "none".into()
            } else {
                present.join(", ")
            },
        })?;
        {
            let session = ctx
                .open_ro_session(slot)
                .map_err(|e| Pkcs11Error::call("C_OpenSession", e))?;
            match session.login(UserType::User, Some(&settings.pin)) {
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => {
                    return Err(Pkcs11Error::Pin {
                        label: settings.token_label.clone(),
                        reason: e.to_string(),
                    });
                }
            }
            // Login state belongs to the application, not the session (PKCS#11 v2.40 §6.7.7);
            // keep this session open until the pool's are, so the login is not dropped with it.
            let pool = Pool::start(&ctx, slot, settings.sessions, settings.serialize_calls)?;
            let hsm = Hsm {
                settings,
                pool: Arc::new(pool),
                loaded: RwLock::new(Arc::default()),
            };
            hsm.reload()?;
            drop(session);
            Ok(hsm)
        }
    }

    fn require_configured_keys(&self) -> Result<(), Pkcs11Error> {
        let loaded = self.loaded();
        let missing = |what, label: &String| Pkcs11Error::MissingKey {
            token: self.settings.token_label.clone(),
            what,
            label: label.clone(),
        };
        if let Some(label) = &self.settings.signing_key_label
            && loaded.signers.is_empty()
        {
            return Err(missing("EC P-256 key pair", label));
        }
        if let Some(label) = &self.settings.kek_label
            && loaded.keks.is_empty()
        {
            return Err(missing("AES-256 secret key", label));
        }
        if let Some(prefix) = &self.settings.mac_key_label {
            for (purpose, suffix) in MAC_PURPOSES {
                if !loaded.macs.iter().any(|(_, k)| k.purpose() == purpose) {
                    return Err(missing(
                        "HMAC-SHA256 generic secret key",
                        &mac_label(prefix, suffix),
                    ));
                }
            }
        }
        Ok(())
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Lists the token's keys again (another node may have rotated). Returns whether anything
    /// changed.
    pub fn reload(&self) -> Result<bool, Pkcs11Error> {
        let signing = self.settings.signing_key_label.clone();
        let kek = self.settings.kek_label.clone();
        let mac = self.settings.mac_key_label.clone();
        let token = self.settings.token_label.clone();
        let pool = self.pool.clone();
        let (signers, keks, macs) = self.pool.run_blocking(move |s| {
            let mut signers = Vec::new();
            if let Some(label) = &signing {
                for (id, handle) in find(s, ObjectClass::PRIVATE_KEY, KeyType::EC, label)? {
                    let jwk = public_jwk(s, &token, label, &id)?;
                    signers.push((id, handle, jwk));
                }
            }
            let mut keks = Vec::new();
            if let Some(label) = &kek {
                for (id, handle) in find(s, ObjectClass::SECRET_KEY, KeyType::AES, label)? {
                    keks.push((id, handle));
                }
            }
            let mut macs = Vec::new();
            if let Some(prefix) = &mac {
                for (purpose, suffix) in MAC_PURPOSES {
                    let label = mac_label(prefix, suffix);
                    let found = find(s, ObjectClass::SECRET_KEY, KeyType::GENERIC_SECRET, &label)?;
                    // The oldest: a MAC key is not rotated (stored fingerprints depend on it).
                    if let Some((id, handle)) = found.into_iter().next() {
                        macs.push((purpose, label, id, handle));
                    }
                }
            }
            Ok((signers, keks, macs))
        })?;
        let signers = signers
            .into_iter()
            .map(|(id, handle, jwk)| {
                let signer = HsmSigner::new(jwk, handle, pool.clone())?;
                Ok((id, Arc::new(signer)))
            })
            .collect::<Result<Vec<_>, Pkcs11Error>>()?;
        let label = self.settings.kek_label.clone().unwrap_or_default();
        let keks = keks
            .into_iter()
            .map(|(id, handle)| {
                let version = format!("pkcs11:{label}:{}", hex(&id));
                (id, Arc::new(HsmKek::new(version, handle, pool.clone())))
            })
            .collect::<Vec<_>>();
        let macs = macs
            .into_iter()
            .map(|(purpose, label, id, handle)| {
                let key_id = format!("pkcs11:{label}:{}", hex(&id));
                let key = HsmMacKey::new(key_id, purpose, handle, pool.clone());
                (id, Arc::new(key))
            })
            .collect::<Vec<_>>();
        let before = self.loaded();
        let changed = before
            .signers
            .iter()
            .map(|(id, _)| id)
            .ne(signers.iter().map(|(id, _)| id))
            || before
                .keks
                .iter()
                .map(|(id, _)| id)
                .ne(keks.iter().map(|(id, _)| id))
            || before
                .macs
                .iter()
                .map(|(id, _)| id)
                .ne(macs.iter().map(|(id, _)| id));
        let mut guard = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(Loaded {
            signers,
            keks,
            macs,
        });
        Ok(changed)
    }

    /// The signer that signs now: the second-newest key, or the only one.
    pub fn current_signer(&self) -> Option<Arc<HsmSigner>> {
        let l = self.loaded();
        let n = l.signers.len();
        let i = n.saturating_sub(2);
        l.signers.get(i).map(|(_, s)| s.clone())
    }

    /// Every signing key's public JWK, current first, then next, then older ones.
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        let l = self.loaded();
        let mut keys: Vec<_> = l
            .signers
            .iter()
            .rev()
            .map(|(_, s)| s.jwk().clone())
            .collect();
        if keys.len() >= 2 {
            keys.swap(0, 1);
        }
        keys
    }

    /// The key-encryption key new data keys are wrapped with (the newest).
    pub fn current_kek(&self) -> Option<Arc<HsmKek>> {
        self.loaded().keks.last().map(|(_, k)| k.clone())
    }

    /// The MAC key for `purpose`, if the token holds one.
    pub fn mac_key(&self, purpose: KeyPurpose) -> Option<Arc<HsmMacKey>> {
        self.loaded()
            .macs
            .iter()
            .find(|(_, k)| k.purpose() == purpose)
            .map(|(_, k)| k.clone())
    }

    /// Every key-encryption key, oldest first.
    pub fn keks(&self) -> Vec<Arc<HsmKek>> {
        self.loaded().keks.iter().map(|(_, k)| k.clone()).collect()
    }

    /// The keys Shonin uses on the token.
    pub fn list(&self) -> Vec<HsmKeyInfo> {
        let l = self.loaded();
        let n = l.signers.len();
        let current = n.saturating_sub(2);
        let mut out = Vec::new();
        for (i, (id, s)) in l.signers.iter().enumerate() {
            out.push(HsmKeyInfo {
                label: self.settings.signing_key_label.clone().unwrap_or_default(),
                id: hex(id),
                name: s.kid_str().to_owned(),
                kind: "signing",
                state: match i {
                    i if i == current => "current",
                    i if i > current => "next",
                    _ => "retired",
                },
                created: created(id),
            });
        }
        let m = l.keks.len();
        for (i, (id, k)) in l.keks.iter().enumerate() {
            out.push(HsmKeyInfo {
                label: self.settings.kek_label.clone().unwrap_or_default(),
                id: hex(id),
                name: k.version_str().to_owned(),
                kind: "kek",
                state: if i + 1 == m { "current" } else { "previous" },
                created: created(id),
            });
        }
        for (id, k) in &l.macs {
            out.push(HsmKeyInfo {
                label: k.key_id().split(':').nth(1).unwrap_or_default().to_owned(),
                id: hex(id),
                name: k.purpose().as_str().to_owned(),
                kind: "mac",
                state: "in use",
                created: created(id),
            });
        }
        out
    }

    /// Makes a new ES256 key pair under the signing label: private key sensitive and never
    /// extractable, both token objects. With one key already there, the new one is the next key;
    /// with two or more, this is a rotation (the old next key becomes current).
    pub fn generate_signing_key(&self, now_unix: i64) -> Result<String, Pkcs11Error> {
        let label =
            self.settings.signing_key_label.clone().ok_or_else(|| {
                Pkcs11Error::call("generating a signing key", "no signing_key_label")
            })?;
        let id = self.new_id(now_unix, true)?;
        self.pool.run_blocking(move |s| {
            let public = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Label(label.clone().into_bytes()),
                Attribute::Id(id.clone()),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Label(label.into_bytes()),
                Attribute::Id(id),
            ];
            s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(|e| Pkcs11Error::call("C_GenerateKeyPair", e))?;
            Ok(())
        })?;
        self.reload()?;
        Ok(self
            .loaded()
            .signers
            .last()
            .map(|(_, s)| s.kid_str().to_owned())
            .unwrap_or_default())
    }

    /// Makes a new AES-256 key-encryption key under the KEK label (sensitive, never extractable,
    /// wrap and unwrap only). It becomes the current KEK; older ones keep unwrapping.
    pub fn generate_kek(&self, now_unix: i64) -> Result<String, Pkcs11Error> {
        let label = self
            .settings
            .kek_label
            .clone()
            .ok_or_else(|| Pkcs11Error::call("generating a KEK", "no kek_label"))?;
        let id = self.new_id(now_unix, false)?;
        let usage = vec![Attribute::Wrap(true), Attribute::Unwrap(true)];
        self.generate_secret(|| Mechanism::AesKeyGen, label, id, usage)?;
        self.reload()?;
        Ok(self
            .current_kek()
            .map(|k| k.version_str().to_owned())
            .unwrap_or_default())
    }

    /// Makes the HMAC-SHA256 keys the token lacks under the MAC label prefix (generic secrets of
    /// 32 bytes, sensitive, never extractable, sign and verify only); returns their key ids. Keys
    /// already there are kept: fingerprints stored under them must still match.
    pub fn generate_mac_keys(&self, now_unix: i64) -> Result<Vec<String>, Pkcs11Error> {
        let prefix = self
            .settings
            .mac_key_label
            .clone()
            .ok_or_else(|| Pkcs11Error::call("generating MAC keys", "no mac_key_label"))?;
        let mut made = Vec::new();
        for (purpose, suffix) in MAC_PURPOSES {
            if self.mac_key(purpose).is_some() {
                continue;
            }
            let label = mac_label(&prefix, suffix);
            let id = self.new_id(now_unix, false)?;
            let usage = vec![Attribute::Sign(true), Attribute::Verify(true)];
            self.generate_secret(|| Mechanism::GenericSecretKeyGen, label, id, usage)?;
            self.reload()?;
            if let Some(k) = self.mac_key(purpose) {
                made.push(k.key_id().to_owned());
            }
        }
        Ok(made)
    }

    /// Makes a 32-byte secret key with `mechanism` (a function: a `Mechanism` is not `Send`) on
    /// the token under `label` and `id`: a private token object,
    /// sensitive, never extractable, allowed only what `usage` sets (every other use of a secret
    /// key is refused explicitly).
    fn generate_secret(
        &self,
        mechanism: fn() -> Mechanism<'static>,
        label: String,
        id: Vec<u8>,
        usage: Vec<Attribute>,
    ) -> Result<(), Pkcs11Error> {
        self.pool.run_blocking(move |s| {
            let mut template = vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::ValueLen(32.into()),
                Attribute::Label(label.into_bytes()),
                Attribute::Id(id),
            ];
            let set = |a: &Attribute| {
                usage
                    .iter()
                    .any(|u| u.attribute_type() == a.attribute_type())
            };
            for denied in [
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
            ] {
                if !set(&denied) {
                    template.push(denied);
                }
            }
            template.extend(usage);
            s.generate_key(&mechanism(), &template)
                .map_err(|e| Pkcs11Error::call("C_GenerateKey", e))?;
            Ok(())
        })
    }

    /// A `CKA_ID` that sorts after every key of its kind on the token: its time is `now_unix`,
    /// or one second after the newest key's if that is not earlier (two keys made within one
    /// second, or a clock set back, must not change which key is current).
    fn new_id(&self, now_unix: i64, signing: bool) -> Result<Vec<u8>, Pkcs11Error> {
        let l = self.loaded();
        let newest = if signing {
            l.signers.last().map(|(id, _)| id)
        } else {
            l.keks.last().map(|(id, _)| id)
        };
        let at = newest
            .and_then(|id| created(id))
            .map_or(now_unix, |t| now_unix.max(t.saturating_add(1)));
        let mut id = at.to_be_bytes().to_vec();
        let random = self.pool.run_blocking(|s| {
            s.generate_random_vec(8)
                .map_err(|e| Pkcs11Error::call("C_GenerateRandom", e))
        })?;
        id.extend_from_slice(&random);
        Ok(id)
    }
}

/// The objects of `class` and `key_type` labelled `label`, sorted by `CKA_ID`.
fn find(
    s: &Session,
    class: ObjectClass,
    key_type: KeyType,
    label: &str,
) -> Result<Vec<(Vec<u8>, ObjectHandle)>, Pkcs11Error> {
    let template = [
        Attribute::Class(class),
        Attribute::KeyType(key_type),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let handles = s
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::call("C_FindObjects", e))?;
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let attrs = s
            .get_attributes(h, &[AttributeType::Id])
            .map_err(|e| Pkcs11Error::call("C_GetAttributeValue", e))?;
        let id = attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(id) => Some(id),
                _ => None,
            })
            .unwrap_or_default();
        out.push((id, h));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The public JWK of the key pair with this label and id, from its public key object.
fn public_jwk(
    s: &Session,
    token: &str,
    label: &str,
    id: &[u8],
) -> Result<serde_json::Value, Pkcs11Error> {
    let unusable = |reason: &str| Pkcs11Error::UnusableKey {
        token: token.to_owned(),
        label: label.to_owned(),
        reason: reason.to_owned(),
    };
    let template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    let handles = s
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::call("C_FindObjects", e))?;
    let handle = handles
        .first()
        .ok_or_else(|| unusable("its public key object (same label and CKA_ID) is missing"))?;
    let attrs = s
        .get_attributes(*handle, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| Pkcs11Error::call("C_GetAttributeValue", e))?;
    let (mut params, mut point) = (None, None);
    for a in attrs {
        match a {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if params.as_deref() != Some(&P256_PARAMS[..]) {
        return Err(unusable("not a P-256 key (ES256 needs P-256)"));
    }
    let point = point.ok_or_else(|| unusable("no CKA_EC_POINT"))?;
    let (x, y) = uncompressed_xy(&point)
        .ok_or_else(|| unusable("CKA_EC_POINT is not an uncompressed P-256 point"))?;
    Ok(crate::signer::es256_jwk(x, y))
}

/// `CKA_EC_POINT` is a DER OCTET STRING around `04 ‖ X ‖ Y` (PKCS#11 v2.40 §2.3.3); some modules
/// return the bare point. Either way, X and Y.
fn uncompressed_xy(point: &[u8]) -> Option<(&[u8], &[u8])> {
    let raw = match point {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        raw if raw.len() == 65 => raw,
        _ => return None,
    };
    match raw {
        [0x04, xy @ ..] => Some(xy.split_at(32)),
        _ => None,
    }
}

fn created(id: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = id.get(..8)?.try_into().ok()?;
    (id.len() == 16).then(|| i64::from_be_bytes(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ec_point_is_read_wrapped_or_bare() {
        let mut bare = vec![0x04];
        bare.extend([1u8; 32]);
        bare.extend([2u8; 32]);
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend(&bare);
        for p in [&bare, &wrapped] {
            let (x, y) = uncompressed_xy(p).unwrap();
            assert_eq!((x, y), (&[1u8; 32][..], &[2u8; 32][..]));
        }
        assert!(uncompressed_xy(&bare[..64]).is_none());
        let mut compressed = bare.clone();
        compressed[0] = 0x02;
        assert!(uncompressed_xy(&compressed).is_none());
    }

    #[test]
    fn an_id_made_here_carries_its_creation_time() {
        let mut id = 1_700_000_000i64.to_be_bytes().to_vec();
        id.extend([9u8; 8]);
        assert_eq!(created(&id), Some(1_700_000_000));
        assert_eq!(created(b"abc"), None);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
