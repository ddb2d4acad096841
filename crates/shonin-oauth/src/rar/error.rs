//! Why an `authorization_details` parameter, or an operator's type definition, was refused.

use shonin_types::ErrorCode;

/// A refused `authorization_details` parameter (RFC 9396) or a refused type configuration.
///
/// Every request-side variant answers `invalid_authorization_details`: RFC 9396 §5 defines that
/// code for any `authorization_details` the AS cannot accept, and one code for the whole
/// parameter tells the client developer exactly which parameter to fix (the description says
/// why). Configuration variants are found at start-up and answer `server_error` if they ever
/// reach a client.
///
/// Messages never echo the submitted values (they may hold account numbers); type names are
/// echoed truncated to [`MAX_ECHOED_TYPE_LEN`](super::MAX_ECHOED_TYPE_LEN) characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RarError {
    /// The parameter is longer than the policy's size limit (checked before parsing).
    #[error("authorization_details is longer than {max} bytes")]
    TooLarge { max: usize },
    /// The parameter is not UTF-8 (RFC 8259 §8.1).
    #[error("authorization_details is not valid UTF-8")]
    NotUtf8,
    /// Arrays and objects nest deeper than the policy allows (checked before parsing).
    #[error("authorization_details nests deeper than {max} levels")]
    TooDeep { max: usize },
    /// The parameter is not one JSON text.
    #[error("authorization_details is not valid JSON")]
    MalformedJson,
    /// An object names a member twice (RFC 8259 §4: names SHOULD be unique); which one counts
    /// would depend on the parser, so the request is refused.
    #[error("authorization_details names the member {0:?} twice in one object")]
    DuplicateName(String),
    /// RFC 9396 §2: the parameter is a JSON array of objects.
    #[error("authorization_details is not a JSON array")]
    NotAnArray,
    /// An empty array authorizes nothing; a client sending one has a bug.
    #[error("authorization_details is an empty array")]
    Empty,
    /// More entries than the policy allows.
    #[error("authorization_details has more than {max} entries")]
    TooManyEntries { max: usize },
    /// RFC 9396 §2: every element is a JSON object.
    #[error("authorization_details[{index}] is not a JSON object")]
    EntryNotAnObject { index: usize },
    /// RFC 9396 §2: `type` is REQUIRED and is a string.
    #[error("authorization_details[{index}] has no string \"type\" member")]
    MissingType { index: usize },
    /// RFC 9396 §5: an unknown authorization details type.
    #[error("authorization_details[{index}] has unknown type {type_name:?}")]
    UnknownType { index: usize, type_name: String },
    /// The type exists but this client is not registered to use it.
    #[error("authorization_details[{index}] type {type_name:?} is not allowed for this client")]
    TypeNotAllowed { index: usize, type_name: String },
    /// A member name or string value contains a control or bidirectional-formatting character
    /// (see [`super::is_forbidden_char`]): they can disguise what the consent page shows.
    #[error("authorization_details[{index}] contains a control character at {path}")]
    ControlCharacter { index: usize, path: String },
    /// RFC 9396 §5: unknown fields, wrong field types, invalid values or missing required
    /// fields, as judged by the type's JSON Schema. `path` is a JSON Pointer into the entry;
    /// `reason` names the failed keyword without quoting the value.
    #[error("authorization_details[{index}] ({type_name}) is invalid at {path:?}: {reason}")]
    SchemaViolation {
        index: usize,
        type_name: String,
        path: String,
        reason: String,
    },
    /// `creditorAccount.iban` fails the ISO 13616 mod-97 check (a mistyped IBAN).
    #[error("authorization_details[{index}] creditorAccount.iban has a wrong check digit")]
    IbanChecksum { index: usize },

    /// Configuration: a type name is empty, too long, or uses characters outside
    /// `[A-Za-z0-9._:/~-]`.
    #[error("authorization details type name {0:?} is not acceptable")]
    InvalidTypeName(String),
    /// Configuration: the type is already defined (shipped types cannot be redefined; start from
    /// [`super::AuthorizationDetailsPolicy::empty`] to replace them).
    #[error("authorization details type {0:?} is already defined")]
    DuplicateType(String),
    /// Configuration: the schema is not JSON, not a valid JSON Schema, uses a pattern the linear
    /// time regex engine cannot run, or refers to an external `$ref` (nothing is fetched).
    #[error("schema for authorization details type {type_name:?} is invalid: {reason}")]
    InvalidSchema { type_name: String, reason: String },
}

impl RarError {
    /// The OAuth error code (RFC 9396 §5, RFC 6749 §4.1.2.1) this failure produces.
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            RarError::TooLarge { .. }
            | RarError::NotUtf8
            | RarError::TooDeep { .. }
            | RarError::MalformedJson
            | RarError::DuplicateName(_)
            | RarError::NotAnArray
            | RarError::Empty
            | RarError::TooManyEntries { .. }
            | RarError::EntryNotAnObject { .. }
            | RarError::MissingType { .. }
            | RarError::UnknownType { .. }
            | RarError::TypeNotAllowed { .. }
            | RarError::ControlCharacter { .. }
            | RarError::SchemaViolation { .. }
            | RarError::IbanChecksum { .. } => ErrorCode::InvalidAuthorizationDetails,
            RarError::InvalidTypeName(_)
            | RarError::DuplicateType(_)
            | RarError::InvalidSchema { .. } => ErrorCode::ServerError,
        }
    }
}
