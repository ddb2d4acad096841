//! Pushed authorization requests (RFC 9126) under the FAPI 2.0 rules: every authorization request
//! arrives here, from an authenticated client, and `/authorize` only ever sees the `request_uri`.

use crate::form::{FormError, FormParams};
use crate::pkce::{CodeChallenge, PkceError};
use crate::rar::{AuthorizationDetailsPolicy, RarError};
use crate::request_params::{self, DetailsRefusal, ScopeRefusal};
use serde::{Deserialize, Serialize};
use shonin_types::ErrorCode;
use time::{Duration, OffsetDateTime};

/// RFC 9126 §2.2: the `request_uri` is a URN with this prefix and an unguessable reference.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// The states of a pushed request's flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParState {
    /// Pushed; the browser must reach `/authorize` within the request's `expires_in`.
    Pushed,
    /// The browser reached `/authorize`: an authorization session that lives its own lifetime
    /// (`oauth.authorization_session_secs`) while the user signs in and decides.
    Arrived,
    /// Used at `/authorize` (approved or denied): one use only (FAPI 2.0 §5.3.2.2 note 3).
    Done,
}

impl shonin_types::flow::FlowState for ParState {
    const KIND: &'static str = "par";
    const ALL: &'static [Self] = &[ParState::Pushed, ParState::Arrived, ParState::Done];

    fn name(self) -> &'static str {
        match self {
            ParState::Pushed => "pushed",
            ParState::Arrived => "arrived",
            ParState::Done => "done",
        }
    }

    fn may_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (ParState::Pushed, ParState::Arrived | ParState::Done)
                | (ParState::Arrived, ParState::Done)
        )
    }
}

/// The flow-record kind of a pushed request.
pub const FLOW_KIND: &str = <ParState as shonin_types::flow::FlowState>::KIND;
/// FAPI 2.0 §5.3.2.2 item 9: `expires_in` must be below 600 s.
pub const MAX_LIFETIME: Duration = Duration::seconds(599);

const MAX_STATE: usize = 1024;
const MAX_REDIRECT_URI: usize = 2048;
/// FAPI 2.0 §5.3.2.2 item 11: nonces up to 64 characters must be accepted; longer ones up to this
/// length are accepted as well, beyond it refused.
const MAX_NONCE: usize = 255;

/// Parameters an authorization request may carry; only these are stored.
pub const AUTHORIZATION_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "authorization_details",
    "dpop_jkt",
    "acr_values",
    "max_age",
    "prompt",
    "request",
    "request_uri",
    "response_mode",
];

/// Why a pushed request was refused. Each variant names its OAuth error code.
#[derive(Debug, thiserror::Error)]
pub enum ParError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error("response_type must be \"code\"")]
    ResponseType,
    #[error("response_type is required")]
    MissingResponseType,
    #[error("client_id does not match the authenticated client")]
    ClientIdMismatch,
    #[error("redirect_uri is required")]
    MissingRedirectUri,
    #[error("redirect_uri is not registered for this client")]
    RedirectUriNotRegistered,
    #[error(transparent)]
    Pkce(#[from] PkceError),
    #[error("scope `{0}` is not allowed for this client")]
    ScopeNotAllowed(String),
    #[error("scope contains invalid characters")]
    ScopeSyntax,
    #[error(transparent)]
    Rar(#[from] RarError),
    #[error("request_uri must not be sent to the pushed authorization request endpoint")]
    RequestUriAtPar,
    #[error("request objects are not supported; send the parameters directly")]
    RequestObject,
    #[error("response_mode must be \"query\"")]
    ResponseMode,
    #[error("the client is not allowed the authorization_code grant")]
    GrantNotAllowed,
    #[error("nonce contains control characters")]
    NonceSyntax,
    #[error("max_age must be a non-negative integer")]
    MaxAge,
    #[error("prompt value is not supported")]
    Prompt,
    #[error("dpop_jkt does not match the key of the DPoP proof")]
    DpopJktMismatch,
    #[error("dpop_jkt is not a valid JWK thumbprint")]
    DpopJktSyntax,
}

impl From<ScopeRefusal> for ParError {
    fn from(e: ScopeRefusal) -> Self {
        match e {
            ScopeRefusal::Form(e) => ParError::Form(e),
            ScopeRefusal::Syntax => ParError::ScopeSyntax,
            ScopeRefusal::NotAllowed(s) => ParError::ScopeNotAllowed(s),
        }
    }
}

impl From<DetailsRefusal> for ParError {
    fn from(e: DetailsRefusal) -> Self {
        match e {
            DetailsRefusal::Form(e) => ParError::Form(e),
            DetailsRefusal::Rar(e) => ParError::Rar(e),
        }
    }
}

impl ParError {
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            ParError::ResponseType => ErrorCode::UnsupportedResponseType,
            ParError::ScopeNotAllowed(_) | ParError::ScopeSyntax => ErrorCode::InvalidScope,
            ParError::Rar(e) => e.oauth_error(),
            ParError::Pkce(e) => e.oauth_error(),
            ParError::RequestObject => ErrorCode::RequestNotSupported,
            ParError::GrantNotAllowed => ErrorCode::UnauthorizedClient,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A validated authorization request, as stored until the user finishes at `/authorize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub authorization_details: Vec<serde_json::Value>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
    pub acr_values: Vec<String>,
    pub max_age: Option<u64>,
    pub prompt: Option<String>,
}

/// What the client registry says the client may ask for.
#[derive(Debug, Clone, Copy)]
pub struct ClientPolicy<'a> {
    pub client_id: &'a str,
    pub redirect_uris: &'a [String],
    pub scopes: &'a [String],
    pub authorization_details_types: &'a [String],
    pub allows_authorization_code: bool,
}

fn is_thumbprint(s: &str) -> bool {
    // base64url of a SHA-256 digest, no padding.
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates a pushed authorization request from an already authenticated client.
///
/// `proof_jkt` is the thumbprint of a DPoP proof sent with the PAR request, if any (RFC 9449 §10.1:
/// it binds the code to that key, and must agree with a `dpop_jkt` parameter when both are sent).
pub fn validate(
    params: &FormParams,
    client: ClientPolicy<'_>,
    details_policy: &AuthorizationDetailsPolicy,
    proof_jkt: Option<&str>,
) -> Result<PushedRequest, ParError> {
    if params.contains("request_uri") {
        return Err(ParError::RequestUriAtPar);
    }
    if params.contains("request") {
        return Err(ParError::RequestObject);
    }
    if let Some(id) = params.get("client_id")
        && id != client.client_id
    {
        return Err(ParError::ClientIdMismatch);
    }
    match params.get("response_type") {
        None => return Err(ParError::MissingResponseType),
        Some("code") => {}
        Some(_) => return Err(ParError::ResponseType),
    }
    if !client.allows_authorization_code {
        return Err(ParError::GrantNotAllowed);
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(ParError::ResponseMode);
    }
    // FAPI 2.0 §5.3.2.2 item 4: redirect_uri is required; RFC 9126 §2.1 with exact matching.
    let redirect_uri = params
        .get_bounded("redirect_uri", MAX_REDIRECT_URI)?
        .ok_or(ParError::MissingRedirectUri)?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(ParError::RedirectUriNotRegistered);
    }
    let challenge = CodeChallenge::parse(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )?;
    let scope = request_params::scopes(params, client.scopes)?.unwrap_or_default();
    let authorization_details = request_params::authorization_details(
        params,
        details_policy,
        client.authorization_details_types,
    )?;
    let nonce = params.get_bounded("nonce", MAX_NONCE)?;
    if nonce.is_some_and(|n| n.chars().any(char::is_control)) {
        return Err(ParError::NonceSyntax);
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| ParError::MaxAge)?),
    };
    let prompt = params.get("prompt");
    if let Some(p) = prompt
        && !p.split(' ').all(|v| matches!(v, "login" | "consent"))
    {
        return Err(ParError::Prompt);
    }
    let dpop_jkt = match (params.get("dpop_jkt"), proof_jkt) {
        (Some(p), _) if !is_thumbprint(p) => return Err(ParError::DpopJktSyntax),
        (Some(p), Some(h)) if p != h => return Err(ParError::DpopJktMismatch),
        (Some(p), _) => Some(p.to_owned()),
        (None, Some(h)) => Some(h.to_owned()),
        (None, None) => None,
    };
    let acr_values = request_params::acr_values(params)?;
    Ok(PushedRequest {
        client_id: client.client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: params.get_bounded("state", MAX_STATE)?.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.as_str().to_owned(),
        authorization_details,
        dpop_jkt,
        acr_values,
        max_age,
        prompt: prompt.map(str::to_owned),
    })
}

/// Builds the `request_uri` for a fresh random reference.
pub fn request_uri(reference: &str) -> String {
    format!("{REQUEST_URI_PREFIX}{reference}")
}

/// The reference inside a `request_uri`, if it has our form.
pub fn reference_of(request_uri: &str) -> Option<&str> {
    request_uri.strip_prefix(REQUEST_URI_PREFIX).filter(|r| {
        !r.is_empty()
            && r.len() <= 128
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The expiry of a request pushed at `now` with `lifetime` (capped below 600 s).
pub fn expires_at(now: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
    now + lifetime.min(MAX_LIFETIME)
}
