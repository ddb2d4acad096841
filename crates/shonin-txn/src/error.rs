//! The one error of this crate. [`TxnError::code`] is the API's error code, [`TxnError::reason`]
//! the audit entry's reason; an approval refusal never says which check failed (PSD2 RTS
//! Art. 4(3)(a)), only the audit log does.

use crate::state::TxnState;
use shonin_types::StorageError;
use shonin_types::flow::FlowState as _;

#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// A field the client sent breaks its rule: `(field, rule)`.
    #[error("{0}: {1}")]
    Invalid(&'static str, &'static str),
    /// The request tried to choose the authorization method; the method comes from the user's
    /// settings only (OWASP Transaction Authorization 2.2).
    #[error("the approval method is set by the user's settings, not by the request")]
    MethodParameter,
    #[error("no such user")]
    UnknownUser,
    #[error("no such transaction")]
    NotFound,
    /// The transaction is not in a state that allows this step.
    #[error("the transaction is {}", .0.name())]
    State(TxnState),
    #[error("the transaction's approval window has passed")]
    Expired,
    #[error("the transaction is locked after too many failed approval attempts")]
    Locked,
    /// The user has no passkey to approve with.
    #[error("the user has no passkey")]
    NoPasskey,
    /// The assertion did not approve the transaction; `reason` is for the audit log only.
    #[error("the approval was refused")]
    Refused { reason: String, attempts_left: u32 },
    /// The data presented at execution is not the data that was approved.
    #[error("the transaction differs from the one that was approved")]
    Mismatch,
    /// Another request moved the transaction first.
    #[error("the transaction was changed by another request")]
    Conflict,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("transaction internal error: {0}")]
    Internal(String),
}

impl TxnError {
    /// The error code of the API's problem document.
    pub fn code(&self) -> &'static str {
        match self {
            TxnError::Invalid(..) | TxnError::MethodParameter | TxnError::UnknownUser => {
                "invalid_request"
            }
            TxnError::NotFound => "not_found",
            TxnError::State(_) | TxnError::Conflict => "transaction_state",
            TxnError::Expired => "transaction_expired",
            TxnError::Locked => "transaction_locked",
            TxnError::NoPasskey => "no_passkey",
            TxnError::Refused { .. } => "approval_refused",
            TxnError::Mismatch => "transaction_mismatch",
            TxnError::Storage(_) => "temporarily_unavailable",
            TxnError::Internal(_) => "server_error",
        }
    }

    /// The HTTP status of [`Self::code`].
    pub fn status(&self) -> u16 {
        match self {
            TxnError::Invalid(..) | TxnError::MethodParameter | TxnError::UnknownUser => 400,
            TxnError::Refused { .. } => 403,
            TxnError::NotFound => 404,
            TxnError::State(_)
            | TxnError::Conflict
            | TxnError::Expired
            | TxnError::Locked
            | TxnError::NoPasskey
            | TxnError::Mismatch => 409,
            TxnError::Storage(_) => 503,
            TxnError::Internal(_) => 500,
        }
    }

    /// A short fixed text for the audit entry's reason.
    pub fn reason(&self) -> String {
        match self {
            TxnError::Invalid(field, _) => format!("invalid: {field}"),
            TxnError::MethodParameter => "method_parameter_refused".into(),
            TxnError::Refused { reason, .. } => format!("refused: {reason}"),
            TxnError::State(s) => format!("state: {}", s.name()),
            other => other.code().into(),
        }
    }
}
