//! The enrolment and sign-in ceremonies (WebAuthn L3 §7.1, §7.2), with their server state in the
//! shared flow store.

use crate::aaguid::aaguid_of_attestation;
use crate::config::PasskeyConfig;
use crate::credential::{PasskeyStore, StoredPasskey, validate_name};
use crate::error::PasskeyError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use shonin_types::StorageError;
use shonin_types::flow::{self, Flow, FlowState};
use shonin_types::ports::FlowStore;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn, WebauthnBuilder, WebauthnError,
};

/// A ceremony's flow: `pending` until its answer arrives, then `used`, once.
trait Ceremony: FlowState {
    const PENDING: Self;
    const USED: Self;
}

/// The two ceremonies' flows, each its own record kind with the same two states.
macro_rules! ceremony_flow {
    ($name:ident, $kind:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum $name {
            Pending,
            Used,
        }

        impl FlowState for $name {
            const KIND: &'static str = $kind;
            const ALL: &'static [Self] = &[$name::Pending, $name::Used];

            fn name(self) -> &'static str {
                match self {
                    $name::Pending => "pending",
                    $name::Used => "used",
                }
            }

            fn may_become(self, next: Self) -> bool {
                matches!((self, next), ($name::Pending, $name::Used))
            }
        }

        impl Ceremony for $name {
            const PENDING: Self = $name::Pending;
            const USED: Self = $name::Used;
        }
    };
}

ceremony_flow!(Registration, "passkey_registration");
ceremony_flow!(Authentication, "passkey_authentication");
/// Ceremony ids are 32 hex digits (a v4 UUID); anything else is unknown without a lookup.
const CEREMONY_ID_LEN: usize = 32;

/// The user a passkey is being enrolled for.
#[derive(Debug, Clone, Copy)]
pub struct UserRef<'a> {
    /// The account's UUID; it becomes the WebAuthn user handle.
    pub id: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
}

/// A begun ceremony: its id (sent back with the answer) and the options for the browser's
/// `navigator.credentials.create()` / `.get()` (`{"publicKey": {…}}`, base64url binary fields).
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// A successful passkey sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
    /// The passkey used, as stored after this use.
    pub passkey: StoredPasskey,
}

#[derive(Serialize, Deserialize)]
struct RegistrationState {
    user_id: String,
    state: PasskeyRegistration,
}

#[derive(Serialize, Deserialize)]
struct AuthenticationState {
    state: DiscoverableAuthentication,
}

/// The passkey ceremonies over a store `S` (flow records for ceremony state, passkeys).
#[derive(Debug, Clone)]
pub struct Passkeys<S> {
    webauthn: Arc<Webauthn>,
    config: Arc<PasskeyConfig>,
    store: S,
}

impl<S> Passkeys<S>
where
    S: FlowStore + PasskeyStore + Clone,
{
    pub fn new(config: PasskeyConfig, store: S) -> Result<Self, PasskeyError> {
        if config.ceremony_ttl <= time::Duration::ZERO
            || config.ceremony_ttl > PasskeyConfig::MAX_CEREMONY_TTL
        {
            return Err(PasskeyError::Config(
                "the ceremony lifetime must be between 1 second and 10 minutes",
            ));
        }
        let timeout = std::time::Duration::try_from(config.ceremony_ttl)
            .map_err(|_| PasskeyError::Config("the ceremony lifetime is out of range"))?;
        let webauthn = WebauthnBuilder::new(&config.rp_id, &config.origin)
            .map_err(|_| {
                PasskeyError::Config("the RP ID must be the origin's host or a suffix of it")
            })?
            .rp_name(&config.rp_name)
            .timeout(timeout)
            .build()
            .map_err(|_| PasskeyError::Config("webauthn-rs refused the relying party"))?;
        Ok(Self {
            webauthn: Arc::new(webauthn),
            config: Arc::new(config),
            store,
        })
    }

    pub fn config(&self) -> &PasskeyConfig {
        &self.config
    }

    /// Begins enrolling a passkey for `user`: a discoverable credential with user verification
    /// required and attestation `none`; the user's enrolled passkeys are excluded.
    pub async fn begin_registration(
        &self,
        user: UserRef<'_>,
        now: OffsetDateTime,
    ) -> Result<Challenge, PasskeyError> {
        let handle = Uuid::parse_str(user.id)
            .map_err(|_| PasskeyError::Internal("a user id is not a UUID".into()))?;
        let mut exclude = Vec::new();
        for p in self.store.list_passkeys(user.id).await? {
            exclude.push(decode_passkey(&p)?.cred_id().clone());
        }
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(handle, user.username, user.display_name, Some(exclude))
            .map_err(|e| PasskeyError::Internal(format!("start registration: {e:?}")))?;
        let mut options = to_json(&ccr)?;
        require_discoverable(&mut options);
        let state = RegistrationState {
            user_id: user.id.to_owned(),
            state,
        };
        let ceremony = self.save::<Registration>(&state, now).await?;
        Ok(Challenge { ceremony, options })
    }

    /// Finishes an enrolment begun by [`Self::begin_registration`] for `user_id`.
    pub async fn finish_registration(
        &self,
        user_id: &str,
        ceremony: &str,
        response: &serde_json::Value,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<StoredPasskey, PasskeyError> {
        let name = validate_name(name)?;
        let reg: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state: RegistrationState = self.take::<Registration, _>(ceremony, now).await?;
        if state.user_id != user_id {
            return Err(PasskeyError::CeremonyOtherUser);
        }
        let passkey = self
            .webauthn
            .finish_passkey_registration(&reg, &state.state)
            .map_err(from_webauthn)?;
        let aaguid = aaguid_of_attestation(&reg.response.attestation_object)?;
        if !self.config.aaguids.allows(&aaguid) {
            return Err(PasskeyError::AaguidNotAllowed {
                aaguid: aaguid.to_string(),
            });
        }
        let credential: Credential = passkey.clone().into();
        let transports = reg
            .response
            .transports
            .iter()
            .flatten()
            .filter_map(|t| serde_json::to_value(t).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let stored = StoredPasskey {
            credential_id: URL_SAFE_NO_PAD.encode(&reg.raw_id),
            user_id: user_id.to_owned(),
            name,
            credential: serde_json::to_string(&passkey)
                .map_err(|e| PasskeyError::Internal(e.to_string()))?,
            aaguid,
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            transports,
            sign_count: credential.counter,
            created_at: now,
            last_used_at: None,
        };
        match self.store.insert_passkey(&stored).await {
            Ok(()) => Ok(stored),
            Err(StorageError::Conflict(_)) => Err(PasskeyError::CredentialExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Begins a sign-in with a discoverable credential: no username is needed and the options
    /// name no credential, so they reveal nothing about any account. The page decides between a
    /// modal prompt and conditional mediation (autofill).
    pub async fn begin_authentication(
        &self,
        now: OffsetDateTime,
    ) -> Result<Challenge, PasskeyError> {
        let (rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| PasskeyError::Internal(format!("start authentication: {e:?}")))?;
        let mut options = to_json(&rcr)?;
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let ceremony = self
            .save::<Authentication>(&AuthenticationState { state }, now)
            .await?;
        Ok(Challenge { ceremony, options })
    }

    /// Finishes a sign-in begun by [`Self::begin_authentication`]: the credential is looked up by
    /// id, must belong to the user handle it presents, and its signature, flags (UV required)
    /// and counter are checked by webauthn-rs; the counter and last use are then recorded.
    pub async fn finish_authentication(
        &self,
        ceremony: &str,
        response: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<SignedIn, PasskeyError> {
        let cred: PublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state: AuthenticationState = self.take::<Authentication, _>(ceremony, now).await?;
        let (handle, cred_id) = self
            .webauthn
            .identify_discoverable_authentication(&cred)
            .map_err(|_| PasskeyError::Refused("the response carries no user handle".into()))?;
        let credential_id = URL_SAFE_NO_PAD.encode(cred_id);
        let stored = self
            .store
            .get_passkey(&credential_id)
            .await?
            .ok_or(PasskeyError::UnknownCredential)?;
        if Uuid::parse_str(&stored.user_id).ok() != Some(handle) {
            return Err(PasskeyError::UserHandleMismatch {
                user_id: stored.user_id,
            });
        }
        let mut passkey = decode_passkey(&stored)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&cred, state.state, &passkey)
            .map_err(|e| match e {
                WebauthnError::CredentialPossibleCompromise => PasskeyError::SignCountRegression {
                    credential_id: credential_id.clone(),
                    user_id: stored.user_id.clone(),
                },
                other => from_webauthn(other),
            })?;
        if !result.user_verified() {
            return Err(PasskeyError::UserNotVerified);
        }
        passkey.update_credential(&result);
        let json =
            serde_json::to_string(&passkey).map_err(|e| PasskeyError::Internal(e.to_string()))?;
        let recorded = self
            .store
            .record_passkey_use(
                &credential_id,
                &json,
                result.counter(),
                result.backup_state(),
                now,
            )
            .await?;
        if !recorded {
            // A concurrent sign-in with this credential recorded a higher counter first.
            return Err(PasskeyError::SignCountRegression {
                credential_id,
                user_id: stored.user_id,
            });
        }
        let passkey = StoredPasskey {
            credential: json,
            sign_count: result.counter(),
            backup_state: result.backup_state(),
            last_used_at: Some(now),
            ..stored
        };
        Ok(SignedIn {
            user_id: passkey.user_id.clone(),
            passkey,
        })
    }

    async fn save<C: Ceremony>(
        &self,
        state: &impl Serialize,
        now: OffsetDateTime,
    ) -> Result<String, PasskeyError> {
        let id = Uuid::new_v4().simple().to_string();
        let data = serde_json::to_vec(state).map_err(|e| PasskeyError::Internal(e.to_string()))?;
        let record = Flow::new(id.clone(), C::PENDING, data, now + self.config.ceremony_ttl);
        self.store.create_flow(&record.record()).await?;
        Ok(id)
    }

    /// Consumes a pending ceremony: exactly one caller, on any node, gets its state.
    async fn take<C: Ceremony, T: for<'de> Deserialize<'de>>(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<T, PasskeyError> {
        if id.len() != CEREMONY_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PasskeyError::CeremonyUnknown);
        }
        let storage = |e: flow::FlowError| PasskeyError::Storage(e.into());
        let record = flow::get::<C>(&self.store, id, now)
            .await
            .map_err(storage)?
            .ok_or(PasskeyError::CeremonyUnknown)?;
        if record.state != C::PENDING {
            return Err(PasskeyError::CeremonyUnknown);
        }
        flow::advance_now(&self.store, &record, C::USED, &record.data, now)
            .await
            .map_err(storage)?
            .ok_or(PasskeyError::CeremonyUnknown)?;
        serde_json::from_slice(&record.data)
            .map_err(|e| PasskeyError::Internal(format!("ceremony state: {e}")))
    }
}

/// webauthn-rs's credential for a stored passkey.
pub(crate) fn decode_passkey(p: &StoredPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&p.credential).map_err(|_| {
        PasskeyError::Storage(StorageError::Corrupt(format!(
            "passkey {}: credential does not decode",
            p.credential_id
        )))
    })
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(value).map_err(|e| PasskeyError::Internal(e.to_string()))
}

/// webauthn-rs 0.6 asks for `residentKey: "discouraged"` in passkey registration; Shonin signs in
/// without a username, so it requires a discoverable credential (WebAuthn L3 §5.4.4).
fn require_discoverable(options: &mut serde_json::Value) {
    if let Some(pk) = options.get_mut("publicKey").and_then(|v| v.as_object_mut()) {
        let selection = pk
            .entry("authenticatorSelection")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(s) = selection.as_object_mut() {
            s.insert("residentKey".into(), "required".into());
            s.insert("requireResidentKey".into(), true.into());
            s.insert("userVerification".into(), "required".into());
        }
    }
}

fn from_webauthn(e: WebauthnError) -> PasskeyError {
    match e {
        WebauthnError::UserNotVerified => PasskeyError::UserNotVerified,
        other => PasskeyError::Refused(format!("{other:?}")),
    }
}
