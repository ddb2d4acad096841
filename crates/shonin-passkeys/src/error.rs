//! The one error of this crate. [`PasskeyError::reason`] is the audit log's code; the person
//! signing in is only ever told that sign-in failed, so the answer never reveals whether an
//! account or credential exists.

use crate::credential::StoredPasskey;
use shonin_types::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The configuration cannot make a WebAuthn relying party.
    #[error("passkey configuration: {0}")]
    Config(&'static str),
    /// The ceremony id is unknown, expired or was already used.
    #[error("the passkey ceremony is unknown, expired or already used")]
    CeremonyUnknown,
    /// An enrolment ceremony begun for one user was finished by another.
    #[error("the passkey ceremony belongs to another user")]
    CeremonyOtherUser,
    /// The browser's response is not a WebAuthn credential in JSON.
    #[error("the passkey response is malformed: {0}")]
    Malformed(String),
    /// webauthn-rs refused the response (origin, RP ID, challenge, flags, signature…).
    #[error("the passkey response was refused: {0}")]
    Refused(String),
    /// User verification was not performed (WebAuthn L3 §7.2 step 17).
    #[error("the authenticator did not verify the user")]
    UserNotVerified,
    /// The signature counter did not increase: the authenticator may have been cloned (WebAuthn
    /// L3 §7.2 step 22).
    #[error("the signature counter went backwards for credential {credential_id}")]
    SignCountRegression {
        credential_id: String,
        user_id: String,
    },
    /// No enrolled passkey has this credential id.
    #[error("no passkey has this credential id")]
    UnknownCredential,
    /// The assertion's user handle is not the owner of the credential.
    #[error("the user handle does not own the credential")]
    UserHandleMismatch { user_id: String },
    /// The authenticator's model is outside the operator's AAGUID allow-list.
    #[error("authenticator model {aaguid} is not allowed")]
    AaguidNotAllowed { aaguid: String },
    /// This credential is already enrolled (by this or another user).
    #[error("this passkey is already enrolled")]
    CredentialExists,
    /// A passkey name breaks the naming rule.
    #[error("{0}")]
    InvalidName(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A failure of ours (serialisation, randomness).
    #[error("passkey internal error: {0}")]
    Internal(String),
    /// `clientDataJSON.type` is not the ceremony expected (WebAuthn L3 §7.2 step 10).
    #[error("the client data is for another kind of ceremony")]
    TypeMismatch,
    /// `clientDataJSON.challenge` is not the challenge the server chose (§7.2 step 11).
    #[error("the assertion answers another challenge")]
    ChallengeMismatch,
    /// `clientDataJSON.origin` is not the relying party's origin (§7.2 step 12).
    #[error("the assertion was made for another origin")]
    OriginMismatch,
    /// The assertion was made in a cross-origin iframe (`crossOrigin` true or `topOrigin`
    /// present), which Shonin never expects (§7.2 steps 13–14).
    #[error("the assertion was made in a cross-origin frame")]
    CrossOrigin,
    /// The authenticator data's rpIdHash is not SHA-256 of the RP ID (§7.2 step 15).
    #[error("the assertion was made for another relying party")]
    RpIdMismatch,
    /// The UP flag is not set (§7.2 step 16).
    #[error("the authenticator did not test user presence")]
    UserNotPresent,
    /// BS is set without BE, a combination §6.1.3 forbids (§7.2 step 18).
    #[error("the authenticator claims a backup state without backup eligibility")]
    BackupStateWithoutEligibility,
    /// BE differs from the credential record's: it never changes for a credential (§7.2 step 19).
    #[error("the credential's backup eligibility changed")]
    BackupEligibilityChanged,
    /// The signature does not verify with the credential's public key (§7.2 step 21).
    #[error("the assertion signature does not verify")]
    BadSignature,
    /// The counter did not increase (§7.2 step 22), from a check that knows no credential record;
    /// [`PasskeyError::for_passkey`] turns it into [`PasskeyError::SignCountRegression`].
    #[error("the signature counter went backwards ({received} after {stored})")]
    SignCountNotIncreased { stored: u32, received: u32 },
    /// The credential's key is not one Shonin verifies itself (ES256, RS256, EdDSA Ed25519).
    #[error("unsupported credential key: {0}")]
    UnsupportedKey(&'static str),
}

impl PasskeyError {
    /// A short fixed code for the audit entry's reason.
    pub fn reason(&self) -> String {
        match self {
            Self::Config(_) => "config".into(),
            Self::CeremonyUnknown => "ceremony_unknown".into(),
            Self::CeremonyOtherUser => "ceremony_other_user".into(),
            Self::Malformed(_) => "malformed".into(),
            Self::Refused(why) => format!("refused: {why}"),
            Self::UserNotVerified => "user_not_verified".into(),
            Self::SignCountRegression { .. } => "sign_count_regression".into(),
            Self::UnknownCredential => "unknown_credential".into(),
            Self::UserHandleMismatch { .. } => "user_handle_mismatch".into(),
            Self::AaguidNotAllowed { aaguid } => format!("aaguid_not_allowed: {aaguid}"),
            Self::CredentialExists => "credential_exists".into(),
            Self::InvalidName(_) => "invalid_name".into(),
            Self::Storage(_) => "storage".into(),
            Self::Internal(_) => "internal".into(),
            Self::TypeMismatch => "type_mismatch".into(),
            Self::ChallengeMismatch => "challenge_mismatch".into(),
            Self::OriginMismatch => "origin_mismatch".into(),
            Self::CrossOrigin => "cross_origin".into(),
            Self::RpIdMismatch => "rp_id_mismatch".into(),
            Self::UserNotPresent => "user_not_present".into(),
            Self::BackupStateWithoutEligibility => "backup_state_without_eligibility".into(),
            Self::BackupEligibilityChanged => "backup_eligibility_changed".into(),
            Self::BadSignature => "bad_signature".into(),
            Self::SignCountNotIncreased { .. } => "sign_count_regression".into(),
            Self::UnsupportedKey(_) => "unsupported_key".into(),
        }
    }

    /// Whether this is the client's fault (a refusal) rather than ours or the store's.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::Storage(_) | Self::Internal(_))
    }

    /// Names `passkey` and its owner in a counter regression found by
    /// [`verify_assertion`](crate::verify_assertion), which knows neither; other errors pass
    /// unchanged.
    pub fn for_passkey(self, passkey: &StoredPasskey) -> Self {
        match self {
            Self::SignCountNotIncreased { .. } => Self::SignCountRegression {
                credential_id: passkey.credential_id.clone(),
                user_id: passkey.user_id.clone(),
            },
            other => other,
        }
    }

    /// The account concerned, when the failure names one (the audit entry's actor).
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::SignCountRegression { user_id, .. } | Self::UserHandleMismatch { user_id } => {
                Some(user_id)
            }
            _ => None,
        }
    }
}
