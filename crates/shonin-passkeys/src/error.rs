//! The one error of this crate. [`PasskeyError::reason`] is the audit log's code; the person
//! signing in is only ever told that sign-in failed, so the answer never reveals whether an
//! account or credential exists.

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
        }
    }

    /// Whether this is the client's fault (a refusal) rather than ours or the store's.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::Storage(_) | Self::Internal(_))
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
