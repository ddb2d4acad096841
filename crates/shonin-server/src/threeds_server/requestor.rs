//! The requestor API (`/3ds/server/authentications`): a merchant's backend, an OAuth client with
//! an access token for scope `3ds` (client_credentials, sender-constrained by DPoP or mTLS),
//! starts an authentication, reads its state and result, and cancels a challenge. A client sees
//! only its own transactions. Every call is audit-logged with the transaction ID, never the card
//! number; refusals too.
//!
//! An authentication is answered in one call: the card's range in the DS's card ranges (none:
//! `U` without an AReq), the AReq built for the highest version all three speak, its ARes read,
//! and the transaction stored with its audit entry before the answer. Failures of the DS or the
//! ACS are a result (`state: failed` with the Erro code), not an HTTP error.

use super::{SCOPE, ServerService};
use crate::audit_events::success_record;
use crate::error::OAuthError;
use crate::oauth::access::{Access, replay_challenge};
use crate::oauth::commit::{Committed, commit, commit_outcome, commit_record};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::txn::client_actor;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shonin_3ds::server::flow::{AuthResult, MethodData, PurchaseSummary, ServerData};
use shonin_3ds::server::{
    Answered, Authenticate, CardSource, MethodCompletion, ServerState, ServerStore,
    ServerTransaction, StartMethod,
};
use shonin_3ds::{Rejection, TransStatus};
use shonin_audit::{AuditRecord, Outcome};
use shonin_types::unit::{OneTimeClaim, Outcome as Commit, UnitOfWork};
use shonin_vault::VaultError;

pub const START_ACTION: &str = "3ds.server.authenticate";
pub const READ_ACTION: &str = "3ds.server.read";
pub const CANCEL_ACTION: &str = "3ds.server.cancel";
pub const METHOD_ACTION: &str = "3ds.server.method";
/// The one-time claim that lets one AReq go out per 3DS Method transaction.
const METHOD_CLAIM_NAMESPACE: &str = "3ds-server-method";
/// The longest body read: the request is a handful of short members.
const MAX_BODY: usize = 16 * 1024;

/// A refused call.
enum Refused {
    Auth(OAuthError),
    /// 400 `invalid_request`: the rule broken, naming members, never values.
    Body(String),
    /// 404: no such transaction for this client.
    NotFound,
    /// 409 `invalid_state`: the transaction cannot do that now.
    State(&'static str),
    /// 503: storage, or no card ranges yet.
    Unavailable(&'static str),
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused::Auth(e)
    }
}

impl Refused {
    fn reason(&self) -> String {
        match self {
            Refused::Auth(e) => format!("{}: {}", e.error, e.description),
            Refused::Body(rule) => format!("invalid_request: {rule}"),
            Refused::NotFound => "not_found".into(),
            Refused::State(why) => format!("invalid_state: {why}"),
            Refused::Unavailable(why) => format!("temporarily_unavailable: {why}"),
        }
    }

    fn into_response(self) -> Response {
        let (status, code, detail) = match self {
            Refused::Auth(e) => return e.into_response(),
            Refused::Body(rule) => (StatusCode::BAD_REQUEST, "invalid_request", rule),
            Refused::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such authentication".into(),
            ),
            Refused::State(why) => (StatusCode::CONFLICT, "invalid_state", why.into()),
            Refused::Unavailable(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                why.into(),
            ),
        };
        crate::error::coded_problem(status, code, &detail)
    }
}

fn rejected(r: &Rejection) -> Refused {
    Refused::Body(r.error_detail())
}

/// One call: who asked and what it is audited as.
struct Call<'a> {
    state: &'a AppState,
    meta: &'a RequestMeta,
    action: &'static str,
}

impl Call<'_> {
    /// The answer, or the audited refusal; counted either way.
    async fn finish(
        &self,
        client: &str,
        target: &str,
        result: Result<Response, Refused>,
    ) -> Response {
        let e = match result {
            Ok(resp) => {
                metrics::counter!("shonin_3ds_server_requests_total", "action" => self.action, "outcome" => "ok")
                    .increment(1);
                return resp;
            }
            Err(e) => e,
        };
        metrics::counter!("shonin_3ds_server_requests_total", "action" => self.action, "outcome" => "refused")
            .increment(1);
        let record = AuditRecord {
            outcome: Outcome::Failure,
            reason: Some(e.reason()),
            ..success_record(
                self.state,
                self.meta,
                self.action,
                client_actor(client),
                target,
            )
        };
        if let Err(err) = self.state.audit.append(record).await {
            tracing::error!(error = %err, "3DS Server: a refusal could not be audit-logged");
            return OAuthError::audit(&err).into_response();
        }
        e.into_response()
    }
}

/// The verified token with scope `3ds` and its client; the DPoP proof's `jti` is claimed before
/// anything is read or sent (RFC 9449 §11.1): a replayed request sends no second AReq.
async fn authorised(
    state: &AppState,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
) -> (String, Result<(), Refused>) {
    let access = match access {
        Ok(a) => a,
        Err(e) => return (String::new(), Err(e.into())),
    };
    let client = access.client_id().to_owned();
    if let Err(e) = access.require_scope(SCOPE) {
        return (client, Err(e.into()));
    }
    let claimed = commit(state, meta, access.unit, None)
        .await
        .map(|_| ())
        .map_err(|e| replay_challenge(e).into());
    (client, claimed)
}

/// The transaction as its requestor sees it.
pub fn view(t: &ServerTransaction) -> Value {
    let d = &t.data;
    let mut v = json!({
        "id": t.three_ds_server_trans_id,
        "state": t.state.name(),
        "card": d.masked_pan,
        "created_at": t.created_at.unix_timestamp(),
        "expires_at": t.expires_at.unix_timestamp(),
    });
    let mut put = |name: &str, value: Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert(name.into(), value);
        }
    };
    if let Some(p) = &d.purchase {
        put("purchase", serde_json::to_value(p).unwrap_or_default());
    }
    if let Some(m) = &d.method {
        if t.state == ServerState::Method {
            put("method", serde_json::to_value(m).unwrap_or_default());
        }
        put("threeDSCompInd", m.completion().code().into());
    }
    if let Some(version) = d.message_version {
        put("messageVersion", version.as_str().into());
    }
    if let Some(id) = &d.ds_trans_id {
        put("dsTransID", id.clone().into());
    }
    if let Some(id) = &d.acs_trans_id {
        put("acsTransID", id.clone().into());
    }
    if let Some(r) = &d.result {
        put("result", serde_json::to_value(r).unwrap_or_default());
    }
    if t.state == ServerState::Challenge
        && let Some(c) = &d.challenge
    {
        put("challenge", serde_json::to_value(c).unwrap_or_default());
    }
    if let Some(p) = &d.problem {
        put("error", serde_json::to_value(p).unwrap_or_default());
    }
    if let Some(s) = d.final_cres {
        put("final_cres", shonin_3ds::acs::store::status_name(s).into());
    }
    v
}

fn answer(status: StatusCode, t: &ServerTransaction) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        view(t).to_string(),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!(
            "/3ds/server/authentications/{}",
            t.three_ds_server_trans_id
        ))
    {
        h.insert(header::LOCATION, location);
    }
    resp
}

/// The body as a `T` (`Authenticate`, `StartMethod`); a serde error names members only (its
/// other messages can quote a value, and a value can be a card number).
fn read_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refused> {
    if bytes.len() > MAX_BODY {
        return Err(Refused::Body(format!(
            "the body is larger than {MAX_BODY} bytes"
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let safe = text.starts_with("unknown field") || text.starts_with("missing field");
        Refused::Body(if safe {
            text
        } else {
            format!(
                "the body is not what this endpoint reads: a member has the wrong type or the JSON is malformed (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    })
}

/// `POST /3ds/server/authentications`.
pub async fn start(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: &[u8],
) -> Response {
    let call = Call {
        state,
        meta,
        action: START_ACTION,
    };
    let (client, authorised) = authorised(state, meta, access).await;
    let mut target = "-".to_owned();
    let result = match authorised {
        Ok(()) => authenticate(state, server, meta, &client, bytes, &mut target).await,
        Err(e) => Err(e),
    };
    call.finish(&client, &target, result).await
}

async fn authenticate(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    client: &str,
    bytes: &[u8],
    target: &mut String,
) -> Result<Response, Refused> {
    let mut input: Authenticate = read_body(bytes)?;
    let now = state.clock.now();
    let (pan, from_vault, expiry) = card(state, client, &input.card, now).await?;
    if expiry.is_some() {
        input.card.expiry = expiry;
    }
    // With a 3DS Method run for this card, the AReq goes out under its transaction.
    let started = match &input.method_id {
        Some(id) => {
            let t = own(state, client, id).await?;
            if t.state != ServerState::Method {
                return Err(Refused::State(
                    "the 3DS Method's transaction was authenticated already",
                ));
            }
            if t.data.masked_pan != pan.masked() {
                return Err(Refused::Body(
                    "method_id: the 3DS Method ran for another card".into(),
                ));
            }
            // One AReq per transaction: of two calls with this method at once, the second is
            // refused here, before it sends anything.
            let mut claim = UnitOfWork::new();
            claim.claim(OneTimeClaim {
                namespace: METHOD_CLAIM_NAMESPACE,
                key: t.three_ds_server_trans_id.clone(),
                expires_at: t.expires_at,
            });
            match commit_outcome(state, claim, None)
                .await
                .map_err(Refused::Auth)?
            {
                Commit::Committed { .. } => {}
                _ => {
                    return Err(Refused::State(
                        "the 3DS Method's transaction was authenticated already",
                    ));
                }
            }
            Some(t)
        }
        None => None,
    };
    let trans_id = started.as_ref().map_or_else(
        || uuid::Uuid::new_v4().to_string(),
        |t| t.three_ds_server_trans_id.clone(),
    );
    *target = trans_id.clone();
    let range = find_range(server, &pan)?;
    let purchase = PurchaseSummary {
        merchant_name: input.merchant.name.clone(),
        amount: input.purchase.amount.clone(),
        currency: input.purchase.currency.clone(),
        exponent: input.purchase.exponent,
    };
    let mut data = ServerData {
        message_version: None,
        ds_trans_id: None,
        acs_trans_id: None,
        masked_pan: pan.masked(),
        purchase: Some(purchase),
        method: started.as_ref().and_then(|t| t.data.method.clone()),
        result: None,
        challenge: None,
        problem: None,
        final_cres: None,
    };
    let (state_now, why) = match range {
        // EMV 3DS: a card outside every range (or without a version in common) is not
        // authenticated; no AReq is sent.
        None | Some((None, _)) => {
            data.result = Some(AuthResult {
                trans_status: TransStatus::U,
                trans_status_reason: None,
                eci: None,
                authentication_value: None,
                challenge_cancel: None,
                interaction_counter: None,
            });
            let why = if range.is_none() {
                "no card range"
            } else {
                "no protocol version in common"
            };
            (
                ServerState::Completed,
                format!("transStatus=U without AReq: {why}"),
            )
        }
        Some((Some(version), method_url)) => {
            // Y when the method's notification came, N when it did not (or no method was run
            // for a range that has one), U when the range has no method URL.
            let completion = match (&data.method, method_url) {
                (Some(m), _) => m.completion(),
                (None, Some(_)) => MethodCompletion::NotCompleted,
                (None, None) => MethodCompletion::Unavailable,
            };
            let areq = shonin_3ds::server::areq::build(
                version,
                &server.profile,
                &input,
                &pan,
                &trans_id,
                completion,
                now,
            )
            .map_err(|r| rejected(&r))?;
            data.message_version = Some(version);
            let answered = match server.send_areq(&areq).await {
                Ok(message) => shonin_3ds::server::read_ares(
                    &areq,
                    message,
                    input.window_size(),
                    input.session_data.clone(),
                ),
                Err(problem) => Answered::failed(problem),
            };
            data.ds_trans_id = answered.ds_trans_id;
            data.acs_trans_id = answered.acs_trans_id;
            data.result = answered.result;
            data.challenge = answered.challenge;
            data.problem = answered.problem;
            let why = match (&data.result, &data.problem) {
                (Some(r), _) => format!(
                    "transStatus={} version={}",
                    shonin_3ds::acs::store::status_name(r.trans_status),
                    version.as_str()
                ),
                (None, Some(p)) => format!("Erro {} from {}", p.error_code, p.error_component),
                (None, None) => format!("transStatus=C version={}", version.as_str()),
            };
            (answered.state, why)
        }
    };
    let txn = ServerTransaction {
        three_ds_server_trans_id: trans_id.clone(),
        client_id: client.to_owned(),
        state: state_now,
        data,
        created_at: now,
        expires_at: now + server.retention,
        version: 1,
    };
    let mut unit = UnitOfWork::new();
    match &started {
        Some(before) => {
            let update = before
                .advance(txn.state, txn.data.clone())
                .map_err(|e| Refused::Auth(OAuthError::storage(&e)))?;
            unit.update(update);
        }
        None => {
            unit.insert(&txn);
        }
    }
    let why = match from_vault {
        Some(token) => format!("{why} card=vault:{token}"),
        None => why,
    };
    let record = AuditRecord {
        reason: Some(why),
        ..success_record(state, meta, START_ACTION, client_actor(client), &trans_id)
    };
    match commit_record(state, unit, Some(record))
        .await
        .map_err(Refused::Auth)?
    {
        Committed::Done => {}
        // The method's transaction moved since it was read (its claim above makes this rare).
        Committed::Conflict { .. } => {
            return Err(Refused::State(
                "the 3DS Method's transaction was authenticated already",
            ));
        }
    }
    metrics::counter!(
        "shonin_3ds_server_authentications_total",
        "state" => txn.state.name(),
        "trans_status" => txn.data.result.as_ref().map_or("-", |r| shonin_3ds::acs::store::status_name(r.trans_status))
    )
    .increment(1);
    Ok(answer(StatusCode::CREATED, &txn))
}

/// The card number, the vault token it came from (for the audit entry) and, from the vault,
/// its expiry (YYMM).
async fn card(
    state: &AppState,
    client: &str,
    card: &shonin_3ds::server::areq::Card,
    now: time::OffsetDateTime,
) -> Result<(shonin_3ds::Pan, Option<String>, Option<String>), Refused> {
    match card.source().map_err(|r| rejected(&r))? {
        CardSource::Number(pan) => Ok((pan, None, None)),
        // The number goes to the DS in the AReq only; the audit entry names the token.
        CardSource::VaultToken(token) => {
            let keks = shonin_keys::KeySource::key_encryption_keys(&state.keys);
            let card = state
                .vault
                .card_data(&keks, client, &token, now)
                .await
                .map_err(|e| match e {
                    VaultError::NotFound => Refused::Body(
                        "card.vault_token: no card of this client has this token".into(),
                    ),
                    e => {
                        tracing::error!(error = %e, "3DS Server: a vault card could not be read");
                        Refused::Unavailable("the vault could not be read")
                    }
                })?;
            let expiry = format!("{:02}{:02}", card.exp_year % 100, card.exp_month);
            Ok((card.pan, Some(token), Some(expiry)))
        }
    }
}

/// The card's range: `None` outside every range; with one, the version all three speak (none
/// in common: `None`) and that version's 3DS Method URL. 503 before the first PRes.
type RangeFound = Option<(Option<shonin_3ds::MessageVersion>, Option<String>)>;

fn find_range(server: &ServerService, pan: &shonin_3ds::Pan) -> Result<RangeFound, Refused> {
    server.with_ranges(|cache| {
        if cache.is_empty() && cache.serial_num.is_none() {
            return Err(Refused::Unavailable(
                "the card ranges have not been loaded from the DS yet",
            ));
        }
        Ok(cache.find(pan).map(|r| {
            let version = r.version(server.versions);
            (
                version,
                version.and_then(|v| r.method_url(v).map(str::to_owned)),
            )
        }))
    })
}

/// `POST /3ds/server/methods`: starts the 3DS Method for a card. The transaction is stored in
/// state `method` with the `threeDSMethodURL` of the card's range (none: `threeDSCompInd` will
/// be U) and the `threeDSMethodData` the checkout posts there in a hidden iframe; the ACS's page
/// posts it back to `/3ds/server/method-notification`. The checkout then authenticates with
/// `method_id` once the notification came, or after 10 s without it (EMV 3DS: N).
pub async fn start_method(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: &[u8],
) -> Response {
    let call = Call {
        state,
        meta,
        action: METHOD_ACTION,
    };
    let (client, authorised) = authorised(state, meta, access).await;
    let mut target = "-".to_owned();
    let result = async {
        authorised?;
        let input: StartMethod = read_body(bytes)?;
        let now = state.clock.now();
        let (pan, _, _) = card(state, &client, &input.card, now).await?;
        let url = find_range(server, &pan)?.and_then(|(_, url)| url);
        let id = uuid::Uuid::new_v4().to_string();
        target.clone_from(&id);
        let txn = ServerTransaction {
            three_ds_server_trans_id: id.clone(),
            client_id: client.clone(),
            state: ServerState::Method,
            data: ServerData {
                message_version: None,
                ds_trans_id: None,
                acs_trans_id: None,
                masked_pan: pan.masked(),
                purchase: None,
                method: Some(MethodData {
                    url,
                    data: shonin_3ds::server::areq::method_data(
                        &id,
                        &format!("{}{}", state.config.issuer, super::METHOD_NOTIFICATION_PATH),
                    ),
                    completed: false,
                }),
                result: None,
                challenge: None,
                problem: None,
                final_cres: None,
            },
            created_at: now,
            expires_at: now + server.retention,
            version: 1,
        };
        let mut unit = UnitOfWork::new();
        unit.insert(&txn);
        let record = success_record(state, meta, METHOD_ACTION, client_actor(&client), &id);
        match commit_record(state, unit, Some(record))
            .await
            .map_err(Refused::Auth)?
        {
            Committed::Done => Ok(answer(StatusCode::CREATED, &txn)),
            Committed::Conflict { .. } => Err(Refused::Unavailable("try again")),
        }
    }
    .await;
    call.finish(&client, &target, result).await
}

/// The caller's own transaction `id`, or 404 (another client's is as absent as none).
async fn own(state: &AppState, client: &str, id: &str) -> Result<ServerTransaction, Refused> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(Refused::NotFound);
    }
    let txn = state
        .store
        .server_transaction(id, state.clock.now())
        .await
        .map_err(|e| Refused::Auth(OAuthError::storage(&e)))?;
    txn.filter(|t| t.client_id == client)
        .ok_or(Refused::NotFound)
}

/// `GET /3ds/server/authentications/{id}`.
pub async fn show(
    state: &AppState,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
    id: &str,
) -> Response {
    let call = Call {
        state,
        meta,
        action: READ_ACTION,
    };
    let (client, authorised) = authorised(state, meta, access).await;
    let result = match authorised {
        Ok(()) => own(state, &client, id)
            .await
            .map(|t| answer(StatusCode::OK, &t)),
        Err(e) => Err(e),
    };
    if result.is_ok() {
        // The result holds 3DS sensitive data: every read is on record.
        let record = success_record(state, meta, READ_ACTION, client_actor(&client), id);
        if let Err(err) = state.audit.append(record).await {
            tracing::error!(error = %err, "3DS Server: a read could not be audit-logged");
            return OAuthError::audit(&err).into_response();
        }
    }
    call.finish(&client, id, result).await
}

/// `POST /3ds/server/authentications/{id}/cancel`: the requestor gives up on a challenge. An RReq
/// that comes after is refused (Erro 305).
pub async fn cancel(
    state: &AppState,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
    id: &str,
) -> Response {
    let call = Call {
        state,
        meta,
        action: CANCEL_ACTION,
    };
    let (client, authorised) = authorised(state, meta, access).await;
    let result = async {
        authorised?;
        let txn = own(state, &client, id).await?;
        if txn.state != ServerState::Challenge {
            return Err(Refused::State(
                "only a transaction awaiting its challenge can be cancelled",
            ));
        }
        let update = txn
            .advance(ServerState::Cancelled, txn.data.clone())
            .map_err(|e| Refused::Auth(OAuthError::storage(&e)))?;
        let mut unit = UnitOfWork::new();
        unit.update(update);
        let record = success_record(state, meta, CANCEL_ACTION, client_actor(&client), id);
        match commit_record(state, unit, Some(record))
            .await
            .map_err(Refused::Auth)?
        {
            Committed::Done => {}
            // The RReq came in between.
            Committed::Conflict { .. } => {
                return Err(Refused::State("the challenge ended before the cancel"));
            }
        }
        let cancelled = ServerTransaction {
            state: ServerState::Cancelled,
            version: txn.version + 1,
            ..txn
        };
        Ok(answer(StatusCode::OK, &cancelled))
    }
    .await;
    call.finish(&client, id, result).await
}
