//! The user's side of OpenID CIBA: the approval page a backchannel request's notification links
//! to (`/ciba/{id}`, the id being the hash of the `auth_req_id`). Only the user the request
//! names sees it, and only after signing in with a passkey after the request was made (each
//! approval rests on its own sign-in; its time, `acr` and `amr` go into the ID token). The page
//! shows who asks, the binding message and the scopes; a request without a payment is approved
//! with a button, one with a `payment_initiation` detail by a passkey signature over that
//! payment, through the same steps as `/approve/{id}` and the code flow's consent. Denying ends
//! the request (and its payment's transaction). A ping client is told after either.

use crate::audit_events::{failure, user_actor};
use crate::error::{error_page, unavailable_page};
use crate::forms::{CsrfForm, FormAction, form_actions};
use crate::oauth::commit::{Committed, Success, commit};
use crate::oauth::session;
use crate::pages::{self, CibaPage, Frame, PaymentView, SignInPage, see_other, with_cookie};
use crate::request_meta::RequestMeta;
use crate::routes::passkeys::check_call;
use crate::state::AppState;
use crate::txn::steps::{ConsentOwner, Step};
use crate::txn::{Refused, refused};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shonin_audit::{Actor, Outcome};
use shonin_identity::Session;
use shonin_oauth::ClientId;
use shonin_oauth::ciba::{CibaApproval, CibaRecord, CibaState};
use shonin_txn::TxnError;
use shonin_txn::consent::{self, payment_detail};
use shonin_types::flow::{self, Flow};
use shonin_types::unit::UnitOfWork;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ciba/{id}", get(page))
        .route("/ciba/{id}/approve", post(approve))
        .route("/ciba/{id}/deny", post(deny))
        .route("/ciba/{id}/payment/options", post(payment_options))
        .route("/ciba/{id}/payment", post(payment_approve))
}

/// Where a sign-in on this page continues (see `routes::passkeys::safe_next`).
pub fn page_path(id: &str) -> String {
    format!("/ciba/{id}")
}

/// Whether `id` can name a request: 64 lower-case hex digits (a SHA-256).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A stored request.
struct Found {
    flow: Flow<CibaState>,
    record: CibaRecord,
}

impl Found {
    fn waiting(&self, now: i64) -> bool {
        self.flow.state == CibaState::Pending && now < self.record.expires_at
    }
}

async fn load(state: &AppState, id: &str) -> Result<Option<Found>, TxnError> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    let Some(flow) = flow::get::<CibaState>(&state.store, id, state.clock.now())
        .await
        .map_err(|e| TxnError::Storage(e.into()))?
    else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&flow.data)
        .map_err(|e| TxnError::Storage(shonin_types::StorageError::Corrupt(e.to_string())))?;
    Ok(Some(Found { flow, record }))
}

/// Whether `session` may decide `record`: its user, signed in with a passkey after the request
/// was made.
fn may_decide(session: &Session, record: &CibaRecord) -> bool {
    session.user_id == record.subject
        && session.by_passkey()
        && session.auth_time >= record.created_at
}

/// A refusal on this page, as `TxnError` for the shared answer: absent (another user's request
/// reads as an unknown one), or not in a state to decide.
fn not_found() -> Refused {
    TxnError::NotFound.into()
}

/// `GET /ciba/{id}`
pub async fn page(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = meta.lang;
    let t = lang.texts();
    let (csrf, csrf_cookie) = session::csrf(&headers);
    let here = page_path(&id);
    let unavailable = || unavailable_page(lang, meta.request_id.as_deref());
    let Ok(session) = session::current(&state, &headers).await else {
        return unavailable();
    };
    let found = match load(&state, &id).await {
        Ok(f) => f,
        Err(_) => return unavailable(),
    };
    let fresh = matches!((&session, &found), (Some(s), Some(f)) if may_decide(s, &f.record));
    let mine = matches!((&session, &found), (Some(s), Some(f)) if s.user_id == f.record.subject);
    if !fresh && (session.is_none() || mine) {
        // Not signed in, or signed in before the request: a passkey sign-in, then back here.
        let sign_in = SignInPage {
            f: Frame::new(lang, &here),
            client_name: "",
            client_id: "",
            request_uri: "",
            action: "/account/sign-in",
            next: &here,
            csrf: &csrf,
            username: "",
            error: None,
            step_up: true,
        };
        return with_cookie(pages::render(StatusCode::OK, &sign_in, None), csrf_cookie);
    }
    let actor = session
        .as_ref()
        .map_or_else(|| user_actor("-"), |s| user_actor(&s.user_id));
    let (Some(_), Some(found)) = (session, found) else {
        failure(&state, &meta, "oauth.ciba.read", actor, "no such request").await;
        return error_page(lang, StatusCode::NOT_FOUND, t.ciba_not_found, None);
    };
    if !mine {
        // Another user's request is as absent as an unknown one; both are audited.
        failure(
            &state,
            &meta,
            "oauth.ciba.read",
            actor,
            "another user's request",
        )
        .await;
        return error_page(lang, StatusCode::NOT_FOUND, t.ciba_not_found, None);
    }
    let now = state.clock.now().unix_timestamp();
    let record = &found.record;
    let client_name = match ClientId::try_from(record.client_id.as_str()) {
        Ok(cid) => match state.oauth.clients.get(&state.store, &cid).await {
            Ok(Some(c)) => c.client_name.clone(),
            Ok(None) => record.client_id.clone(),
            Err(_) => return unavailable(),
        },
        Err(_) => record.client_id.clone(),
    };
    let outcome = match found.flow.state {
        CibaState::Approved | CibaState::Redeemed => Some(t.ciba_approved),
        CibaState::Denied => Some(t.ciba_denied),
        CibaState::Pending if now >= record.expires_at => Some(t.ciba_expired),
        CibaState::Pending => None,
    };
    let payment = payment_detail(&record.authorization_details)
        .and_then(|d| consent::terms_of(d).ok())
        .map(|terms| PaymentView {
            shown: terms.shown(crate::routes::approve::locale(lang)),
            options_url: format!("{here}/payment/options"),
            approve_url: format!("{here}/payment"),
        });
    let page = CibaPage {
        f: Frame::new(lang, &here),
        id: &id,
        client_name: &client_name,
        username: &record.username,
        binding_message: record.binding_message.as_deref(),
        scopes: &record.scope,
        payment,
        deadline: crate::alerts::rfc3339_at(
            time::OffsetDateTime::from_unix_timestamp(record.expires_at)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        ),
        csrf: &csrf,
        outcome,
    };
    with_cookie(pages::render(StatusCode::OK, &page, None), csrf_cookie)
}

/// The request `id` and the signed-in user who may decide it now, or the refusal.
async fn decidable(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> (Actor, Result<(Session, Found), Refused>) {
    let session = match session::current(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return (user_actor("-"), Err(not_found())),
        Err(e) => return (user_actor("-"), Err(TxnError::Storage(e).into())),
    };
    let actor = user_actor(&session.user_id);
    let result = match load(state, id).await {
        Ok(Some(found)) if session.user_id == found.record.subject => {
            if !may_decide(&session, &found.record) {
                Err(TxnError::Invalid("session", "sign in with a passkey again to decide").into())
            } else if !found.waiting(state.clock.now().unix_timestamp()) {
                Err(TxnError::Conflict.into())
            } else {
                Ok((session, found))
            }
        }
        Ok(_) => Err(not_found()),
        Err(e) => Err(e.into()),
    };
    (actor, result)
}

/// The approval the signed-in user gives, with the details granted.
fn approval(session: &Session, details: Vec<Value>, now: i64) -> CibaApproval {
    CibaApproval {
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.clone(),
        authorization_details: details,
        decided_at: now,
    }
}

/// Stages the decision of `found` (pending → `to`, with `approval` when approving).
fn stage_decision(
    unit: &mut UnitOfWork,
    found: &Found,
    to: CibaState,
    approval: Option<CibaApproval>,
    now: time::OffsetDateTime,
) -> Result<(), TxnError> {
    let mut record = found.record.clone();
    record.approval = approval;
    let data = serde_json::to_vec(&record).map_err(|e| TxnError::Internal(e.to_string()))?;
    let update = found
        .flow
        .advance(to, Some(data), now)
        .map_err(|e| TxnError::Internal(e.to_string()))?;
    unit.update(update);
    Ok(())
}

/// Moves `found` to `to` (with `approval` when approving) and commits that with the success
/// entry; a lost compare-and-set (decided or expired meanwhile) is a conflict.
async fn decide(
    state: &AppState,
    meta: &RequestMeta,
    found: &Found,
    to: CibaState,
    approval: Option<CibaApproval>,
    action: &'static str,
    actor: Actor,
) -> Result<(), Refused> {
    let mut unit = UnitOfWork::new();
    stage_decision(&mut unit, found, to, approval, state.clock.now())?;
    let success = Success {
        action,
        actor,
        target: &found.flow.id,
    };
    match commit(state, meta, unit, Some(success)).await? {
        Committed::Done => Ok(()),
        Committed::Conflict { .. } => Err(TxnError::Conflict.into()),
    }
}

form_actions! {
    ApproveCiba = "oauth.ciba.approve";
    DenyCiba = "oauth.ciba.deny";
}

/// `POST /ciba/{id}/approve` (form): approves a request without a payment.
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<ApproveCiba>,
) -> Response {
    const ACTION: &str = ApproveCiba::ACTION;
    let meta = form.meta;
    let (actor, found) = decidable(&state, &form.headers, &id).await;
    let result = async {
        let (session, found) = found?;
        if payment_detail(&found.record.authorization_details).is_some() {
            return Err(TxnError::Invalid(
                "decision",
                "a payment is approved with a passkey signature over it",
            )
            .into());
        }
        let given = approval(
            &session,
            found.record.authorization_details.clone(),
            state.clock.now().unix_timestamp(),
        );
        let to = CibaState::Approved;
        decide(
            &state,
            &meta,
            &found,
            to,
            Some(given),
            ACTION,
            actor.clone(),
        )
        .await?;
        Ok(found.record)
    }
    .await;
    finish_form(&state, &meta, ACTION, actor, &id, result).await
}

/// `POST /ciba/{id}/deny` (form): the user refuses; a payment's transaction is rejected too.
pub async fn deny(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<DenyCiba>,
) -> Response {
    const ACTION: &str = DenyCiba::ACTION;
    let meta = form.meta;
    let (actor, found) = decidable(&state, &form.headers, &id).await;
    let result = async {
        let (session, found) = found?;
        decide(
            &state,
            &meta,
            &found,
            CibaState::Denied,
            None,
            ACTION,
            actor.clone(),
        )
        .await?;
        if payment_detail(&found.record.authorization_details).is_some() {
            reject_payment(&state, &meta, &id, &session).await;
        }
        Ok(found.record)
    }
    .await;
    finish_form(&state, &meta, ACTION, actor, &id, result).await
}

/// After a form's decision: the ping when it was made, the audited refusal otherwise; back to
/// the page either way (it shows what the request now is).
async fn finish_form(
    state: &AppState,
    meta: &RequestMeta,
    action: &'static str,
    actor: Actor,
    id: &str,
    result: Result<CibaRecord, Refused>,
) -> Response {
    match result {
        Ok(record) => {
            ping(state, meta, &record, id);
            see_other(&page_path(id))
        }
        Err(e) => {
            let resp = refused(state, meta, action, actor, id, e).await;
            if resp.status().is_server_error() {
                unavailable_page(meta.lang, meta.request_id.as_deref())
            } else {
                see_other(&page_path(id))
            }
        }
    }
}

/// A denied payment's transaction is rejected, so the API and the audit log say so.
async fn reject_payment(state: &AppState, meta: &RequestMeta, id: &str, session: &Session) {
    let step = Step {
        state,
        meta,
        action: "txn.reject",
    };
    let txn_id = consent::transaction_id(id, &session.user_id);
    let Ok(txn) = step.load(&txn_id).await else {
        return;
    };
    let Ok(mv) = txn.reject(step.now()) else {
        return;
    };
    let actor = user_actor(&session.user_id);
    if let Err(e) = step
        .commit_move(mv, UnitOfWork::new(), actor, "txn.reject")
        .await
    {
        tracing::warn!(error = %e.reason(), "a denied request's transaction could not be rejected");
    }
}

const PAYMENT_CHALLENGE: &str = "txn.challenge";
const PAYMENT_APPROVE: &str = "oauth.ciba.approve";

/// A JSON call of the page's script for the payment: the request, its decider and the
/// payment's transaction id, or the audited refusal.
async fn payment_call<'a>(
    state: &'a AppState,
    meta: &'a RequestMeta,
    headers: &HeaderMap,
    id: &str,
    action: &'static str,
) -> Result<
    (
        Step<'a>,
        Actor,
        Result<(Session, Found, Value, String), Refused>,
    ),
    Response,
> {
    check_call(state, meta, headers, action).await?;
    let (actor, found) = decidable(state, headers, id).await;
    let found = found.and_then(|(session, found)| {
        let detail = payment_detail(&found.record.authorization_details)
            .cloned()
            .ok_or_else(|| Refused::from(TxnError::Invalid("request", "it has no payment")))?;
        let txn_id = consent::transaction_id(id, &session.user_id);
        Ok((session, found, detail, txn_id))
    });
    let step = Step {
        state,
        meta,
        action,
    };
    Ok((step, actor, found))
}

/// `POST /ciba/{id}/payment/options`: the payment's transaction (created on first use) and the
/// WebAuthn options for its challenge.
pub async fn payment_options(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (step, actor, found) =
        match payment_call(&state, &meta, &headers, &id, PAYMENT_CHALLENGE).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let result = async {
        let (session, found, detail, txn_id) = found?;
        let owner = ConsentOwner {
            user_id: &session.user_id,
            client_id: &found.record.client_id,
        };
        let txn = step
            .consent_transaction(&txn_id, owner, &detail, actor.clone())
            .await?;
        step.challenge(txn, UnitOfWork::new(), actor.clone(), true)
            .await
    }
    .await;
    match result {
        Ok((_, options)) => Json(json!({ "options": options })).into_response(),
        Err(e) => refused(&state, &meta, PAYMENT_CHALLENGE, actor, &id, e).await,
    }
}

/// `POST /ciba/{id}/payment` with `{"assertion": …}`: the payment's approval and the request's
/// in one unit of work; the granted detail carries the approval (RFC 9396 §7).
pub async fn payment_approve(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (step, actor, found) =
        match payment_call(&state, &meta, &headers, &id, PAYMENT_APPROVE).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let result = async {
        let (session, found, _, txn_id) = found?;
        let v = crate::routes::transactions::body(&body)?;
        let owner = ConsentOwner {
            user_id: &session.user_id,
            client_id: &found.record.client_id,
        };
        // The options call created and challenged it; approving never creates one.
        let txn = step.owned_consent_transaction(&txn_id, owner).await?;
        let now = step.now();
        step.approve(
            txn,
            v.get("assertion"),
            UnitOfWork::new(),
            actor.clone(),
            |approved, unit| {
                let signed = approved
                    .txn
                    .approval
                    .as_ref()
                    .ok_or_else(|| TxnError::Internal("approved without an approval".into()))?;
                let details = consent::granted_details(
                    &found.record.authorization_details,
                    &approved.txn.id,
                    signed,
                );
                let given = approval(&session, details, now.unix_timestamp());
                // The request's decision commits with the payment's approval: a request decided
                // meanwhile undoes the approval too.
                stage_decision(unit, &found, CibaState::Approved, Some(given), now)?;
                Ok(())
            },
        )
        .await?;
        Ok(found.record)
    }
    .await;
    match result {
        Ok(record) => {
            ping(&state, &meta, &record, &id);
            Json(json!({ "state": "approved", "location": page_path(&id) })).into_response()
        }
        Err(e) => refused(&state, &meta, PAYMENT_APPROVE, actor, &id, e).await,
    }
}

/// CIBA Core §10.2: tells a ping client that its request was decided — a POST of
/// `{"auth_req_id": …}` with its `client_notification_token` as the bearer token — in the
/// background, over the HTTP client for client-hosted endpoints (https only, no redirects,
/// 5 s). Audited as `oauth.ciba.ping` with the HTTP status, never the token.
fn ping(state: &AppState, meta: &RequestMeta, record: &CibaRecord, id: &str) {
    let Some(target) = record.ping.clone() else {
        return;
    };
    let (state, request_id, source_ip, client_id, id) = (
        state.clone(),
        meta.request_id.clone(),
        meta.addr.client_ip,
        record.client_id.clone(),
        id.to_owned(),
    );
    tokio::spawn(async move {
        let endpoint = match ClientId::try_from(client_id.as_str()) {
            Ok(cid) => match state.oauth.clients.get(&state.store, &cid).await {
                Ok(Some(c)) => c.backchannel_client_notification_endpoint.clone(),
                _ => None,
            },
            Err(_) => None,
        };
        let (outcome, reason) = match endpoint {
            None => (
                Outcome::Failure,
                "the client has no notification endpoint".to_owned(),
            ),
            Some(url) => crate::alerts::delivery_outcome(
                state
                    .oauth
                    .jwks
                    .http()
                    .post(url)
                    .bearer_auth(&target.client_notification_token)
                    .json(&json!({ "auth_req_id": target.auth_req_id }))
                    .send()
                    .await,
            ),
        };
        if outcome == Outcome::Failure {
            tracing::warn!(client_id = %client_id, reason = %reason, "CIBA ping failed");
        }
        let delivery = crate::alerts::Delivery {
            actor: "ciba",
            action: "oauth.ciba.ping",
            target: id,
            source_ip,
            request_id,
        };
        delivery
            .audit(&state, outcome, format!("{client_id}: {reason}"))
            .await;
    });
}
