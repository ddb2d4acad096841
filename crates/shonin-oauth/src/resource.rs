//! The resource-server side (FAPI 2.0 §5.3.3): accept an access token only from the
//! `Authorization` header, verify its signature, issuer, type and expiry, check it was not
//! revoked, and check the sender constraint: the DPoP proof that must accompany a DPoP-bound
//! token (RFC 9449 §7) and the client certificate of the connection for a certificate-bound token
//! (RFC 8705 §3). Shonin's own `/userinfo` uses this, and a Rust API can embed it: it passes the
//! `x5t#S256` of the TLS client certificate ([`crate::mtls::x5t_s256`] over the leaf's DER).

use crate::dpop::{DpopError, DpopRequest, DpopVerifier, Htu};
use crate::token_record::{TokenStore, token_hash};
use serde_json::{Map, Value};
use shonin_jose::VerifyOptions;
use shonin_types::ErrorCode;
use shonin_types::StorageError;
use shonin_types::unit::UnitOfWork;
use time::OffsetDateTime;

/// Why a resource request was refused; `oauth_error()` is the RFC 6750 §3.1 / RFC 9449 §7.1 code.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("no access token in the Authorization header")]
    MissingToken,
    #[error("access tokens are not accepted in the query string or body")]
    TokenInQuery,
    #[error("unsupported authorization scheme")]
    UnsupportedScheme,
    #[error("the access token is invalid: {0}")]
    InvalidToken(String),
    #[error("the access token is revoked, expired or unknown")]
    Inactive,
    #[error("a DPoP-bound access token was presented with the Bearer scheme")]
    BoundTokenAsBearer,
    #[error("the access token is not sender-constrained")]
    NotSenderConstrained,
    #[error("a DPoP proof is required")]
    MissingProof,
    #[error("the access token is not DPoP-bound; present it with the Bearer scheme")]
    NotDpopBound,
    #[error("the access token is bound to a client certificate and none was presented")]
    MissingCertificate,
    #[error("the access token is bound to another client certificate")]
    CertificateMismatch,
    #[error(transparent)]
    Dpop(#[from] DpopError),
    #[error("the token lacks scope `{0}`")]
    InsufficientScope(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ResourceError {
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            ResourceError::MissingToken => ErrorCode::InvalidToken,
            ResourceError::TokenInQuery | ResourceError::UnsupportedScheme => {
                ErrorCode::InvalidRequest
            }
            ResourceError::InvalidToken(_)
            | ResourceError::Inactive
            | ResourceError::BoundTokenAsBearer
            | ResourceError::NotSenderConstrained
            | ResourceError::NotDpopBound
            | ResourceError::MissingCertificate
            | ResourceError::CertificateMismatch => ErrorCode::InvalidToken,
            ResourceError::MissingProof => ErrorCode::InvalidDpopProof,
            ResourceError::Dpop(e) => e.oauth_error(),
            ResourceError::InsufficientScope(_) => ErrorCode::InsufficientScope,
            ResourceError::Storage(e) => e.oauth_error(),
        }
    }

    /// The `error` of the `WWW-Authenticate` challenge: none when the request carried no
    /// authentication at all (RFC 6750 §3.1 "SHOULD NOT include an error code or other error
    /// information"), else [`ResourceError::oauth_error`].
    pub fn challenge_error(&self) -> Option<ErrorCode> {
        match self {
            ResourceError::MissingToken => None,
            other => Some(other.oauth_error()),
        }
    }
}

/// One resource request, as the HTTP layer sees it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRequest<'a> {
    /// The `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// The single `DPoP` header value.
    pub dpop: Option<&'a str>,
    pub method: &'a str,
    /// The request URL as the client addressed it (scheme, host, path).
    pub url: &'a str,
    /// Whether the query string or form body carried `access_token` (never allowed).
    pub token_in_query: bool,
    /// `x5t#S256` of the client certificate on this connection (or forwarded by a trusted
    /// TLS-terminating proxy), if one was presented.
    pub client_certificate: Option<&'a str>,
}

/// A verified access token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAccess {
    pub token: String,
    pub claims: Map<String, Value>,
}

impl VerifiedAccess {
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|t| t == scope))
    }
}

/// Verifies a resource request against the issuer's published keys. The DPoP proof's `jti` is
/// staged in `unit`; the caller commits it before it answers (RFC 9449 §11.1).
pub async fn verify(
    req: ResourceRequest<'_>,
    issuer: &str,
    jwks: &Value,
    dpop: &DpopVerifier,
    tokens: &dyn TokenStore,
    unit: &mut UnitOfWork,
    now: OffsetDateTime,
) -> Result<VerifiedAccess, ResourceError> {
    // FAPI 2.0 §5.3.3 item 2: never from the query.
    if req.token_in_query {
        return Err(ResourceError::TokenInQuery);
    }
    let auth = req.authorization.ok_or(ResourceError::MissingToken)?;
    let (scheme, token) = auth
        .split_once(' ')
        .ok_or(ResourceError::UnsupportedScheme)?;
    let token = token.trim();
    let is_dpop = scheme.eq_ignore_ascii_case("DPoP");
    if !is_dpop && !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(ResourceError::UnsupportedScheme);
    }
    let opts = VerifyOptions::new(now).with_typ("at+jwt");
    let claims = shonin_jose::verify_jwt(token, jwks, &opts)
        .map_err(|e| ResourceError::InvalidToken(e.to_string()))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(ResourceError::InvalidToken("wrong issuer".into()));
    }
    // FAPI 2.0 §5.3.3 item 3: revocation status.
    match tokens.get_token(&token_hash(token)).await? {
        Some(record) if record.is_active(now) => {}
        _ => return Err(ResourceError::Inactive),
    }
    let cnf = claims.get("cnf");
    let member = |name: &str| cnf.and_then(|c| c.get(name)).and_then(Value::as_str);
    let (jkt, x5t) = (member("jkt"), member("x5t#S256"));
    if jkt.is_none() && x5t.is_none() {
        return Err(ResourceError::NotSenderConstrained);
    }
    // RFC 8705 §3: the certificate of this connection must be the one the token is bound to.
    if let Some(bound) = x5t {
        let presented = req
            .client_certificate
            .ok_or(ResourceError::MissingCertificate)?;
        if !shonin_types::constant_time_eq(bound.as_bytes(), presented.as_bytes()) {
            return Err(ResourceError::CertificateMismatch);
        }
    }
    match jkt {
        // RFC 9449 §7.2: a DPoP-bound token must not be accepted as a bearer token.
        Some(_) if !is_dpop => return Err(ResourceError::BoundTokenAsBearer),
        Some(jkt) => {
            let proof = req.dpop.ok_or(ResourceError::MissingProof)?;
            let htu = Htu::parse(req.url)?;
            let dreq = DpopRequest {
                method: req.method,
                uri: &htu,
                access_token: Some(token),
                expected_jkt: Some(jkt),
            };
            dpop.verify_proof(proof, &dreq, now, unit).await?;
        }
        // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only.
        None if is_dpop => return Err(ResourceError::NotDpopBound),
        None => {}
    }
    Ok(VerifiedAccess {
        token: token.to_owned(),
        claims,
    })
}

/// The `client_id` claim of the presented token, read WITHOUT verifying it. Only for choosing a
/// stricter policy before verification (the client's DPoP nonce requirement); [`verify`] checks
/// the token in full afterwards, so a forged value can only make the check stricter or fail it.
pub fn unverified_client_id(authorization: Option<&str>) -> Option<String> {
    let (_, token) = authorization?.split_once(' ')?;
    let payload = token.trim().split('.').nth(1)?;
    let bytes = shonin_jose::b64url_decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("client_id")?.as_str().map(str::to_owned)
}
