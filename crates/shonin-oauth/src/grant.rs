//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6) under FAPI 2.0: authorization codes
//! that live 60 s and are used once, sender-constrained tokens only, refresh tokens bound to the
//! same DPoP key and not rotated (FAPI 2.0 §5.3.2.1 item 8) unless the operator turns rotation
//! on ([`TokenPolicy::refresh_rotation_grace`]).
//!
//! The HTTP layer has already authenticated the client and verified the DPoP proof; the
//! [`TokenService`] takes the results, reads what it needs through the ports and **stages** what
//! it would write (token records, the code's redemption, a rotated token's new expiry) in the
//! request's unit of work. Nothing is written until the caller commits the unit with its audit
//! entry; a lost compare-and-set is then settled by [`TokenService::settle_conflict`].

use crate::claims::{
    self, ACCESS_TOKEN_TYP, AccessTokenInput, ClaimsError, ID_TOKEN_TYP, IdTokenInput,
};
use crate::client::{Client, ClientId, GrantType};
use crate::cnf::Confirmation;
use crate::form::FormParams;
use crate::pkce::{self, CodeChallenge, CodeVerifier, PkceError};
use crate::token_record::{
    TokenKind, TokenRecord, TokenStore, sha256_hex, shorten_token_update, token_hash,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shonin_keys::{KeyError, Signer, sign_jwt};
use shonin_types::ErrorCode;
use shonin_types::StorageError;
use shonin_types::flow::{self, Flow, FlowError, FlowState};
use shonin_types::ports::FlowStore;
use shonin_types::unit::UnitOfWork;
use time::{Duration, OffsetDateTime};

/// FAPI 2.0 §5.3.2.1 item 10: codes live at most 60 s.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// The states of an authorization code's flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    Issued,
    /// Exchanged for tokens, once.
    Redeemed,
    /// A redeemed code presented again: its grant's tokens are revoked (RFC 6749 §10.5).
    Reused,
}

impl FlowState for CodeState {
    const KIND: &'static str = "code";
    const ALL: &'static [Self] = &[CodeState::Issued, CodeState::Redeemed, CodeState::Reused];

    fn name(self) -> &'static str {
        match self {
            CodeState::Issued => "issued",
            CodeState::Redeemed => "redeemed",
            CodeState::Reused => "reused",
        }
    }

    fn may_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (CodeState::Issued, CodeState::Redeemed) | (CodeState::Redeemed, CodeState::Reused)
        )
    }
}

/// Flow-record kind of an authorization code.
pub const CODE_KIND: &str = CodeState::KIND;

/// Why a grant was refused. Each variant names its OAuth error code.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("grant_type is required")]
    MissingGrantType,
    #[error("grant_type `{0}` is not supported")]
    UnsupportedGrantType(String),
    #[error("the client may not use this grant type")]
    GrantNotAllowed,
    #[error("parameter `{0}` is required")]
    MissingParameter(&'static str),
    #[error("the authorization code is invalid or expired")]
    UnknownCode,
    #[error("the authorization code was already used; tokens issued from it are revoked")]
    CodeReused,
    #[error("the authorization code was issued to another client")]
    CodeClientMismatch,
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    #[error(transparent)]
    Pkce(#[from] PkceError),
    #[error("the DPoP proof is signed by another key than the one the grant is bound to")]
    DpopKeyMismatch,
    /// RFC 8705 §3: the refresh token is bound to another client certificate (or the request
    /// came without one).
    #[error("the refresh token is bound to another client certificate")]
    CertificateMismatch,
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    /// A rotated refresh token presented after its retry grace window: someone holds a copy, so
    /// every token of its grant is revoked (RFC 9700 §4.14.2), as for a reused code.
    #[error(
        "the refresh token was rotated and used again; tokens issued from its grant are revoked"
    )]
    RefreshTokenReused,
    #[error("scope `{0}` is not allowed for this client")]
    ScopeNotAllowed(String),
    /// CIBA Core §11.
    #[error("the user has not yet approved or denied the request")]
    AuthorizationPending,
    #[error("polling too fast: wait at least {0} seconds between token requests")]
    SlowDown(i64),
    #[error("the auth_req_id has expired; make a new authentication request")]
    ExpiredToken,
    #[error("the user denied the request")]
    AccessDenied,
    #[error("the auth_req_id is invalid or was issued to another client")]
    UnknownAuthReqId,
    #[error("the auth_req_id was already exchanged for tokens")]
    AuthReqIdUsed,
    #[error("requested scope exceeds the original grant")]
    ScopeExceedsGrant,
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error("signing failed: {0}")]
    Sign(#[from] KeyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error("stored grant could not be decoded: {0}")]
    Corrupt(String),
}

impl GrantError {
    pub fn oauth_error(&self) -> ErrorCode {
        match self {
            GrantError::MissingGrantType | GrantError::MissingParameter(_) => {
                ErrorCode::InvalidRequest
            }
            GrantError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            GrantError::GrantNotAllowed => ErrorCode::UnauthorizedClient,
            GrantError::UnknownCode
            | GrantError::CodeReused
            | GrantError::CodeClientMismatch
            | GrantError::RedirectUriMismatch
            | GrantError::InvalidRefreshToken
            | GrantError::RefreshTokenReused
            | GrantError::CertificateMismatch => ErrorCode::InvalidGrant,
            GrantError::Pkce(e) => e.oauth_error(),
            GrantError::DpopKeyMismatch => ErrorCode::InvalidDpopProof,
            GrantError::ScopeNotAllowed(_) | GrantError::ScopeExceedsGrant => {
                ErrorCode::InvalidScope
            }
            GrantError::AuthorizationPending => ErrorCode::AuthorizationPending,
            GrantError::SlowDown(_) => ErrorCode::SlowDown,
            GrantError::ExpiredToken => ErrorCode::ExpiredToken,
            GrantError::AccessDenied => ErrorCode::AccessDenied,
            GrantError::UnknownAuthReqId | GrantError::AuthReqIdUsed => ErrorCode::InvalidGrant,
            GrantError::Claims(e) => e.oauth_error(),
            GrantError::Storage(e) => e.oauth_error(),
            // An illegal move or unknown stored state is a server-side fault, answered as a
            // storage failure (503), never as the client's mistake.
            GrantError::Flow(_) => ErrorCode::TemporarilyUnavailable,
            // A stored grant that does not decode is a storage failure like any other (503).
            GrantError::Corrupt(_) => ErrorCode::TemporarilyUnavailable,
            GrantError::Sign(_) => ErrorCode::ServerError,
        }
    }
}

/// What an authorization code stands for, stored until it is redeemed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub dpop_jkt: Option<String>,
    pub scope: Vec<String>,
    pub authorization_details: Vec<Value>,
    pub subject: String,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub nonce: Option<String>,
    pub grant_id: String,
}

/// The flow-record id of a code: hex SHA-256, so the database never holds the code itself.
pub fn code_record_id(code: &str) -> String {
    sha256_hex(code)
}

/// Lifetimes and audience of issued tokens.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub issuer: String,
    /// `aud` of access tokens (the resource servers); the issuer when empty.
    pub audience: Vec<String>,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub id_token_lifetime: Duration,
    /// Refresh-token rotation. `None` (the default, as FAPI 2.0 §5.3.2.1 item 8 asks): a refresh
    /// returns no new refresh token and the old one stays valid. `Some(grace)`: every refresh
    /// returns a new refresh token of the same grant, bound to the same DPoP key and expiring
    /// when the old one would have, and the old one expires `grace` later — the time-limited way
    /// to retry with the old token that item 8 requires (a lost response, a crash before the
    /// new token was stored). Revocation is unaffected: revoking any refresh token of the grant
    /// (RFC 7009) revokes all of them.
    pub refresh_rotation_grace: Option<Duration>,
}

/// The token endpoint's logic (RFC 6749 §3.2): one [`TokenService::exchange`] for every grant.
/// It reads through the ports and stages its writes in the caller's unit of work.
#[derive(Debug, Clone, Copy)]
pub struct TokenService<'a> {
    pub policy: &'a TokenPolicy,
    pub signer: &'a dyn Signer,
    pub flows: &'a dyn FlowStore,
    /// Read, and written directly only on the refusal paths (a reused code or refresh token
    /// revokes its grant, RFC 6749 §10.5, RFC 9700 §4.14.2).
    pub tokens: &'a dyn TokenStore,
    pub now: OffsetDateTime,
}

/// A grant request, by `grant_type` (RFC 6749 §4.1.3, §4.4.2, §6).
#[derive(Debug, Clone, Copy)]
pub enum GrantRequest<'a> {
    AuthorizationCode(CodeRequest<'a>),
    RefreshToken {
        refresh_token: Option<&'a str>,
        scope: Option<&'a str>,
    },
    ClientCredentials {
        scope: Option<&'a str>,
    },
    /// CIBA Core §10.1.
    Ciba {
        auth_req_id: Option<&'a str>,
    },
}

impl<'a> GrantRequest<'a> {
    /// The grant a token request's form asks for.
    pub fn from_form(form: &'a FormParams) -> Result<Self, GrantError> {
        match form.get("grant_type") {
            None => Err(GrantError::MissingGrantType),
            Some("authorization_code") => Ok(GrantRequest::AuthorizationCode(CodeRequest {
                code: form.get("code"),
                redirect_uri: form.get("redirect_uri"),
                code_verifier: form.get("code_verifier"),
            })),
            Some("refresh_token") => Ok(GrantRequest::RefreshToken {
                refresh_token: form.get("refresh_token"),
                scope: form.get("scope"),
            }),
            Some("client_credentials") => Ok(GrantRequest::ClientCredentials {
                scope: form.get("scope"),
            }),
            Some(crate::ciba::CIBA_GRANT_TYPE) => Ok(GrantRequest::Ciba {
                auth_req_id: form.get("auth_req_id"),
            }),
            // FAPI 2.0 §5.3.2.1 item 2: the password grant is rejected like any unknown grant.
            Some(other) => Err(GrantError::UnsupportedGrantType(
                other.chars().take(64).collect(),
            )),
        }
    }

    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            GrantRequest::AuthorizationCode(_) => "authorization_code",
            GrantRequest::RefreshToken { .. } => "refresh_token",
            GrantRequest::ClientCredentials { .. } => "client_credentials",
            GrantRequest::Ciba { .. } => crate::ciba::CIBA_GRANT_TYPE,
        }
    }
}

/// A token response whose writes are staged, and what a lost compare-and-set of them means.
#[derive(Debug)]
pub struct Exchange {
    pub response: TokenResponse,
    pub on_conflict: Conflict,
}

/// What it means when the unit of an [`Exchange`] commits as a conflict.
#[derive(Debug, Clone)]
pub enum Conflict {
    /// The grant staged no compare-and-set.
    Impossible,
    /// Another request redeemed the code first: this one is a reuse (RFC 6749 §10.5).
    CodeRedeemedElsewhere {
        code: Flow<CodeState>,
        grant_id: String,
    },
    /// The refresh token was revoked while it was being rotated.
    RefreshTokenRevoked,
    /// Another request redeemed the `auth_req_id` first.
    AuthReqIdRedeemedElsewhere,
}

impl TokenService<'_> {
    /// Runs the grant of `req` for `client`, binding the new tokens to `cnf`, and stages its
    /// writes in `unit`.
    pub async fn exchange(
        &self,
        client: &Client,
        cnf: &Confirmation,
        req: GrantRequest<'_>,
        unit: &mut UnitOfWork,
    ) -> Result<Exchange, GrantError> {
        match req {
            GrantRequest::AuthorizationCode(code) => {
                authorization_code(self, client, cnf, code, unit).await
            }
            GrantRequest::RefreshToken {
                refresh_token: rt,
                scope,
            } => refresh_token(self, client, cnf, rt, scope, unit).await,
            GrantRequest::ClientCredentials { scope } => {
                client_credentials(self, client, cnf, scope, unit).await
            }
            GrantRequest::Ciba { auth_req_id } => ciba(self, client, cnf, auth_req_id, unit).await,
        }
    }

    /// The refusal for an exchange whose unit lost its compare-and-set, after what that loss
    /// requires: a code redeemed by another request is a reuse, and its grant is revoked.
    pub async fn settle_conflict(&self, conflict: Conflict) -> GrantError {
        match conflict {
            Conflict::CodeRedeemedElsewhere { code, grant_id } => {
                match flow::get::<CodeState>(self.flows, &code.id, self.now).await {
                    Ok(Some(now_stored)) => {
                        reuse(self.flows, self.tokens, &now_stored, &grant_id, self.now).await
                    }
                    // Expired meanwhile: nothing left to redeem or revoke through it.
                    Ok(None) => GrantError::UnknownCode,
                    Err(e) => e.into(),
                }
            }
            Conflict::RefreshTokenRevoked => GrantError::InvalidRefreshToken,
            Conflict::AuthReqIdRedeemedElsewhere => GrantError::AuthReqIdUsed,
            Conflict::Impossible => GrantError::Storage(StorageError::Corrupt(
                "a grant without compare-and-set reported a conflict".into(),
            )),
        }
    }
}

/// A successful token response (RFC 6749 §5.1, RFC 9449 §5, RFC 9396 §7).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
}

/// Everything needed to mint one set of tokens.
#[derive(Debug)]
struct Mint<'a> {
    client_id: &'a ClientId,
    subject: Option<&'a str>,
    scope: String,
    authorization_details: Option<Value>,
    cnf: &'a Confirmation,
    grant_id: String,
    id_token: Option<IdTokenInput>,
    new_refresh: Option<NewRefresh>,
}

/// A refresh token to issue along with the access token.
#[derive(Debug)]
struct NewRefresh {
    /// When the grant's first refresh token was issued: successors inherit it, so the grant's
    /// lifetime can still be computed after the presented token's expiry was shortened.
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    /// The grant's scope, which may be wider than this access token's (RFC 6749 §6).
    scope: String,
}

async fn mint(
    ctx: &TokenService<'_>,
    m: Mint<'_>,
    unit: &mut UnitOfWork,
) -> Result<TokenResponse, GrantError> {
    let TokenService {
        policy,
        signer,
        now,
        ..
    } = *ctx;
    let audience = if policy.audience.is_empty() {
        vec![policy.issuer.clone()]
    } else {
        policy.audience.clone()
    };
    let mut input = AccessTokenInput::new(
        policy.issuer.clone(),
        m.client_id.as_str(),
        audience,
        m.scope.clone(),
        now,
        claims::new_jti()?,
    );
    input.subject = m.subject.map(str::to_owned);
    input.authorization_details = m.authorization_details.clone();
    input.jkt = m.cnf.jkt().map(str::to_owned);
    input.x5t = m.cnf.x5t_s256().map(str::to_owned);
    input.lifetime = policy.access_token_lifetime;
    let access_token = sign_jwt(
        signer,
        ACCESS_TOKEN_TYP,
        &claims::access_token_claims(&input)?,
    )
    .await?;
    let record = |token: &str, kind, scope: &str, issued_at, expires_at| TokenRecord {
        token_hash: token_hash(token),
        kind,
        client_id: m.client_id.clone(),
        subject: m.subject.map(str::to_owned),
        grant_id: m.grant_id.clone(),
        scope: scope.to_owned(),
        authorization_details: m.authorization_details.clone(),
        cnf_jkt: m.cnf.jkt().map(str::to_owned),
        cnf_x5t_s256: m.cnf.x5t_s256().map(str::to_owned),
        issued_at,
        expires_at,
        revoked_at: None,
    };
    unit.insert(&record(
        &access_token,
        TokenKind::Access,
        &m.scope,
        now,
        now + policy.access_token_lifetime,
    ));
    let refresh_token = match m.new_refresh {
        Some(NewRefresh {
            issued_at,
            expires_at,
            scope,
        }) => {
            let rt = claims::random_token(32)?;
            unit.insert(&record(
                &rt,
                TokenKind::Refresh,
                &scope,
                issued_at,
                expires_at,
            ));
            Some(rt)
        }
        None => None,
    };
    let id_token = match m.id_token {
        Some(id) => Some(sign_jwt(signer, ID_TOKEN_TYP, &claims::id_token_claims(&id)?).await?),
        None => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: m.cnf.token_type(),
        expires_in: policy.access_token_lifetime.whole_seconds(),
        refresh_token,
        id_token,
        scope: m.scope,
        authorization_details: m.authorization_details,
    })
}

/// Parameters of an `authorization_code` request.
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6) and DPoP code binding (RFC 9449 §10). The new
/// tokens are bound to `cnf` (the DPoP key and/or client certificate of this request). The
/// code's redemption and the tokens' records are staged together, so a code is redeemed exactly
/// when its tokens exist.
async fn authorization_code(
    ctx: &TokenService<'_>,
    client: &Client,
    cnf: &Confirmation,
    req: CodeRequest<'_>,
    unit: &mut UnitOfWork,
) -> Result<Exchange, GrantError> {
    let TokenService {
        policy,
        flows,
        tokens,
        now,
        ..
    } = *ctx;
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(GrantError::GrantNotAllowed);
    }
    let code = req.code.ok_or(GrantError::MissingParameter("code"))?;
    let redirect_uri = req
        .redirect_uri
        .ok_or(GrantError::MissingParameter("redirect_uri"))?;
    let verifier = CodeVerifier::parse(req.code_verifier)?;
    let id = code_record_id(code);
    let record = flow::get::<CodeState>(flows, &id, now)
        .await?
        .ok_or(GrantError::UnknownCode)?;
    let grant: CodeGrant =
        serde_json::from_slice(&record.data).map_err(|e| GrantError::Corrupt(e.to_string()))?;
    if record.state != CodeState::Issued {
        return Err(reuse(flows, tokens, &record, &grant.grant_id, now).await);
    }
    if grant.client_id != client.client_id.as_str() {
        return Err(GrantError::CodeClientMismatch);
    }
    if grant.redirect_uri != redirect_uri {
        return Err(GrantError::RedirectUriMismatch);
    }
    pkce::verify(&CodeChallenge::from_s256(&grant.code_challenge)?, &verifier)?;
    if let Some(bound) = &grant.dpop_jkt
        && !cnf
            .jkt()
            .is_some_and(|jkt| shonin_types::constant_time_eq(bound.as_bytes(), jkt.as_bytes()))
    {
        return Err(GrantError::DpopKeyMismatch);
    }
    // Single use: exactly one unit moves the code from `issued` to `redeemed`; a unit that loses
    // the race is a reuse (`settle_conflict`).
    unit.update(record.advance(CodeState::Redeemed, None, now)?);
    let openid = grant.scope.iter().any(|s| s == "openid");
    let auth_time = OffsetDateTime::from_unix_timestamp(grant.auth_time)
        .map_err(|e| GrantError::Corrupt(e.to_string()))?;
    let id_token = openid.then(|| IdTokenInput {
        issuer: policy.issuer.clone(),
        subject: grant.subject.clone(),
        client_id: grant.client_id.clone(),
        nonce: grant.nonce.clone(),
        auth_time,
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        issued_at: now,
        lifetime: policy.id_token_lifetime,
    });
    let details = (!grant.authorization_details.is_empty())
        .then(|| Value::Array(grant.authorization_details.clone()));
    let response = mint(
        ctx,
        Mint {
            client_id: &client.client_id,
            subject: Some(&grant.subject),
            scope: grant.scope.join(" "),
            authorization_details: details,
            cnf,
            grant_id: grant.grant_id.clone(),
            id_token,
            new_refresh: client
                .allows_grant(GrantType::RefreshToken)
                .then(|| NewRefresh {
                    issued_at: now,
                    expires_at: now + policy.refresh_token_lifetime,
                    scope: grant.scope.join(" "),
                }),
        },
        unit,
    )
    .await?;
    Ok(Exchange {
        response,
        on_conflict: Conflict::CodeRedeemedElsewhere {
            code: record,
            grant_id: grant.grant_id,
        },
    })
}

/// A code presented after it was redeemed: revoke everything issued from it (RFC 6749 §10.5).
/// Its tokens were committed with its redemption, so they exist by now.
async fn reuse(
    flows: &dyn FlowStore,
    tokens: &dyn TokenStore,
    code: &Flow<CodeState>,
    grant_id: &str,
    now: OffsetDateTime,
) -> GrantError {
    if code.state == CodeState::Redeemed
        && let Err(e) = flow::advance_now(flows, code, CodeState::Reused, &code.data, now).await
    {
        return e.into();
    }
    match tokens.revoke_grant(grant_id, now).await {
        Ok(_) => GrantError::CodeReused,
        Err(e) => e.into(),
    }
}

/// RFC 6749 §6: a new access token for a refresh token bound to the same DPoP key and/or client
/// certificate (RFC 9449 §5, RFC 8705 §3): every member of the stored binding must be matched by
/// `cnf`, the binding of this request. The refresh
/// token is not rotated (FAPI 2.0 §5.3.2.1 item 8) unless [`TokenPolicy::refresh_rotation_grace`]
/// says so; then the response carries a new refresh token and the presented one expires after
/// the grace window (kept, not revoked, so that RFC 7009 revocation stays distinguishable and
/// final). Within the window the old token may be presented again — by the same client with the
/// same DPoP key, like any refresh — and yields fresh tokens again; the window is not extended.
async fn refresh_token(
    ctx: &TokenService<'_>,
    client: &Client,
    cnf: &Confirmation,
    refresh_token: Option<&str>,
    scope: Option<&str>,
    unit: &mut UnitOfWork,
) -> Result<Exchange, GrantError> {
    let TokenService {
        policy,
        tokens,
        now,
        ..
    } = *ctx;
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(GrantError::GrantNotAllowed);
    }
    let rt = refresh_token.ok_or(GrantError::MissingParameter("refresh_token"))?;
    let record = tokens
        .get_token(&token_hash(rt))
        .await?
        .ok_or(GrantError::InvalidRefreshToken)?;
    if record.kind != TokenKind::Refresh || record.client_id != client.client_id {
        return Err(GrantError::InvalidRefreshToken);
    }
    if record.cnf_jkt.is_none() && record.cnf_x5t_s256.is_none() {
        // Never issued: every token is sender-constrained.
        return Err(GrantError::InvalidRefreshToken);
    }
    let same = |bound: &Option<String>, presented: Option<&str>| match bound {
        None => true,
        Some(b) => {
            presented.is_some_and(|p| shonin_types::constant_time_eq(b.as_bytes(), p.as_bytes()))
        }
    };
    let bound_to_caller =
        same(&record.cnf_jkt, cnf.jkt()) && same(&record.cnf_x5t_s256, cnf.x5t_s256());
    if !record.is_active(now) {
        // RFC 9700 §4.14.2: a rotated token used after its grace window means two parties hold
        // it; revoke the grant. Only the holder of the bound key can trigger this, so a leaked
        // token alone cannot be used to cut off the legitimate client.
        if record.revoked_at.is_none()
            && was_rotated(&record, policy.refresh_token_lifetime)
            && bound_to_caller
        {
            tokens.revoke_grant(&record.grant_id, now).await?;
            return Err(GrantError::RefreshTokenReused);
        }
        return Err(GrantError::InvalidRefreshToken);
    }
    if !same(&record.cnf_jkt, cnf.jkt()) {
        return Err(GrantError::DpopKeyMismatch);
    }
    if !same(&record.cnf_x5t_s256, cnf.x5t_s256()) {
        return Err(GrantError::CertificateMismatch);
    }
    let granted: Vec<&str> = record.scope.split(' ').filter(|s| !s.is_empty()).collect();
    let scope = match scope {
        None => record.scope.clone(),
        Some(req) => {
            // RFC 6749 §6: the requested scope must not exceed the original grant.
            let asked: Vec<&str> = req.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.iter().any(|s| !granted.contains(s)) {
                return Err(GrantError::ScopeExceedsGrant);
            }
            asked.join(" ")
        }
    };
    let new_refresh = match policy.refresh_rotation_grace {
        None => None,
        Some(grace) => {
            // The old token's grace window starts in the same commit as its successor exists.
            // Shortening only ever brings the expiry forward, so a retry does not extend the
            // window; it is a compare-and-set on the token being unrevoked.
            unit.update(shorten_token_update(&record.token_hash, now + grace));
            // The successor keeps the grant's scope (a narrower `scope` narrows this access
            // token only, RFC 6749 §6) and the grant's expiry, so rotation never prolongs a
            // grant. A token retried within its window has had its expiry shortened; the
            // grant's is then its issue time plus the lifetime (successors inherit the first
            // token's issue time).
            Some(NewRefresh {
                issued_at: record.issued_at,
                expires_at: record
                    .expires_at
                    .max(record.issued_at + policy.refresh_token_lifetime),
                scope: record.scope.clone(),
            })
        }
    };
    let on_conflict = if new_refresh.is_some() {
        Conflict::RefreshTokenRevoked
    } else {
        Conflict::Impossible
    };
    let response = mint(
        ctx,
        Mint {
            client_id: &client.client_id,
            subject: record.subject.as_deref(),
            scope,
            authorization_details: record.authorization_details.clone(),
            cnf,
            grant_id: record.grant_id.clone(),
            id_token: None,
            new_refresh,
        },
        unit,
    )
    .await?;
    Ok(Exchange {
        response,
        on_conflict,
    })
}

/// Whether rotation cut this refresh token's life short. A refresh token is issued to live as
/// long as its grant (`issued_at` + the refresh lifetime; successors inherit the first token's
/// `issued_at`), and only [`TokenStore::shorten_token`], called when the token is rotated, brings
/// its expiry earlier. (If an operator raises the lifetime, tokens that expired naturally under
/// the old one also count; their grant has expired with them, so revoking it changes nothing.)
fn was_rotated(record: &TokenRecord, refresh_lifetime: Duration) -> bool {
    record.expires_at < record.issued_at + refresh_lifetime
}

/// RFC 6749 §4.4: a token for the client itself; no refresh token (§4.4.3).
async fn client_credentials(
    ctx: &TokenService<'_>,
    client: &Client,
    cnf: &Confirmation,
    scope: Option<&str>,
    unit: &mut UnitOfWork,
) -> Result<Exchange, GrantError> {
    if !client.allows_grant(GrantType::ClientCredentials) {
        return Err(GrantError::GrantNotAllowed);
    }
    let mut granted: Vec<&str> = Vec::new();
    for s in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if s == "openid" || !client.allows_scope(s) {
            return Err(GrantError::ScopeNotAllowed(s.chars().take(64).collect()));
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    let response = mint(
        ctx,
        Mint {
            client_id: &client.client_id,
            subject: None,
            scope: granted.join(" "),
            authorization_details: None,
            cnf,
            grant_id: claims::new_grant_id(ctx.now)?,
            id_token: None,
            new_refresh: None,
        },
        unit,
    )
    .await?;
    Ok(Exchange {
        response,
        on_conflict: Conflict::Impossible,
    })
}

/// CIBA Core §10.1, §11: the tokens of an approved backchannel request, once. A pending one
/// answers `authorization_pending` or `slow_down` and records the poll (written at once: the
/// refusal commits no unit); a denied one `access_denied`; past its expiry `expired_token`.
/// The tokens are bound to `cnf` like every grant's (FAPI 2.0: DPoP or the client certificate
/// of this token request).
async fn ciba(
    ctx: &TokenService<'_>,
    client: &Client,
    cnf: &Confirmation,
    auth_req_id: Option<&str>,
    unit: &mut UnitOfWork,
) -> Result<Exchange, GrantError> {
    use crate::ciba::{self, CibaRecord, CibaState, Poll};
    let TokenService {
        policy, flows, now, ..
    } = *ctx;
    if !client.allows_grant(GrantType::Ciba) {
        return Err(GrantError::GrantNotAllowed);
    }
    let id = auth_req_id.ok_or(GrantError::MissingParameter("auth_req_id"))?;
    if id.len() > 256 {
        return Err(GrantError::UnknownAuthReqId);
    }
    let flow = flow::get::<CibaState>(flows, &ciba::record_id(id), now)
        .await?
        .ok_or(GrantError::UnknownAuthReqId)?;
    let record: CibaRecord =
        serde_json::from_slice(&flow.data).map_err(|e| GrantError::Corrupt(e.to_string()))?;
    // §11 invalid_grant: "issued to another Client" reads as unknown, never as someone else's.
    if !shonin_types::constant_time_eq(
        record.client_id.as_bytes(),
        client.client_id.as_str().as_bytes(),
    ) {
        return Err(GrantError::UnknownAuthReqId);
    }
    let t = now.unix_timestamp();
    match flow.state {
        CibaState::Redeemed => return Err(GrantError::AuthReqIdUsed),
        _ if t >= record.expires_at => return Err(GrantError::ExpiredToken),
        CibaState::Denied => return Err(GrantError::AccessDenied),
        CibaState::Pending => {
            let (answer, next) = ciba::poll(&record, t);
            let data = serde_json::to_vec(&next).map_err(|e| GrantError::Corrupt(e.to_string()))?;
            // A poll that loses the race to another poll or to the user's decision changes
            // nothing: the next poll reads what won.
            flow::advance_now(flows, &flow, CibaState::Pending, &data, now).await?;
            return Err(match answer {
                Poll::Pending => GrantError::AuthorizationPending,
                Poll::SlowDown => GrantError::SlowDown(next.interval),
            });
        }
        CibaState::Approved => {}
    }
    let approval = record
        .approval
        .as_ref()
        .ok_or_else(|| GrantError::Corrupt("an approved request without its approval".into()))?;
    unit.update(flow.advance(CibaState::Redeemed, None, now)?);
    let auth_time = OffsetDateTime::from_unix_timestamp(approval.auth_time)
        .map_err(|e| GrantError::Corrupt(e.to_string()))?;
    let id_token = IdTokenInput {
        issuer: policy.issuer.clone(),
        subject: record.subject.clone(),
        client_id: record.client_id.clone(),
        nonce: None,
        auth_time,
        acr: approval.acr.clone(),
        amr: approval.amr.clone(),
        issued_at: now,
        lifetime: policy.id_token_lifetime,
    };
    let details = (!approval.authorization_details.is_empty())
        .then(|| Value::Array(approval.authorization_details.clone()));
    let scope = record.scope.join(" ");
    let response = mint(
        ctx,
        Mint {
            client_id: &client.client_id,
            subject: Some(&record.subject),
            scope: scope.clone(),
            authorization_details: details,
            cnf,
            grant_id: record.grant_id.clone(),
            id_token: Some(id_token),
            new_refresh: client
                .allows_grant(GrantType::RefreshToken)
                .then(|| NewRefresh {
                    issued_at: now,
                    expires_at: now + policy.refresh_token_lifetime,
                    scope,
                }),
        },
        unit,
    )
    .await?;
    Ok(Exchange {
        response,
        on_conflict: Conflict::AuthReqIdRedeemedElsewhere,
    })
}

/// A new authorization code for `grant` and its flow record (stored under the code's hash).
fn new_code(
    grant: &CodeGrant,
    now: OffsetDateTime,
) -> Result<(String, Flow<CodeState>), GrantError> {
    let code = claims::random_token(32)?;
    let data = serde_json::to_vec(grant).map_err(|e| GrantError::Corrupt(e.to_string()))?;
    let record = Flow::new(
        code_record_id(&code),
        CodeState::Issued,
        data,
        now + CODE_LIFETIME,
    );
    Ok((code, record))
}

/// Stores a new authorization code for `grant`; returns the code to send to the client.
pub async fn issue_code(
    flows: &dyn FlowStore,
    grant: &CodeGrant,
    now: OffsetDateTime,
) -> Result<String, GrantError> {
    let (code, record) = new_code(grant, now)?;
    flows.create_flow(&record.record()).await?;
    Ok(code)
}

/// Stages a new authorization code for `grant` in `unit`, to be written with the rest of the
/// request (a payment consent writes the approval and the code together); returns the code.
pub fn stage_code(
    unit: &mut UnitOfWork,
    grant: &CodeGrant,
    now: OffsetDateTime,
) -> Result<String, GrantError> {
    let (code, record) = new_code(grant, now)?;
    unit.rows.push(record.row());
    Ok(code)
}
