//! Why the software authenticator refused a ceremony. The variants mirror the DOMExceptions a
//! browser raises (`TypeError`, `NotSupportedError`, `InvalidStateError`, `NotAllowedError`),
//! split so a test can tell which rule fired.

/// An error from [`Authenticator`](super::Authenticator).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A member the ceremony needs is missing or has the wrong JSON type; the payload is its JSON
    /// pointer, e.g. `/publicKey/challenge` (a browser's `TypeError`).
    #[error("options member {0} is missing or not of the expected type")]
    MissingField(&'static str),

    /// A binary member is not base64url, as `parseCreationOptionsFromJSON()` would decode it.
    #[error("options member {0} is not base64url")]
    InvalidBase64(&'static str),

    /// `user.id` must be 1 to 64 bytes long (WebAuthn L3 §5.1.3: otherwise a `TypeError`).
    #[error("user.id is {0} bytes long; it must be 1 to 64")]
    UserHandleLength(usize),

    /// Neither the options' RP ID nor the origin give an RP ID.
    #[error("no RP ID in the options and none can be taken from origin {0:?}")]
    NoRpId(String),

    /// `pubKeyCredParams` lists algorithms but not ES256 (-7), the only one this authenticator
    /// has (WebAuthn L3 §5.1.3: `NotSupportedError`).
    #[error("pubKeyCredParams offers no public-key ES256 (-7) algorithm")]
    NoSupportedAlgorithm,

    /// The authenticator holds a credential listed in `excludeCredentials` (WebAuthn L3 §6.3.2
    /// step 3: `InvalidStateError`).
    #[error("the authenticator already holds a credential listed in excludeCredentials")]
    CredentialExcluded,

    /// No credential held for this RP ID is acceptable (`NotAllowedError`).
    #[error("no acceptable credential for RP ID {0:?}")]
    NoCredential(String),

    /// [`Authenticator::set_counter`](super::Authenticator::set_counter) or
    /// [`Authenticator::use_credential`](super::Authenticator::use_credential) was given an ID
    /// this authenticator does not hold.
    #[error("no credential with ID {0:?}")]
    UnknownCredential(String),

    /// aws-lc-rs failed to generate a key, draw random bytes or sign.
    #[error("cryptographic operation failed")]
    Crypto,

    /// Serialising `clientDataJSON` failed.
    #[error("serialising clientDataJSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<aws_lc_rs::error::Unspecified> for Error {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Error::Crypto
    }
}
