//! Payment consent in the code flow: a pushed request with a `payment_initiation` detail is
//! approved by a passkey signature over that payment, not by a button (PSD2 RTS Art. 5(1),
//! OWASP Transaction Authorization 1.1). The consent page shows the payment from the stored
//! request through `shonin_txn::linking` (what is shown is what is signed) and runs
//! `/static/approve.js` against two JSON calls:
//!
//! - `POST /authorize/payment/options?client_id=…&request_uri=…`: the transaction for this
//!   request and user (created on first use under a derived id, then the API's own steps), and
//!   the WebAuthn options for its challenge.
//! - `POST /authorize/payment?client_id=…&request_uri=…` with `{"assertion": …}`: the approval,
//!   the pushed request's one use and the authorization code in one unit of work; the answer's
//!   `location` is the client's redirect URI with the code.
//!
//! Both need the page's CSRF value (`X-CSRF-Token`) and a session fresh enough for the request.
//! The granted detail carries the approval (transaction id, signed challenge, passkey, time),
//! so tokens and introspection name exactly what was signed (RFC 9396 §7).

use super::authorize::{self, Loaded, client_actor, session_fresh_enough};
use crate::audit_events::user_actor;
use crate::error::authorize::Refusal;
use crate::error::{problem_response, title_for};
use crate::oauth::session;
use crate::pages::PaymentView;
use crate::request_meta::RequestMeta;
use crate::routes::passkeys::check_call;
use crate::state::AppState;
use crate::txn::steps::{ConsentOwner, Step};
use crate::txn::{Refused, refused};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shonin_audit::Actor;
use shonin_identity::Session;
use shonin_oauth::form::FormParams;
use shonin_oauth::grant;
use shonin_oauth::par::ParState;
use shonin_txn::TxnError;
use shonin_txn::consent::{self, payment_detail};
use shonin_types::unit::UnitOfWork;

/// The audit action (and metric label) of the approval; the options call's is the API's
/// `txn.challenge`, so an auditor never reads a challenge as a consent.
const CONSENT: &str = "oauth.consent";
const CHALLENGE: &str = "txn.challenge";

/// The payment part of the consent page, if the request has one.
pub(super) fn view(loaded: &Loaded, lang: crate::i18n::Lang) -> Option<PaymentView> {
    let detail = payment_detail(&loaded.record.request.authorization_details)?;
    // Checked at PAR (`consent::check_details`); a stored request that no longer converts
    // (a changed currency table) gets neither the passkey nor the button: only deny.
    let terms = consent::terms_of(detail).ok()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", loaded.client.client_id.as_str())
        .append_pair(
            "request_uri",
            &shonin_oauth::par::request_uri(&loaded.reference),
        )
        .finish();
    Some(PaymentView {
        shown: terms.shown(crate::routes::approve::locale(lang)),
        options_url: format!("/authorize/payment/options?{query}"),
        approve_url: format!("/authorize/payment?{query}"),
    })
}

/// A refusal of the pushed request or the session, as a problem document, audited.
async fn request_refused(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    status: StatusCode,
    message: &'static str,
) -> Response {
    crate::audit_events::failure(state, meta, action, actor, message).await;
    problem_response(status, title_for(status), Some(message))
}

/// The request, the signed-in user and their payment's transaction id, for a JSON call of the
/// consent page.
struct Call<'a> {
    step: Step<'a>,
    loaded: Loaded,
    session: Session,
    actor: Actor,
    txn_id: String,
    detail: Value,
}

async fn call<'a>(
    state: &'a AppState,
    meta: &'a RequestMeta,
    headers: &HeaderMap,
    query: Option<&str>,
    action: &'static str,
) -> Result<Call<'a>, Response> {
    check_call(state, meta, headers, action).await?;
    let params = FormParams::parse(query.unwrap_or_default().as_bytes()).map_err(|_| {
        problem_response(
            StatusCode::BAD_REQUEST,
            title_for(StatusCode::BAD_REQUEST),
            Some("the query is malformed"),
        )
    })?;
    let client_id = params.get("client_id");
    let loaded = match authorize::load(state, client_id, params.get("request_uri")).await {
        Ok(l) => l,
        Err(Refusal::Page(status, message)) => {
            let actor = client_actor(client_id.unwrap_or("-"));
            return Err(request_refused(state, meta, action, actor, status, message).await);
        }
        Err(Refusal::Redirect { description, .. }) => {
            let actor = client_actor(client_id.unwrap_or("-"));
            let status = StatusCode::BAD_REQUEST;
            return Err(request_refused(state, meta, action, actor, status, description).await);
        }
    };
    let now = state.clock.now().unix_timestamp();
    let session = match session::current(state, headers).await {
        Ok(Some(s)) if session_fresh_enough(&s, &loaded.record, now) => s,
        Ok(_) => {
            let actor = client_actor(loaded.client.client_id.as_str());
            let message = "your sign-in has expired; go back and start again";
            return Err(request_refused(
                state,
                meta,
                action,
                actor,
                StatusCode::UNAUTHORIZED,
                message,
            )
            .await);
        }
        Err(e) => return Err(crate::txn::problem(&TxnError::Storage(e))),
    };
    let actor = user_actor(&session.user_id);
    let Some(detail) = payment_detail(&loaded.record.request.authorization_details).cloned() else {
        let message = "this request has no payment to approve";
        return Err(
            request_refused(state, meta, action, actor, StatusCode::BAD_REQUEST, message).await,
        );
    };
    Ok(Call {
        step: Step {
            state,
            meta,
            action,
        },
        txn_id: consent::transaction_id(&loaded.reference, &session.user_id),
        loaded,
        session,
        actor,
        detail,
    })
}

impl Call<'_> {
    fn owner(&self) -> ConsentOwner<'_> {
        ConsentOwner {
            user_id: &self.session.user_id,
            client_id: self.loaded.client.client_id.as_str(),
        }
    }

    /// The payment's transaction, created from the stored request on first use.
    async fn transaction(&self) -> Result<shonin_txn::Loaded, Refused> {
        self.step
            .consent_transaction(&self.txn_id, self.owner(), &self.detail, self.actor.clone())
            .await
    }
}

/// `POST /authorize/payment/options`
pub async fn options(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let c = match call(&state, &meta, &headers, query.as_deref(), CHALLENGE).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let txn = c.transaction().await?;
        c.step
            .challenge(txn, UnitOfWork::new(), c.actor.clone(), true)
            .await
    }
    .await;
    match result {
        Ok((_, options)) => Json(json!({ "options": options })).into_response(),
        Err(e) => refused(&state, &meta, CHALLENGE, c.actor, &c.txn_id, e).await,
    }
}

/// `POST /authorize/payment` with `{"assertion": …}`
pub async fn approve(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let c = match call(&state, &meta, &headers, query.as_deref(), CONSENT).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let v = crate::routes::transactions::body(&body)?;
        let txn = c
            .step
            .owned_consent_transaction(&c.txn_id, c.owner())
            .await?;
        let now = c.step.now();
        let (_, code) = c
            .step
            .approve(
                txn,
                v.get("assertion"),
                UnitOfWork::new(),
                c.actor.clone(),
                |approved, unit| {
                    let approval =
                        approved.txn.approval.as_ref().ok_or_else(|| {
                            TxnError::Internal("approved without an approval".into())
                        })?;
                    let internal = |e: &dyn std::fmt::Display| TxnError::Internal(e.to_string());
                    // The request's one use (FAPI 2.0 §5.3.2.2 note 3) commits with the
                    // approval: a request used meanwhile undoes the approval too.
                    let used = c
                        .loaded
                        .stored
                        .advance(ParState::Done, None, now)
                        .map_err(|e| internal(&e))?;
                    unit.update(used);
                    let details = consent::granted_details(
                        &c.loaded.record.request.authorization_details,
                        &approved.txn.id,
                        approval,
                    );
                    let grant = authorize::code_grant(&c.loaded, &c.session, details, now)
                        .map_err(|e| internal(&e))?;
                    grant::stage_code(unit, &grant, now).map_err(|e| internal(&e).into())
                },
            )
            .await?;
        authorize::code_response_url(&state, &c.loaded.record, &code)
            .ok_or_else(|| TxnError::Internal("the redirect URI is invalid".into()).into())
    }
    .await;
    match result {
        Ok(location) => Json(json!({ "state": "approved", "location": location })).into_response(),
        Err(e) => refused(&state, &meta, CONSENT, c.actor, &c.txn_id, e).await,
    }
}

/// The user denied a payment request on the consent page: its transaction, if one was
/// created, is rejected too, so the API and the audit log say so rather than letting it expire.
pub(super) async fn reject(
    state: &AppState,
    meta: &RequestMeta,
    loaded: &Loaded,
    session: &Session,
) {
    let step = Step {
        state,
        meta,
        action: "txn.reject",
    };
    let id = consent::transaction_id(&loaded.reference, &session.user_id);
    let Ok(txn) = step.load(&id).await else {
        return;
    };
    let Ok(mv) = txn.reject(step.now()) else {
        return;
    };
    if let Err(e) = step
        .commit_move(
            mv,
            UnitOfWork::new(),
            user_actor(&session.user_id),
            "txn.reject",
        )
        .await
    {
        tracing::warn!(error = %e.reason(), "a denied payment's transaction could not be rejected");
    }
}
