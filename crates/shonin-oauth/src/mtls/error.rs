//! Why a client certificate was refused: one variant per check.

/// A refused client certificate (RFC 8705). At the token-style endpoints every variant is
/// `invalid_client` (RFC 8705 §2); at a resource the binding checks are `invalid_token` (§3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtlsError {
    /// No certificate came with the request (none in the TLS handshake, none from a trusted
    /// proxy).
    #[error("no client certificate was presented")]
    NoCertificate,
    /// The certificate is not DER X.509 (or the proxy header did not hold one).
    #[error("the client certificate could not be parsed")]
    Unparseable,
    /// `now` is after the certificate's notAfter (RFC 5280 §4.1.2.5).
    #[error("the client certificate has expired")]
    Expired,
    /// `now` is before the certificate's notBefore.
    #[error("the client certificate is not valid yet")]
    NotYetValid,
    /// The certificate does not chain to the operator's client CA bundle (RFC 8705 §2.1). The
    /// reason is one of a fixed set of phrases: the path builder's own text stays in the log.
    #[error("the client certificate does not chain to a trusted client CA: {0}")]
    Untrusted(&'static str),
    /// `tls_client_auth`: no attribute of the certificate equals the registered subject DN or
    /// SAN (RFC 8705 §2.1.2).
    #[error("the client certificate's {0} does not match the registered value")]
    SubjectMismatch(&'static str),
    /// `self_signed_tls_client_auth`: the certificate's public key is none of the client's
    /// registered keys (RFC 8705 §2.2).
    #[error("the client certificate's public key is not in the client's JWK set")]
    KeyNotRegistered,
    /// The operator revoked this certificate (`shonin clients update --revoke-certificate`).
    #[error("the client certificate was revoked by the operator")]
    Revoked,
    /// The client has pinned certificates and this is none of them.
    #[error("the client certificate is not one of the client's pinned certificates")]
    NotPinned,
    /// A certificate-bound token was presented with another certificate, or none (RFC 8705 §3).
    #[error("the access token is bound to another client certificate")]
    BindingMismatch,
}
