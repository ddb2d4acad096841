//! OpenID Client-Initiated Backchannel Authentication (CIBA Core 1.0): the client asks at the
//! backchannel authentication endpoint for a user's approval, the user approves on their own
//! device (a page reached from the operator's notification), and the client collects the
//! tokens at the token endpoint by polling, or after a ping.
//!
//! This module holds the rules: the request's parameters ([`validate`]), the stored request and
//! its typed states ([`CibaRecord`], [`CibaState`]), and the polling rule ([`poll`]). The grant
//! itself is `grant.rs`'s (it mints tokens like every grant); the endpoint, the page and the ping
//! are the server's.
//!
//! What Shonin offers: `poll` and `ping` (not `push`, which FAPI-CIBA §5.2.2 item 2 forbids),
//! `login_hint` as the user's username (no `login_hint_token`, no `id_token_hint`), no
//! `user_code` (the approval needs a passkey), signed requests (§7.1.1: [`signed_params`]) or
//! plain ones, and RFC 9396 `authorization_details` under the same policy as PAR, so a payment
//! is signed as in the code flow.

use crate::form::{FormError, FormParams};
use crate::rar::{AuthorizationDetailsPolicy, RarError};
use crate::request_params::{self, DetailsRefusal, ScopeRefusal};
use crate::token_record::sha256_hex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shonin_types::ErrorCode;
use shonin_types::flow::FlowState;
use time::{Duration, OffsetDateTime};

/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// CIBA Core §7.1: the binding message "SHOULD be relatively short"; what a phone's
/// notification shows in one or two lines.
pub const MAX_BINDING_MESSAGE_CHARS: usize = 64;
/// The longest `client_notification_token` accepted (RFC 6750 §2.1 syntax).
pub const MAX_NOTIFICATION_TOKEN: usize = 1024;
/// CIBA Core §7.1: the token needs at least 128 bits of entropy; 22 base64url characters hold
/// 128 bits, so a shorter one cannot.
pub const MIN_NOTIFICATION_TOKEN: usize = 22;
/// CIBA Core §11 `slow_down`: the interval grows by at least 5 s.
pub const SLOW_DOWN_STEP: i64 = 5;
/// The longest interval `slow_down` raises to.
pub const MAX_INTERVAL: i64 = 60;

const MAX_LOGIN_HINT: usize = 256;

/// How the client learns that a request was decided (CIBA Core §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The client polls the token endpoint.
    Poll,
    /// The server POSTs the `auth_req_id` to the client's notification endpoint; the client
    /// then calls the token endpoint.
    Ping,
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Poll => "poll",
            DeliveryMode::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "poll" => Some(DeliveryMode::Poll),
            "ping" => Some(DeliveryMode::Ping),
            _ => None,
        }
    }
}

/// The states of a backchannel request's flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CibaState {
    /// Waiting for the user; a poll rewrites it (its time and interval).
    Pending,
    Approved,
    Denied,
    /// Exchanged for tokens, once.
    Redeemed,
}

impl FlowState for CibaState {
    const KIND: &'static str = "ciba";
    const ALL: &'static [Self] = &[
        CibaState::Pending,
        CibaState::Approved,
        CibaState::Denied,
        CibaState::Redeemed,
    ];

    fn name(self) -> &'static str {
        match self {
            CibaState::Pending => "pending",
            CibaState::Approved => "approved",
            CibaState::Denied => "denied",
            CibaState::Redeemed => "redeemed",
        }
    }

    fn may_become(self, next: Self) -> bool {
        use CibaState::*;
        matches!(
            (self, next),
            (Pending, Pending | Approved | Denied) | (Approved, Redeemed)
        )
    }
}

/// Why a backchannel authentication request was refused (CIBA Core §13).
#[derive(Debug, thiserror::Error)]
pub enum CibaError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error("the client may not use the CIBA grant")]
    GrantNotAllowed,
    #[error("the signed authentication request is invalid: {0}")]
    RequestObject(String),
    #[error("with a signed request, `{0}` must be inside it, not beside it (CIBA Core §7.1.1)")]
    OutsideRequestObject(String),
    #[error("scope is required and must include openid (CIBA Core §7.1)")]
    OpenidScopeMissing,
    #[error("scope `{0}` is not allowed for this client")]
    ScopeNotAllowed(String),
    #[error("scope contains invalid characters")]
    ScopeSyntax,
    #[error(transparent)]
    Rar(#[from] RarError),
    #[error("exactly one of login_hint, login_hint_token and id_token_hint is required")]
    Hint,
    #[error("only login_hint (the user's username) is supported")]
    HintKind,
    #[error("user_code is not supported: the user approves with a passkey")]
    UserCode,
    #[error("binding_message must be 1-{MAX_BINDING_MESSAGE_CHARS} characters of displayable text")]
    BindingMessage,
    #[error("requested_expiry must be a whole number of seconds from 1 to {0}")]
    RequestedExpiry(i64),
    #[error(
        "client_notification_token is required for ping mode: {MIN_NOTIFICATION_TOKEN}-{MAX_NOTIFICATION_TOKEN} characters of RFC 6750 b64token"
    )]
    NotificationToken,
    #[error("client_notification_token is only for ping mode")]
    NotificationTokenUnexpected,
}

impl From<ScopeRefusal> for CibaError {
    fn from(e: ScopeRefusal) -> Self {
        match e {
            ScopeRefusal::Form(e) => CibaError::Form(e),
            ScopeRefusal::Syntax => CibaError::ScopeSyntax,
            ScopeRefusal::NotAllowed(s) => CibaError::ScopeNotAllowed(s),
        }
    }
}

impl From<DetailsRefusal> for CibaError {
    fn from(e: DetailsRefusal) -> Self {
        match e {
            DetailsRefusal::Form(e) => CibaError::Form(e),
            DetailsRefusal::Rar(e) => CibaError::Rar(e),
        }
    }
}

impl CibaError {
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            CibaError::GrantNotAllowed => ErrorCode::UnauthorizedClient,
            CibaError::RequestObject(_) | CibaError::OutsideRequestObject(_) => {
                ErrorCode::InvalidRequest
            }
            CibaError::OpenidScopeMissing
            | CibaError::ScopeNotAllowed(_)
            | CibaError::ScopeSyntax => ErrorCode::InvalidScope,
            CibaError::Rar(e) => e.oauth_error(),
            CibaError::BindingMessage => ErrorCode::InvalidBindingMessage,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// The client's side of a validated request.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide<'a> {
    pub scopes: &'a [String],
    pub authorization_details_types: &'a [String],
    pub allows_ciba: bool,
    pub mode: Option<DeliveryMode>,
}

/// A validated backchannel authentication request; the user it names is looked up by the
/// caller (`unknown_user_id` if there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct BackchannelRequest {
    pub login_hint: String,
    pub scope: Vec<String>,
    pub authorization_details: Vec<Value>,
    pub binding_message: Option<String>,
    pub acr_values: Vec<String>,
    /// Seconds the client asked the request to live, if it asked.
    pub requested_expiry: Option<i64>,
    pub client_notification_token: Option<String>,
}

fn is_b64token(s: &str) -> bool {
    // RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Checks a backchannel authentication request's parameters (CIBA Core §7.1) for `client`.
/// `max_expiry` bounds `requested_expiry`.
pub fn validate(
    params: &FormParams,
    client: ClientSide<'_>,
    details_policy: &AuthorizationDetailsPolicy,
    max_expiry: Duration,
) -> Result<BackchannelRequest, CibaError> {
    if !client.allows_ciba {
        return Err(CibaError::GrantNotAllowed);
    }
    if params.contains("request") {
        return Err(CibaError::RequestObject(
            "verify it first (signed_params)".into(),
        ));
    }
    let scope =
        request_params::scopes(params, client.scopes)?.ok_or(CibaError::OpenidScopeMissing)?;
    if !scope.iter().any(|s| s == "openid") {
        return Err(CibaError::OpenidScopeMissing);
    }
    // §7.1: exactly one hint.
    let hints = ["login_hint", "login_hint_token", "id_token_hint"]
        .iter()
        .filter(|h| params.contains(h))
        .count();
    if hints != 1 {
        return Err(CibaError::Hint);
    }
    let login_hint = params
        .get_bounded("login_hint", MAX_LOGIN_HINT)?
        .ok_or(CibaError::HintKind)?;
    if params.contains("user_code") {
        return Err(CibaError::UserCode);
    }
    let binding_message = match params.get("binding_message") {
        None => None,
        Some(m) => {
            let chars = m.chars().count();
            if chars == 0
                || chars > MAX_BINDING_MESSAGE_CHARS
                || !shonin_types::text::is_displayable(m)
            {
                return Err(CibaError::BindingMessage);
            }
            Some(m.to_owned())
        }
    };
    let max = max_expiry.whole_seconds();
    let requested_expiry = match params.get("requested_expiry") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) && !v.starts_with('+') => Some(n),
            _ => return Err(CibaError::RequestedExpiry(max)),
        },
    };
    let client_notification_token = match (client.mode, params.get("client_notification_token")) {
        (Some(DeliveryMode::Ping), Some(t))
            if (MIN_NOTIFICATION_TOKEN..=MAX_NOTIFICATION_TOKEN).contains(&t.len())
                && is_b64token(t) =>
        {
            Some(t.to_owned())
        }
        (Some(DeliveryMode::Ping), _) => return Err(CibaError::NotificationToken),
        (_, Some(_)) => return Err(CibaError::NotificationTokenUnexpected),
        (_, None) => None,
    };
    let authorization_details = request_params::authorization_details(
        params,
        details_policy,
        client.authorization_details_types,
    )?;
    let acr_values = request_params::acr_values(params)?;
    Ok(BackchannelRequest {
        login_hint: login_hint.to_owned(),
        scope,
        authorization_details,
        binding_message,
        acr_values,
        requested_expiry,
        client_notification_token,
    })
}

/// The authentication request parameters a signed request may carry as claims.
pub const REQUEST_PARAMS: &[&str] = &[
    "scope",
    "client_notification_token",
    "acr_values",
    "login_hint_token",
    "id_token_hint",
    "login_hint",
    "binding_message",
    "user_code",
    "requested_expiry",
    "authorization_details",
];

/// The longest a signed request may have lived from `iat` to `exp` (FAPI-CIBA §5.2.2 and FAPI
/// 1.0 Advanced §5.2.2 item 13 say 60 minutes).
pub const MAX_REQUEST_LIFETIME_SECS: i64 = 3600;

/// CIBA Core §7.1.1: the parameters of a signed authentication request whose signature the
/// caller has verified with the client's keys (`claims` are its payload; `exp`, `nbf` and
/// `iat` against the clock, too). `aud` must name `issuer`, `iss` the client; `iat`, `exp`,
/// `nbf` and `jti` are required (the caller spends the `jti` once); and no request parameter may
/// also appear outside the JWT in `form`. String claims become parameters as they are,
/// `requested_expiry` may be a number, `authorization_details` is a JSON array.
pub fn signed_params(
    claims: &serde_json::Map<String, Value>,
    form: &FormParams,
    client_id: &str,
    issuer: &str,
) -> Result<FormParams, CibaError> {
    let bad = |why: &str| CibaError::RequestObject(why.to_owned());
    if let Some(name) = REQUEST_PARAMS.iter().find(|n| form.contains(n)) {
        return Err(CibaError::OutsideRequestObject((*name).to_owned()));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("aud must be the issuer identifier"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err(bad("iss must be the client_id"));
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let (Some(iat), Some(exp), Some(_)) = (number("iat"), number("exp"), number("nbf")) else {
        return Err(bad("iat, exp and nbf are required"));
    };
    if exp.saturating_sub(iat) > MAX_REQUEST_LIFETIME_SECS {
        return Err(bad("exp may be at most 60 minutes after iat"));
    }
    if !claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|j| !j.is_empty() && j.len() <= 256)
    {
        return Err(bad("jti is required (1-256 characters)"));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in REQUEST_PARAMS {
        let value = match (claims.get(*name), *name) {
            (None, _) => continue,
            (Some(Value::String(s)), _) => s.clone(),
            (Some(Value::Number(n)), "requested_expiry") => n.to_string(),
            (Some(v @ Value::Array(_)), "authorization_details") => v.to_string(),
            (Some(_), name) => return Err(bad(&format!("{name} has the wrong JSON type"))),
        };
        pairs.push(((*name).to_owned(), value));
    }
    Ok(FormParams::from_pairs(pairs)?)
}

/// The one-time namespace of signed requests' `jti`s (with the client id in the key).
pub const REQUEST_JTI_NAMESPACE: &str = "ciba_request_jti";

/// What the user's approval adds to a request: the sign-in it rests on and the details granted
/// (a payment's detail carries its approval, RFC 9396 §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CibaApproval {
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub authorization_details: Vec<Value>,
    pub decided_at: i64,
}

/// A backchannel request as stored (flow kind `ciba`, id [`record_id`] of the `auth_req_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CibaRecord {
    pub client_id: String,
    /// The user's id (the ID token's `sub`).
    pub subject: String,
    pub username: String,
    pub scope: Vec<String>,
    pub authorization_details: Vec<Value>,
    pub binding_message: Option<String>,
    pub acr_values: Vec<String>,
    pub mode: DeliveryMode,
    /// Ping mode: what the notification carries. The `auth_req_id` is kept for it (it yields
    /// nothing without the client's authentication, CIBA Core §10.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingTarget>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: the `auth_req_id` is refused as `expired_token` from then on.
    pub expires_at: i64,
    /// The polling interval in seconds (CIBA Core §7.3), raised by `slow_down`.
    pub interval: i64,
    /// When the client last polled (unix seconds).
    pub last_poll: Option<i64>,
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<CibaApproval>,
}

/// What a ping notification sends (CIBA Core §10.2): the client's bearer token, and the
/// `auth_req_id` in the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingTarget {
    pub client_notification_token: String,
    pub auth_req_id: String,
}

/// How long after its expiry a request's record is kept, so a late poll is told
/// `expired_token` rather than `invalid_grant`.
pub const KEEP_AFTER_EXPIRY: Duration = Duration::minutes(10);

/// The flow-record id of an `auth_req_id`: hex SHA-256, so the database never holds the
/// identifier the client redeems. It is also the approval page's id: knowing it does not give
/// the `auth_req_id`.
pub fn record_id(auth_req_id: &str) -> String {
    sha256_hex(auth_req_id)
}

/// When the flow record itself expires.
pub fn record_expiry(expires_at: OffsetDateTime) -> OffsetDateTime {
    expires_at + KEEP_AFTER_EXPIRY
}

/// What a poll of a pending request is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// `authorization_pending` (CIBA Core §11).
    Pending,
    /// `slow_down`: the client polled within the interval, which grows.
    SlowDown,
}

/// A poll of a pending request at `now` (CIBA Core §7.3, §11): within the interval since the
/// last poll it is `slow_down` and the interval grows by [`SLOW_DOWN_STEP`] (up to
/// [`MAX_INTERVAL`]); otherwise `authorization_pending`. Either way the poll's time is recorded:
/// the record to write back is returned.
pub fn poll(record: &CibaRecord, now: i64) -> (Poll, CibaRecord) {
    let mut next = record.clone();
    next.last_poll = Some(now);
    let early = record
        .last_poll
        .is_some_and(|last| now.saturating_sub(last) < record.interval);
    if early {
        next.interval = (record.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
        (Poll::SlowDown, next)
    } else {
        (Poll::Pending, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CibaRecord {
        CibaRecord {
            client_id: "c".into(),
            subject: "u".into(),
            username: "alice".into(),
            scope: vec!["openid".into()],
            authorization_details: Vec::new(),
            binding_message: None,
            acr_values: Vec::new(),
            mode: DeliveryMode::Poll,
            ping: None,
            created_at: 1000,
            expires_at: 1300,
            interval: 5,
            last_poll: None,
            grant_id: "g".into(),
            approval: None,
        }
    }

    #[test]
    fn polling_within_the_interval_slows_the_client_down() {
        let (p, r) = poll(&record(), 1001);
        assert_eq!((p, r.last_poll, r.interval), (Poll::Pending, Some(1001), 5));
        let (p, r) = poll(&r, 1004);
        assert_eq!((p, r.interval), (Poll::SlowDown, 10));
        let (p, r) = poll(&r, 1013);
        assert_eq!((p, r.interval), (Poll::SlowDown, 15));
        let (p, r) = poll(&r, 1028);
        assert_eq!((p, r.interval), (Poll::Pending, 15));
        let mut slow = r;
        slow.interval = MAX_INTERVAL;
        let (_, r) = poll(&slow, 1029);
        assert_eq!(r.interval, MAX_INTERVAL);
    }

    #[test]
    fn the_states_move_only_forward() {
        use CibaState::*;
        assert!(Pending.may_become(Pending));
        assert!(Pending.may_become(Approved));
        assert!(Pending.may_become(Denied));
        assert!(Approved.may_become(Redeemed));
        assert!(!Approved.may_become(Pending));
        assert!(!Denied.may_become(Approved));
        assert!(!Redeemed.may_become(Redeemed));
        assert!(!Pending.may_become(Redeemed));
    }

    #[test]
    fn notification_tokens_follow_rfc_6750() {
        assert!(is_b64token("abcDEF012-._~+/=="));
        assert!(!is_b64token("=="));
        assert!(!is_b64token("a b"));
        assert!(!is_b64token("a=b"));
    }
}
