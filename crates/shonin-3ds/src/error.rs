//! The protocol's error codes and the one error type of this crate: a [`Rejection`] is the `Erro`
//! that Shonin answers to a message it cannot accept.

use std::fmt;

/// `errorCode` (EMV 3DS Annex A, "Error Code"): what was wrong with the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 101: not a message of this protocol, or a `messageType` that is not recognised.
    MessageReceivedInvalid,
    /// 102: a `messageVersion` that this component does not support.
    MessageVersionNotSupported,
    /// 201: a required element is missing.
    RequiredElementMissing,
    /// 202: a message extension marked critical that this component does not recognise.
    CriticalExtensionNotRecognised,
    /// 203: an element has an invalid format or value, or is present where it does not apply.
    InvalidFormat,
    /// 204: an element appears twice.
    DuplicateElement,
    /// 301: the transaction ID is not recognised (unknown, or a duplicate of another transaction).
    TransactionIdNotRecognised,
    /// 302: the data could not be decrypted.
    DataDecryptionFailure,
    /// 303: access denied, invalid endpoint.
    AccessDenied,
    /// 304: an ISO code is not valid.
    IsoCodeInvalid,
    /// 305: the transaction data are not valid (for example a CReq for a completed challenge).
    TransactionDataNotValid,
    /// 306: the merchant category code is not valid for the payment system.
    MccNotValid,
    /// 307: the serial number is not valid.
    SerialNumberNotValid,
    /// 402: the transaction timed out.
    TransactionTimedOut,
    /// 403: transient system failure.
    TransientSystemFailure,
    /// 404: permanent system failure.
    PermanentSystemFailure,
    /// 405: system connection failure.
    SystemConnectionFailure,
}

impl ErrorCode {
    /// The three-digit `errorCode` value.
    pub fn code(self) -> &'static str {
        match self {
            Self::MessageReceivedInvalid => "101",
            Self::MessageVersionNotSupported => "102",
            Self::RequiredElementMissing => "201",
            Self::CriticalExtensionNotRecognised => "202",
            Self::InvalidFormat => "203",
            Self::DuplicateElement => "204",
            Self::TransactionIdNotRecognised => "301",
            Self::DataDecryptionFailure => "302",
            Self::AccessDenied => "303",
            Self::IsoCodeInvalid => "304",
            Self::TransactionDataNotValid => "305",
            Self::MccNotValid => "306",
            Self::SerialNumberNotValid => "307",
            Self::TransactionTimedOut => "402",
            Self::TransientSystemFailure => "403",
            Self::PermanentSystemFailure => "404",
            Self::SystemConnectionFailure => "405",
        }
    }

    /// The `errorDescription` Shonin sends: the code's name in the specification's words.
    pub fn description(self) -> &'static str {
        match self {
            Self::MessageReceivedInvalid => "Message Received Invalid",
            Self::MessageVersionNotSupported => "Message Version Number Not Supported",
            Self::RequiredElementMissing => "Required Data Element Missing",
            Self::CriticalExtensionNotRecognised => "Critical Message Extension Not Recognised",
            Self::InvalidFormat => "Format of One or More Data Elements is Invalid",
            Self::DuplicateElement => "Duplicate Data Element",
            Self::TransactionIdNotRecognised => "Transaction ID Not Recognised",
            Self::DataDecryptionFailure => "Data Decryption Failure",
            Self::AccessDenied => "Access Denied, Invalid Endpoint",
            Self::IsoCodeInvalid => "ISO Code Invalid",
            Self::TransactionDataNotValid => "Transaction Data Not Valid",
            Self::MccNotValid => "Merchant Category Code (MCC) Not Valid for Payment System",
            Self::SerialNumberNotValid => "Serial Number Not Valid",
            Self::TransactionTimedOut => "Transaction Timed Out",
            Self::TransientSystemFailure => "Transient System Failure",
            Self::PermanentSystemFailure => "Permanent System Failure",
            Self::SystemConnectionFailure => "System Connection Failure",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `errorComponent`: the component that found the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorComponent {
    /// `C`: the 3DS SDK.
    Sdk,
    /// `S`: the 3DS Server.
    ThreeDsServer,
    /// `D`: the Directory Server.
    DirectoryServer,
    /// `A`: the Access Control Server.
    Acs,
}

impl ErrorComponent {
    pub fn code(self) -> &'static str {
        match self {
            Self::Sdk => "C",
            Self::ThreeDsServer => "S",
            Self::DirectoryServer => "D",
            Self::Acs => "A",
        }
    }
}

/// The longest `errorDetail` the specification allows, in characters.
const MAX_ERROR_DETAIL: usize = 2048;

/// Why a message was refused: the `Erro` to answer, without the transaction IDs (the caller adds
/// those it has, see [`crate::Erro::answer`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Erro {code}: {}{}", code.description(), element.as_deref().map(|e| format!(" ({e}: {detail})")).unwrap_or_else(|| format!(" ({detail})")))]
pub struct Rejection {
    pub code: ErrorCode,
    /// The element at fault, as `errorDetail` names it (`purchaseAmount`,
    /// `messageExtension[1].data`); `None` when the fault is the message as a whole.
    pub element: Option<String>,
    /// A short explanation for the sender's developers. Never contains element values (a value
    /// may be a card number).
    pub detail: String,
}

impl Rejection {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            element: None,
            detail: detail.into(),
        }
    }

    pub fn element(code: ErrorCode, element: impl Into<String>, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            element: Some(element.into()),
            detail: detail.into(),
        }
    }

    /// The `errorDetail` value: the element names first, as the specification asks for 201 and
    /// 203 ("the data elements that are missing or invalid"), then the explanation; cut to the
    /// element's 2,048 characters.
    pub fn error_detail(&self) -> String {
        let mut detail = match &self.element {
            Some(element) => format!("{element}: {}", self.detail),
            None => self.detail.clone(),
        };
        if let Some((cut, _)) = detail.char_indices().nth(MAX_ERROR_DETAIL - 1) {
            detail.truncate(cut);
            detail.push('…');
        }
        detail
    }
}
