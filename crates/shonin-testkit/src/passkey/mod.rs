//! A software passkey: a platform authenticator holding discoverable ES256 credentials, plus the
//! browser around it that turns the relying party's options JSON into what
//! `PublicKeyCredential.toJSON()` returns (WebAuthn L3 §5.1, §6.1, §6.5, §8.7 "none").
//!
//! The client's own checks — that the origin may use the RP ID, that a person consented — are
//! deliberately left out: `origin` is whatever the test says the browser saw, and the public
//! knobs on [`Authenticator`] make it claim whatever flags and counters a test needs, so a relying
//! party's rejections can be exercised.
//!
//! ```
//! use serde_json::json;
//! use shonin_testkit::Authenticator;
//!
//! let mut authenticator = Authenticator::new([0; 16]);
//! let creation = json!({"publicKey": {
//!     "rp": {"id": "localhost", "name": "Shonin"},
//!     "user": {"id": "AQID", "name": "alice", "displayName": "Alice"},
//!     "challenge": "c2VydmVyIGNoYWxsZW5nZQ",
//!     "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
//! }});
//! let registration = authenticator.register(&creation, "https://localhost:8443")?;
//! assert_eq!(registration["type"], "public-key");
//!
//! let request = json!({"publicKey": {"challenge": "AAEC", "rpId": "localhost"}});
//! let assertion = authenticator.authenticate(&request, "https://localhost:8443")?;
//! assert_eq!(assertion["id"], registration["id"]);
//! assert_eq!(assertion["response"]["userHandle"], "AQID");
//! # Ok::<(), shonin_testkit::Error>(())
//! ```

mod authenticator_data;
mod base64url;
mod client_data;
mod error;
mod options;

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SystemRandom, fill};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use authenticator_data::{
    BE, BS, COSE_ES256, CREDENTIAL_ID_LEN, UP, UV, attested_credential_data, authenticator_data,
    none_attestation_object, p256_spki,
};
use client_data::{Ceremony, client_data_json};
pub use error::Error;
use options::{CreationOptions, RequestOptions};

/// One discoverable credential: an ES256 key pair scoped to an RP ID and a user handle.
pub struct SoftPasskey {
    key_pair: EcdsaKeyPair,
    credential_id: [u8; CREDENTIAL_ID_LEN],
    rp_id: String,
    user_handle: Vec<u8>,
    sign_count: u32,
}

impl SoftPasskey {
    /// The credential ID (32 random bytes).
    pub fn credential_id(&self) -> &[u8] {
        &self.credential_id
    }

    /// The credential ID as it appears in `id` and `rawId`: base64url without padding.
    pub fn credential_id_b64(&self) -> String {
        base64url::encode(&self.credential_id)
    }

    /// The RP ID the credential was created for.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// `user.id` from the creation options, returned as `userHandle` in assertions.
    pub fn user_handle(&self) -> &[u8] {
        &self.user_handle
    }

    /// The signature counter as of the last ceremony.
    pub fn sign_count(&self) -> u32 {
        self.sign_count
    }

    /// The public key as an uncompressed SEC 1 point (0x04 ‖ x ‖ y).
    pub fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }
}

impl fmt::Debug for SoftPasskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key is left out.
        f.debug_struct("SoftPasskey")
            .field("credential_id", &self.credential_id_b64())
            .field("rp_id", &self.rp_id)
            .field("user_handle", &base64url::encode(&self.user_handle))
            .field("sign_count", &self.sign_count)
            .finish_non_exhaustive()
    }
}

/// A platform authenticator with its browser. The public fields are what it claims in the next
/// ceremony; change them between ceremonies to play a misbehaving or different device.
#[derive(Debug)]
pub struct Authenticator {
    /// UP flag. Default `true`; `false` plays an authenticator that skipped the presence test.
    pub user_present: bool,
    /// UV flag. Default `true`, as a passkey provider that verified the user.
    pub user_verified: bool,
    /// BE flag: the credential may be synced. Default `false`.
    pub backup_eligible: bool,
    /// BS flag: the credential is synced. Default `false`.
    pub backup_state: bool,
    /// How much the signature counter grows per assertion. Default 1; 0 keeps it at zero, as
    /// synced passkeys do.
    pub counter_step: u32,
    aaguid: [u8; 16],
    credentials: Vec<SoftPasskey>,
    chosen: Option<[u8; CREDENTIAL_ID_LEN]>,
}

impl Authenticator {
    /// An authenticator with no credentials that reports `aaguid` in attested credential data.
    pub fn new(aaguid: [u8; 16]) -> Self {
        Self {
            user_present: true,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            counter_step: 1,
            aaguid,
            credentials: Vec::new(),
            chosen: None,
        }
    }

    /// `navigator.credentials.create(options)` followed by `toJSON()`.
    ///
    /// `options` is `{"publicKey": PublicKeyCredentialCreationOptionsJSON}` (webauthn-rs's
    /// `CreationChallengeResponse` as serde_json writes it); `origin` goes into
    /// `clientDataJSON` unchecked. A new ES256 credential is created with "none" attestation; a
    /// credential already held for the same RP ID and user handle is replaced, as a resident-key
    /// authenticator does. The answer is a `RegistrationResponseJSON` (WebAuthn L3 §5.1).
    pub fn register(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        let options = CreationOptions::parse(options, origin)?;
        let excluded = self.credentials.iter().any(|held| {
            held.rp_id == options.rp_id
                && options
                    .exclude_credentials
                    .iter()
                    .any(|id| id.as_slice() == held.credential_id.as_slice())
        });
        if excluded {
            return Err(Error::CredentialExcluded);
        }

        let key_pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)?;
        let mut credential_id = [0; CREDENTIAL_ID_LEN];
        fill(&mut credential_id)?;
        let public_key = key_pair.public_key().as_ref();
        let sign_count = 0;
        let attested = attested_credential_data(&self.aaguid, &credential_id, public_key)?;
        let auth_data =
            authenticator_data(&options.rp_id, self.flags(), sign_count, Some(&attested));
        let client_data = client_data_json(Ceremony::Create, &options.challenge, origin)?;

        let mut extension_results = serde_json::Map::new();
        if options.cred_props {
            // §10.1.3: the client reports whether it made a discoverable credential; it always does.
            extension_results.insert("credProps".to_owned(), json!({"rk": true}));
        }
        let id = base64url::encode(&credential_id);
        let registration = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": base64url::encode(&client_data),
                "authenticatorData": base64url::encode(&auth_data),
                "transports": ["internal"],
                "publicKey": base64url::encode(&p256_spki(public_key)?),
                "publicKeyAlgorithm": COSE_ES256,
                "attestationObject": base64url::encode(&none_attestation_object(&auth_data)),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": extension_results,
        });

        self.credentials
            .retain(|held| held.rp_id != options.rp_id || held.user_handle != options.user_handle);
        self.credentials.push(SoftPasskey {
            key_pair,
            credential_id,
            rp_id: options.rp_id,
            user_handle: options.user_handle,
            sign_count,
        });
        Ok(registration)
    }

    /// `navigator.credentials.get(options)` followed by `toJSON()`.
    ///
    /// `options` is `{"publicKey": PublicKeyCredentialRequestOptionsJSON, "mediation"?: …}`
    /// (webauthn-rs's `RequestChallengeResponse`). The credential used is, among those held for
    /// the RP ID and allowed by a non-empty `allowCredentials`: the one picked with
    /// [`use_credential`](Self::use_credential), else the first listed in `allowCredentials`,
    /// else the first created. Its counter grows by `counter_step` and it signs
    /// `authenticatorData ‖ SHA-256(clientDataJSON)` (§6.3.3). The answer is an
    /// `AuthenticationResponseJSON`.
    pub fn authenticate(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        let options = RequestOptions::parse(options, origin)?;
        let flags = self.flags();
        let counter_step = self.counter_step;
        let credential = self
            .select(&options)
            .ok_or_else(|| Error::NoCredential(options.rp_id.clone()))?;

        let client_data = client_data_json(Ceremony::Get, &options.challenge, origin)?;
        sign_assertion(credential, flags, counter_step, &client_data)
    }

    /// Plays a browser's Secure Payment Confirmation (W3C SPC §4): `request` is what the relying
    /// party gave the checkout for `new PaymentRequest(methodData, details)` (`{"methodData":
    /// [{"supportedMethods": "secure-payment-confirmation", "data": {...}}], "details": {...}}`),
    /// `origin` the frame that calls it and `top_origin` the checkout page. The user accepts the
    /// dialog; a credential listed in `credentialIds` signs `clientDataJSON` of type
    /// `payment.get` with the `payment` member the browser adds (rpId, topOrigin, payeeName,
    /// payeeOrigin if given, total, instrument). Headless Chromium on Linux cannot run SPC, so
    /// this is how tests make its assertions.
    pub fn secure_payment_confirmation(
        &mut self,
        request: &Value,
        origin: &str,
        top_origin: &str,
    ) -> Result<Value, Error> {
        let data = request
            .pointer("/methodData/0/data")
            .ok_or(Error::MissingField("/methodData/0/data"))?;
        let text = |ptr: &'static str| {
            data.pointer(ptr)
                .and_then(Value::as_str)
                .ok_or(Error::MissingField(ptr))
        };
        let rp_id = text("/rpId")?.to_owned();
        let challenge_text = text("/challenge")?;
        let challenge =
            base64url::decode(challenge_text).ok_or(Error::InvalidBase64("/challenge"))?;
        let mut allow = Vec::new();
        for id in data
            .get("credentialIds")
            .and_then(Value::as_array)
            .ok_or(Error::MissingField("/credentialIds"))?
        {
            let id = id.as_str().ok_or(Error::MissingField("/credentialIds/*"))?;
            allow.push(base64url::decode(id).ok_or(Error::InvalidBase64("/credentialIds/*"))?);
        }
        let options = RequestOptions {
            rp_id: rp_id.clone(),
            challenge,
            allow_credentials: allow,
        };
        let mut payment = serde_json::Map::new();
        payment.insert("rpId".into(), json!(rp_id));
        payment.insert("topOrigin".into(), json!(top_origin));
        for name in ["payeeName", "payeeOrigin"] {
            if let Some(v) = data.get(name) {
                payment.insert(name.into(), v.clone());
            }
        }
        let total = request
            .pointer("/details/total/amount")
            .ok_or(Error::MissingField("/details/total/amount"))?;
        payment.insert("total".into(), total.clone());
        let instrument = data
            .get("instrument")
            .ok_or(Error::MissingField("/instrument"))?;
        payment.insert("instrument".into(), instrument.clone());
        // (Members in serde_json's order, not the browser's: the relying party parses them.)
        let cross_origin = origin != top_origin;
        let mut client_data = serde_json::Map::new();
        client_data.insert("type".into(), json!("payment.get"));
        client_data.insert(
            "challenge".into(),
            json!(base64url::encode(&options.challenge)),
        );
        client_data.insert("origin".into(), json!(origin));
        client_data.insert("crossOrigin".into(), json!(cross_origin));
        if cross_origin {
            client_data.insert("topOrigin".into(), json!(top_origin));
        }
        client_data.insert("payment".into(), Value::Object(payment));
        let client_data = serde_json::to_vec(&client_data)?;
        let flags = self.flags();
        let counter_step = self.counter_step;
        let credential = self
            .select(&options)
            .ok_or_else(|| Error::NoCredential(options.rp_id.clone()))?;
        sign_assertion(credential, flags, counter_step, &client_data)
    }

    /// Sets a credential's signature counter, e.g. below what the relying party stored, to play
    /// a cloned authenticator. The next assertion reports `value + counter_step`.
    pub fn set_counter(&mut self, credential_id_b64: &str, value: u32) -> Result<(), Error> {
        let index = self.position(credential_id_b64)?;
        if let Some(credential) = self.credentials.get_mut(index) {
            credential.sign_count = value;
        }
        Ok(())
    }

    /// Plays the user choosing an account: later assertions use this credential whenever the
    /// options allow it. `None` goes back to the default choice.
    pub fn use_credential(&mut self, credential_id_b64: Option<&str>) -> Result<(), Error> {
        self.chosen = match credential_id_b64 {
            Some(id) => self
                .credentials
                .get(self.position(id)?)
                .map(|credential| credential.credential_id),
            None => None,
        };
        Ok(())
    }

    /// The IDs of the credentials held, base64url, oldest first.
    pub fn credential_ids(&self) -> Vec<String> {
        self.credentials
            .iter()
            .map(SoftPasskey::credential_id_b64)
            .collect()
    }

    /// The credentials held, oldest first.
    pub fn credentials(&self) -> &[SoftPasskey] {
        &self.credentials
    }

    /// The AAGUID written into attested credential data.
    pub fn aaguid(&self) -> [u8; 16] {
        self.aaguid
    }

    fn flags(&self) -> u8 {
        [
            (self.user_present, UP),
            (self.user_verified, UV),
            (self.backup_eligible, BE),
            (self.backup_state, BS),
        ]
        .into_iter()
        .filter(|(claimed, _)| *claimed)
        .fold(0, |flags, (_, bit)| flags | bit)
    }

    fn position(&self, credential_id_b64: &str) -> Result<usize, Error> {
        base64url::decode(credential_id_b64)
            .and_then(|id| {
                self.credentials
                    .iter()
                    .position(|held| held.credential_id.as_slice() == id.as_slice())
            })
            .ok_or_else(|| Error::UnknownCredential(credential_id_b64.to_owned()))
    }

    fn select(&mut self, options: &RequestOptions) -> Option<&mut SoftPasskey> {
        let allowed = |held: &SoftPasskey| {
            held.rp_id == options.rp_id
                && (options.allow_credentials.is_empty()
                    || options
                        .allow_credentials
                        .iter()
                        .any(|id| id.as_slice() == held.credential_id.as_slice()))
        };
        let chosen = self.chosen.and_then(|chosen| {
            self.credentials
                .iter()
                .position(|held| held.credential_id == chosen && allowed(held))
        });
        let listed = || {
            options.allow_credentials.iter().find_map(|id| {
                self.credentials.iter().position(|held| {
                    held.rp_id == options.rp_id && held.credential_id.as_slice() == id.as_slice()
                })
            })
        };
        let index = chosen
            .or_else(listed)
            .or_else(|| self.credentials.iter().position(allowed))?;
        self.credentials.get_mut(index)
    }
}

#[cfg(test)]
mod tests;

/// The assertion `credential` makes over `client_data` (WebAuthn L3 §6.3.3): its counter moved
/// by `counter_step`, `authenticatorData ‖ SHA-256(clientDataJSON)` signed, as
/// `AuthenticationResponseJSON`.
fn sign_assertion(
    credential: &mut SoftPasskey,
    flags: u8,
    counter_step: u32,
    client_data: &[u8],
) -> Result<Value, Error> {
    credential.sign_count = credential.sign_count.saturating_add(counter_step);
    let auth_data = authenticator_data(&credential.rp_id, flags, credential.sign_count, None);
    let mut signed = auth_data.clone();
    signed.extend_from_slice(digest(&SHA256, client_data).as_ref());
    let signature = credential.key_pair.sign(&SystemRandom::new(), &signed)?;
    let id = credential.credential_id_b64();
    Ok(json!({
        "id": id,
        "rawId": id,
        "type": "public-key",
        "response": {
            "clientDataJSON": base64url::encode(client_data),
            "authenticatorData": base64url::encode(&auth_data),
            "signature": base64url::encode(signature.as_ref()),
            "userHandle": base64url::encode(&credential.user_handle),
        },
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
    }))
}
