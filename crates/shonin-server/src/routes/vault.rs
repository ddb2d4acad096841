//! The card vault's API (`/vault/cards`): a client with an access token for scope `vault`
//! (client_credentials, sender-constrained by DPoP or mTLS) stores cards and gets tokens, reads
//! them masked and deletes them; reading a number back needs scope `vault:detokenize`, which a
//! client has only when its registration lists it. A client sees only its own cards: another
//! client's token is as absent as an unknown one. Every call is audit-logged with the token,
//! never the number (PCI DSS 10.2.1.1, 3.4.1); a number is revealed only after its audit entry
//! is durable.
//!
//! For client-side tokenization the same client gets a client token for its checkout page
//! (`POST /vault/client-tokens`) and exchanges the page's payment nonce for a vault token
//! (`POST /vault/nonces/exchange`); the page's side is `routes/vault_nonces.rs`.

use crate::audit_events::success_record;
use crate::error::OAuthError;
use crate::oauth::access::{Access, replay_challenge};
use crate::oauth::commit::{Success, commit, commit_outcome, replay_error};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::txn::client_actor;
use crate::vault::{DETOKENIZE_SCOPE, SCOPE};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shonin_audit::{AuditRecord, Outcome};
use shonin_keys::{KeyPurpose, KeySource};
use shonin_types::unit::UnitOfWork;
use shonin_vault::client_token::{self, CLIENT_TOKEN_TYP};
use shonin_vault::{
    CardInput, CardView, PaymentNonce, Staged, Tokenized, Unsettled, VaultError, requests, settle,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vault/cards", post(tokenize))
        .route("/vault/cards/{token}", get(show).delete(delete))
        .route("/vault/cards/{token}/detokenize", post(detokenize))
        .route("/vault/client-tokens", post(client_token))
        .route("/vault/nonces/exchange", post(exchange))
}

/// A refused call: a token or scope problem, or the vault's.
pub(crate) enum Refused {
    Auth(OAuthError),
    Vault(VaultError),
    Body(&'static str),
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused::Auth(e)
    }
}

impl From<VaultError> for Refused {
    fn from(e: VaultError) -> Self {
        Refused::Vault(e)
    }
}

impl Refused {
    fn reason(&self) -> String {
        match self {
            Refused::Auth(e) => format!("{}: {}", e.error, e.description),
            Refused::Vault(e) => format!("{}: {e}", e.code()),
            Refused::Body(rule) => format!("invalid_request: {rule}"),
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let (status, code, detail) = match self {
            Refused::Auth(e) => return e.into_response(),
            Refused::Body(rule) => (400, "invalid_request", format!("body: {rule}")),
            Refused::Vault(e) => {
                let detail = match &e {
                    VaultError::Storage(_) | VaultError::Key(_) => {
                        tracing::error!(error = %e, "vault request failed");
                        "the server could not complete the request; retry later".to_owned()
                    }
                    VaultError::Integrity(_) | VaultError::MissingKek(_) => {
                        tracing::error!(error = %e, "a vault record does not decrypt");
                        "the record cannot be read; the operator has been told".to_owned()
                    }
                    other => other.to_string(),
                };
                (e.status(), e.code(), detail)
            }
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = crate::error::coded_problem(status, code, &detail);
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: the client token is a bearer token.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}

/// Starts a call: the verified token with `scope` and its client, or the audited refusal.
async fn begin(
    state: AppState,
    meta: RequestMeta,
    action: &'static str,
    access: Result<Access, OAuthError>,
    scope: &str,
    target: &str,
) -> Result<(Call, Access, String), Response> {
    let call = Call {
        state,
        meta,
        action,
    };
    let access = call.access(access, scope, target).await?;
    let client = access.client_id().to_owned();
    Ok((call, access, client))
}

/// One call: its state, request and audit action.
pub(crate) struct Call {
    pub(crate) state: AppState,
    pub(crate) meta: RequestMeta,
    pub(crate) action: &'static str,
}

impl Call {
    /// Writes the failure entry and answers the refusal.
    pub(crate) async fn refuse(&self, client: &str, target: &str, e: Refused) -> Response {
        match self.record_refusal(client, target, &e).await {
            Ok(()) => e.into_response(),
            Err(resp) => resp,
        }
    }

    /// Counts the refusal and writes its failure entry; the answer when the entry cannot be
    /// written.
    pub(crate) async fn record_refusal(
        &self,
        client: &str,
        target: &str,
        e: &Refused,
    ) -> Result<(), Response> {
        metrics::counter!("shonin_vault_requests_total", "action" => self.action, "outcome" => "refused")
            .increment(1);
        let record = AuditRecord {
            time: self.state.clock.now(),
            actor: client_actor(client),
            action: self.action.to_owned(),
            target: target.to_owned(),
            outcome: Outcome::Failure,
            reason: Some(e.reason()),
            source_ip: Some(self.meta.addr.client_ip),
            request_id: self.meta.request_id.clone(),
        };
        self.state.audit.append(record).await.map(|_| ()).map_err(|err| {
            tracing::error!(error = %err, "audit entry for a vault refusal could not be written");
            OAuthError::audit(&err).into_response()
        })
    }

    /// The call's answer, or its audited refusal; counted either way.
    pub(crate) async fn finish(
        &self,
        client: &str,
        target: &str,
        result: Result<Response, Refused>,
    ) -> Response {
        match result {
            Ok(resp) => {
                metrics::counter!("shonin_vault_requests_total", "action" => self.action, "outcome" => "ok")
                    .increment(1);
                resp
            }
            Err(e) => self.refuse(client, target, e).await,
        }
    }

    /// The verified token with `scope`, or the audited refusal.
    async fn access(
        &self,
        access: Result<Access, OAuthError>,
        scope: &str,
        target: &str,
    ) -> Result<Access, Response> {
        // A valid token without the scope is refused under its client's name.
        let (client, checked) = match access {
            Ok(a) => (a.client_id().to_owned(), a.require_scope(scope).map(|()| a)),
            Err(e) => (String::new(), Err(e)),
        };
        match checked {
            Ok(a) => Ok(a),
            Err(e) => Err(self.refuse(&client, target, e.into()).await),
        }
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.state.clock.now()
    }

    pub(crate) fn keks(&self) -> Vec<std::sync::Arc<dyn shonin_keys::KeyEncryptionKey>> {
        self.state.keys.key_encryption_keys()
    }
}

pub(crate) fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn shown(view: &CardView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// The card in the body (`CardInput::from_json`: at most 4 KiB, its five members only).
pub(crate) fn card_input(bytes: &[u8]) -> Result<CardInput, Refused> {
    CardInput::from_json(bytes).map_err(Refused::Body)
}

/// Claims the proof's `jti` before anything is written or revealed (RFC 9449 §11.1).
async fn claim(call: &Call, access: Access) -> Result<(), Refused> {
    let _ = commit(&call.state, &call.meta, access.unit, None)
        .await
        .map_err(replay_challenge)?;
    Ok(())
}

/// Commits `unit` (the proof's `jti`, and what else the call writes) with the call's success
/// entry on `target`: what was read is answered only after this.
async fn committed(
    call: &Call,
    unit: UnitOfWork,
    client: &str,
    target: &str,
) -> Result<(), Refused> {
    let success = Success {
        action: call.action,
        actor: client_actor(client),
        target,
    };
    let _ = commit(&call.state, &call.meta, unit, Some(success))
        .await
        .map_err(replay_challenge)?;
    Ok(())
}

/// `POST /vault/cards`: 201 with a new token, or 200 with the token the client already holds
/// for this number (its expiry and name replaced, its retention started again).
pub async fn tokenize(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: Bytes,
) -> Response {
    let (call, access, client) =
        match begin(state, meta, "vault.tokenize", access, SCOPE, "-").await {
            Ok(started) => started,
            Err(resp) => return resp,
        };
    let result = async {
        let input = card_input(&bytes)?;
        let keks = call.keks();
        let vault = &call.state.vault;
        let done = settled(
            &call,
            &client,
            access.unit,
            || vault.tokenize(&keks, &client, &input, call.now()),
            card_token,
        )
        .await?;
        Ok(stored(&done))
    }
    .await;
    call.finish(&client, "-", result).await
}

/// Commits what the vault stages with `claims` (the proof's `jti`: the first time only, as a
/// unit that lost a compare-and-set wrote its claims) and the call's success entry on the
/// target `target` names, in one unit of work; staged again when a record changed under it.
/// Nothing is answered before this commits.
pub(crate) async fn settled<T, SF>(
    call: &Call,
    client: &str,
    claims: UnitOfWork,
    stage: impl FnMut() -> SF,
    target: impl Fn(&T) -> String,
) -> Result<T, Refused>
where
    SF: Future<Output = Result<Staged<T>, VaultError>>,
{
    let namespaces: Vec<&'static str> = claims.claims.iter().map(|c| c.namespace).collect();
    let mut claims = Some(claims);
    // The vault stages no claims of its own: a replayed claim is one of `claims`.
    let result = settle(stage, |mut unit, value: &T| {
        if let Some(claims) = claims.take() {
            unit.append(claims);
        }
        let record = success_record(
            &call.state,
            &call.meta,
            call.action,
            client_actor(client),
            &target(value),
        );
        commit_outcome(&call.state, unit, Some(record))
    })
    .await;
    match result {
        Ok(value) => Ok(value),
        Err(Unsettled::Vault(e)) => {
            // Refused before anything committed: the proof's `jti` is spent all the same.
            if let Some(claims) = claims {
                let _ = commit(&call.state, &call.meta, claims, None)
                    .await
                    .map_err(replay_challenge)?;
            }
            Err(e.into())
        }
        Err(Unsettled::Replayed { claim }) => Err(replay_challenge(replay_error(
            namespaces.get(claim).copied().unwrap_or_default(),
        ))
        .into()),
        Err(Unsettled::Commit(e)) => Err(e.into()),
    }
}

/// A stored card's answer: 201 for a new token, 200 for the one the client already held for
/// this number, with `cvv_held_until` when a CVV is held.
fn stored(done: &Tokenized) -> Response {
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut body = shown(&done.view);
    if let (Some(o), Some(until)) = (body.as_object_mut(), done.cvv_held_until) {
        o.insert("cvv_held_until".into(), rfc3339(until).into());
    }
    let mut resp = answer(status, body);
    if let Ok(location) = HeaderValue::from_str(&format!("/vault/cards/{}", done.view.token)) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp
}

fn card_token(done: &Tokenized) -> String {
    done.view.token.clone()
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `POST /vault/client-tokens`: a client token for the client's checkout page at `origin`
/// (`{"origin": "https://shop.example"}`), signed with the token-signing key.
pub async fn client_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: Bytes,
) -> Response {
    let (call, access, client) =
        match begin(state, meta, "vault.client_token", access, SCOPE, "-").await {
            Ok(started) => started,
            Err(resp) => return resp,
        };
    let result = async {
        let origin = requests::origin_from_json(&bytes).map_err(Refused::Body)?;
        let now = call.now();
        let id = client_token::new_id().map_err(VaultError::from)?;
        let ttl =
            time::Duration::seconds(i64::from(call.state.config.vault.client_token_ttl_seconds));
        let claims =
            client_token::claims(&call.state.config.issuer, &client, &origin, &id, now, ttl);
        let signer = call
            .state
            .keys
            .signer_for(KeyPurpose::Tokens)
            .map_err(VaultError::from)?;
        let jwt = shonin_keys::sign_jwt(signer.as_ref(), CLIENT_TOKEN_TYP, &claims)
            .await
            .map_err(VaultError::from)?;
        // The token's nonce budget is written with the proof's `jti` and the entry.
        let mut unit = call
            .state
            .vault
            .register_client_token(&client, &id, now + ttl);
        unit.append(access.unit);
        committed(&call, unit, &client, &id).await?;
        Ok(answer(
            StatusCode::CREATED,
            json!({
                "client_token": jwt,
                "origin": origin.as_str(),
                "expires_at": rfc3339(now + ttl),
            }),
        ))
    }
    .await;
    call.finish(&client, "-", result).await
}

/// `POST /vault/nonces/exchange`: the client's payment nonce (`{"nonce": "nonce_…"}`), once,
/// for a vault token; answered as `POST /vault/cards`.
pub async fn exchange(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: Bytes,
) -> Response {
    let (call, access, client) =
        match begin(state, meta, "vault.exchange", access, SCOPE, "-").await {
            Ok(started) => started,
            Err(resp) => return resp,
        };
    let nonce = requests::nonce_from_json(&bytes);
    // A refusal names the nonce by its digest, as its issue was audited.
    let target = nonce
        .as_deref()
        .ok()
        .and_then(PaymentNonce::parse)
        .map_or_else(|| "-".to_owned(), |n| format!("nonce:{}", n.digest()));
    let result = async {
        let nonce = nonce.map_err(Refused::Body)?;
        let keks = call.keks();
        let vault = &call.state.vault;
        let done = settled(
            &call,
            &client,
            access.unit,
            || vault.exchange_nonce(&keks, &client, &nonce, call.now()),
            card_token,
        )
        .await?;
        Ok(stored(&done))
    }
    .await;
    call.finish(&client, &target, result).await
}

/// `GET /vault/cards/{token}`: the card masked; audited like every read of a card record.
pub async fn show(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    Path(token): Path<String>,
) -> Response {
    let (call, access, client) = match begin(state, meta, "vault.read", access, SCOPE, &token).await
    {
        Ok(started) => started,
        Err(resp) => return resp,
    };
    let result = async {
        let view = match call.state.vault.show(&client, &token, call.now()).await {
            Ok(view) => view,
            Err(e) => {
                claim(&call, access).await?;
                return Err(e.into());
            }
        };
        committed(&call, access.unit, &client, &token).await?;
        Ok(answer(StatusCode::OK, shown(&view)))
    }
    .await;
    call.finish(&client, &token, result).await
}

/// `DELETE /vault/cards/{token}`: the record and its data key are gone (crypto-shredding).
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    Path(token): Path<String>,
) -> Response {
    let (call, access, client) =
        match begin(state, meta, "vault.delete", access, SCOPE, &token).await {
            Ok(started) => started,
            Err(resp) => return resp,
        };
    let result = async {
        let vault = &call.state.vault;
        let staged = || std::future::ready(vault.delete(&client, &token));
        settled(&call, &client, access.unit, staged, |()| token.clone()).await?;
        Ok((
            StatusCode::NO_CONTENT,
            [(header::CACHE_CONTROL, "no-store")],
        )
            .into_response())
    }
    .await;
    call.finish(&client, &token, result).await
}

/// `POST /vault/cards/{token}/detokenize`: the card with its number (and its CVV, the first
/// time after one was held), for a client granted `vault:detokenize`. The number is decrypted,
/// then the audit entry commits with the proof's `jti` and the CVV's deletion, then it is
/// answered: no number leaves without its entry.
pub async fn detokenize(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    Path(token): Path<String>,
) -> Response {
    let (call, access, client) = match begin(
        state,
        meta,
        "vault.detokenize",
        access,
        DETOKENIZE_SCOPE,
        &token,
    )
    .await
    {
        Ok(started) => started,
        Err(resp) => return resp,
    };
    let result = async {
        let keks = call.keks();
        let vault = &call.state.vault;
        let revealed = settled(
            &call,
            &client,
            access.unit,
            || vault.detokenize(&keks, &client, &token, call.now()),
            |_| token.clone(),
        )
        .await?;
        let mut body = shown(&revealed.view);
        if let Some(o) = body.as_object_mut() {
            o.insert("pan".into(), revealed.card.pan.expose().into());
            if let Some(name) = &revealed.card.name {
                o.insert("name".into(), name.as_str().into());
            }
            // Held only until this call: it is gone from the vault now (PCI DSS 3.3.1.2).
            if let Some(cvv) = &revealed.cvv {
                o.insert("cvv".into(), cvv.expose().into());
            }
        }
        Ok(answer(StatusCode::OK, body))
    }
    .await;
    call.finish(&client, &token, result).await
}
