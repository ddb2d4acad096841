//! OAuth error codes as one typed enum, each with the HTTP status it is answered with. Every
//! domain error names its code through this type (`oauth_error()`), and the server's one
//! mapping (`shonin-server/src/oauth/reject.rs`) takes the status from here, never by matching
//! strings.

use std::fmt;

/// An error code of the OAuth "Extensions Error" registry that Shonin answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §5.2.
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 6749 §4.1.2.1.
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 9449 §5, §8.
    InvalidDpopProof,
    UseDpopNonce,
    /// RFC 6750 §3.1.
    InvalidToken,
    InsufficientScope,
    /// RFC 9396 §5.
    InvalidAuthorizationDetails,
    /// OpenID Connect Core §3.1.2.6 (a `request` object, which FAPI 2.0 with PAR does not use).
    RequestNotSupported,
    /// OpenID CIBA Core §11 (token endpoint, with RFC 8628 §3.5's meaning).
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    /// OpenID CIBA Core §13 (backchannel authentication endpoint).
    UnknownUserId,
    InvalidBindingMessage,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidAuthorizationDetails => "invalid_authorization_details",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::UnknownUserId => "unknown_user_id",
            ErrorCode::InvalidBindingMessage => "invalid_binding_message",
        }
    }

    /// The status at the token-style endpoints (token, PAR, introspection, revocation):
    /// RFC 6749 §5.2 — 401 for `invalid_client`, 400 otherwise; a server fault is 500 and an
    /// outage 503 (RFC 6749 §4.1.2.1 codes, carried over to these endpoints).
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// The status at a resource endpoint: RFC 6750 §3.1 — 400 `invalid_request`, 403
    /// `insufficient_scope`, 401 for the rest (with a challenge); server faults as above.
    pub const fn resource_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 401,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Lets tests and logs compare a code with the text the spec gives it.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<ErrorCode> for &str {
    fn eq(&self, other: &ErrorCode) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn statuses_follow_rfc_6749_and_rfc_6750() {
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
        assert_eq!(ErrorCode::UseDpopNonce.status(), 400);
        assert_eq!(ErrorCode::TemporarilyUnavailable.status(), 503);
        assert_eq!(ErrorCode::InvalidToken.resource_status(), 401);
        assert_eq!(ErrorCode::InvalidDpopProof.resource_status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.resource_status(), 403);
        assert_eq!(ErrorCode::InvalidRequest.resource_status(), 400);
        assert_eq!(ErrorCode::ServerError.resource_status(), 500);
    }

    #[test]
    fn codes_are_the_registered_strings() {
        assert_eq!(ErrorCode::InvalidDpopProof, "invalid_dpop_proof");
        assert_eq!(
            serde_json::to_string(&ErrorCode::UseDpopNonce).unwrap(),
            "\"use_dpop_nonce\""
        );
    }
}
