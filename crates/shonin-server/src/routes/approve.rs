//! The user's approval page for a transaction (`/approve/{id}`): the bank's app sends the user
//! here after `POST /transactions`. The page shows the stored transaction — payee, account,
//! amount in the page's language, reference — server-rendered and escaped, and says plainly that
//! the passkey signs exactly that. Approving runs `/static/approve.js`: the challenge from
//! `POST /approve/{id}/options`, the passkey's assertion to `POST /approve/{id}`. Only the
//! signed-in user the transaction is for sees it (another user's is as absent as an unknown one);
//! sign-in here needs a passkey. JSON calls carry the page's CSRF value in `X-CSRF-Token`, the
//! reject form in its `csrf` field. The steps are the API's (`txn/steps.rs`).

use crate::audit_events::user_actor;
use crate::error::{error_page, unavailable_page};
use crate::forms::{CsrfForm, FormAction, form_actions};
use crate::i18n::Lang;
use crate::oauth::session;
use crate::pages::{self, ApprovePage, Frame, SignInPage, see_other, with_cookie};
use crate::request_meta::RequestMeta;
use crate::routes::passkeys::check_call;
use crate::state::AppState;
use crate::txn::steps::Step;
use crate::txn::{Refused, refused};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use shonin_identity::Session;
use shonin_oauth::ClientId;
use shonin_txn::{Loaded, TxnError, TxnState};
use shonin_types::unit::UnitOfWork;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approve/{id}", get(page).post(approve))
        .route("/approve/{id}/options", post(options))
        .route("/approve/{id}/reject", post(reject))
}

/// Where a sign-in on this page continues (see `routes::passkeys::safe_next`).
pub fn page_path(id: &str) -> String {
    format!("/approve/{id}")
}

/// The signed-in user's transaction `id`.
async fn users_transaction(step: Step<'_>, session: &Session, id: &str) -> Result<Loaded, Refused> {
    let loaded = step.load(id).await?;
    if loaded.txn.user_id != session.user_id {
        return Err(TxnError::NotFound.into());
    }
    Ok(loaded)
}

fn when(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `GET /approve/{id}`
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
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
    };
    let Some(session) = session else {
        // A transaction is approved with a passkey, so sign-in here is by passkey too.
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
    };
    let step = Step {
        state: &state,
        meta: &meta,
        action: "txn.read",
    };
    let loaded = match users_transaction(step, &session, &id).await {
        Ok(l) => l,
        Err(e) => {
            // Another user's transaction is as absent as an unknown one; both are audited.
            let resp = refused(
                &state,
                &meta,
                "txn.read",
                user_actor(&session.user_id),
                &id,
                e,
            )
            .await;
            return if resp.status() == StatusCode::NOT_FOUND {
                error_page(lang, StatusCode::NOT_FOUND, t.txn_not_found, None)
            } else {
                unavailable_page(lang, meta.request_id.as_deref())
            };
        }
    };
    let client_name = match ClientId::try_from(loaded.txn.client_id.as_str()) {
        Ok(cid) => match state.oauth.clients.get(&state.store, &cid).await {
            Ok(Some(c)) => c.client_name.clone(),
            Ok(None) => loaded.txn.client_id.clone(),
            Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
        },
        Err(_) => loaded.txn.client_id.clone(),
    };
    let outcome = match loaded.state(step.now()) {
        TxnState::Created | TxnState::Challenged => None,
        TxnState::Approved => Some(t.txn_approved),
        TxnState::Rejected => Some(t.txn_rejected),
        TxnState::Expired => Some(t.txn_expired),
        TxnState::Locked => Some(t.txn_locked),
        TxnState::Executed => Some(t.txn_executed),
    };
    let attempts_note = match (outcome, loaded.txn.attempts) {
        (None, 1..) => Some(attempts_note(
            lang,
            step.policy()
                .max_attempts
                .saturating_sub(loaded.txn.attempts),
        )),
        _ => None,
    };
    let page = ApprovePage {
        f: Frame::new(lang, &here),
        id: &loaded.txn.id,
        client_name: &client_name,
        shown: loaded.shown(locale(lang)),
        deadline: when(loaded.txn.expires_at),
        csrf: &csrf,
        outcome,
        attempts_note,
    };
    with_cookie(pages::render(StatusCode::OK, &page, None), csrf_cookie)
}

/// After a failed attempt, how many are left before the transaction locks: PSD2 RTS Art. 4(4)
/// wants the payer warned before a block. `/static/approve.js` says the same after a refusal.
pub fn attempts_note(lang: Lang, left: u32) -> String {
    let t = lang.texts();
    if left == 1 {
        t.approve_last_attempt.to_owned()
    } else {
        t.approve_attempts_left.replace("{n}", &left.to_string())
    }
}

pub(crate) fn locale(lang: Lang) -> shonin_txn::Locale {
    match lang {
        Lang::En => shonin_txn::Locale::En,
        Lang::Ja => shonin_txn::Locale::Ja,
    }
}

/// The signed-in user of a JSON call or form, or the refusal.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, Refused> {
    match session::current(state, headers).await {
        Ok(Some(s)) => Ok(s),
        // Not signed in (or the session ended): the transaction is as absent as an unknown one.
        Ok(None) => Err(TxnError::NotFound.into()),
        Err(e) => Err(TxnError::Storage(e).into()),
    }
}

/// Who asks (the audit actor: the signed-in user, when there is one) and their transaction
/// `id`.
async fn asked(
    step: Step<'_>,
    headers: &HeaderMap,
    id: &str,
) -> (shonin_audit::Actor, Result<Loaded, Refused>) {
    match signed_in(step.state, headers).await {
        Ok(session) => (
            user_actor(&session.user_id),
            users_transaction(step, &session, id).await,
        ),
        Err(e) => (user_actor("-"), Err(e)),
    }
}

/// A JSON call of the page's script (`application/json`, the CSRF header; else the audited
/// refusal): its step, who asks, and their transaction `id`.
async fn page_call<'a>(
    state: &'a AppState,
    meta: &'a RequestMeta,
    headers: &HeaderMap,
    id: &str,
    action: &'static str,
) -> Result<(Step<'a>, shonin_audit::Actor, Result<Loaded, Refused>), Response> {
    check_call(state, meta, headers, action).await?;
    let step = Step {
        state,
        meta,
        action,
    };
    let (actor, found) = asked(step, headers, id).await;
    Ok((step, actor, found))
}

/// `POST /approve/{id}/options`: the challenge for the user's passkey (issued now, or the one
/// already issued if the page was reloaded).
pub async fn options(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    const ACTION: &str = "txn.challenge";
    let (step, actor, found) = match page_call(&state, &meta, &headers, &id, ACTION).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = async {
        step.challenge(found?, UnitOfWork::new(), actor.clone(), true)
            .await
    }
    .await;
    match result {
        Ok((_, options)) => Json(json!({ "options": options })).into_response(),
        Err(e) => refused(&state, &meta, ACTION, actor, &id, e).await,
    }
}

/// `POST /approve/{id}` with `{"assertion": …}`: the approval.
pub async fn approve(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    const ACTION: &str = "txn.approve";
    let (step, actor, found) = match page_call(&state, &meta, &headers, &id, ACTION).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = async {
        let loaded = found?;
        let v = crate::routes::transactions::body(&body)?;
        step.approve(
            loaded,
            v.get("assertion"),
            UnitOfWork::new(),
            actor.clone(),
            |_, _| Ok(()),
        )
        .await
    }
    .await;
    match result {
        Ok((approved, ())) => Json(json!({
            "state": approved.state(step.now()),
            "location": page_path(&id),
        }))
        .into_response(),
        Err(e) => refused(&state, &meta, ACTION, actor, &id, e).await,
    }
}

form_actions! {
    RejectTransaction = "txn.reject";
}

/// `POST /approve/{id}/reject` (form): the user declines; back to the page.
pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<RejectTransaction>,
) -> Response {
    const ACTION: &str = RejectTransaction::ACTION;
    let meta = form.meta;
    let step = Step {
        state: &state,
        meta: &meta,
        action: ACTION,
    };
    let (actor, found) = asked(step, &form.headers, &id).await;
    let result = async {
        let mv = found?.reject(step.now())?;
        step.commit_move(mv, UnitOfWork::new(), actor.clone(), ACTION)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&page_path(&id)),
        Err(e) => {
            // Audited; the page then shows the transaction as it is (rejected, approved…).
            let resp = refused(&state, &meta, ACTION, actor, &id, e).await;
            if resp.status().is_server_error() {
                unavailable_page(meta.lang, meta.request_id.as_deref())
            } else {
                see_other(&page_path(&id))
            }
        }
    }
}
