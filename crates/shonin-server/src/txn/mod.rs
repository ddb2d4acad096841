//! Transaction signing in the server: the `[transactions]` settings, the API's answers (the
//! transaction as the client sees it, and errors as RFC 9457 problems), and the audit entries.
//! The rules are `shonin_txn`'s; the handlers are in `routes/transactions.rs`.

pub mod steps;

use crate::audit_events::success_record;
use crate::error::OAuthError;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shonin_audit::{Actor, ActorKind, AuditRecord, Outcome};
use shonin_txn::{Loaded, Locale, TxnError, TxnPolicy};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a transaction request failed: its access token (an OAuth resource error with its
/// challenge), or the transaction rules.
#[derive(Debug)]
pub enum Refused {
    Auth(OAuthError),
    Txn(TxnError),
    /// Refused, and its audit entry already committed with the request's writes (a failed
    /// approval attempt).
    Recorded(TxnError),
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused::Auth(e)
    }
}

impl From<TxnError> for Refused {
    fn from(e: TxnError) -> Self {
        Refused::Txn(e)
    }
}

impl From<shonin_types::StorageError> for Refused {
    fn from(e: shonin_types::StorageError) -> Self {
        Refused::Txn(TxnError::Storage(e))
    }
}

impl Refused {
    pub(crate) fn reason(&self) -> String {
        match self {
            Refused::Auth(e) => format!("{}: {}", e.error, e.description),
            Refused::Txn(e) | Refused::Recorded(e) => e.reason(),
        }
    }
}

/// A transaction error as an RFC 9457 problem, with the API's `error` code as an extension
/// member and, for a refused approval, the attempts left.
pub fn problem(e: &TxnError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = match e {
        TxnError::Storage(_) | TxnError::Internal(_) => {
            tracing::error!(error = %e, "transaction request failed");
            "the server could not complete the request".to_owned()
        }
        other => other.to_string(),
    };
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "error": e.code(),
    });
    if let (TxnError::Refused { attempts_left, .. }, Some(o)) = (e, body.as_object_mut()) {
        o.insert("attempts_left".into(), json!(attempts_left));
    }
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::error::PROBLEM_JSON),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    resp
}

/// Counts one transaction request: its step (the audit action) and its outcome (`ok` or the
/// error code), as `shonin_transactions_total{action,outcome}`.
pub fn counted(action: &str, outcome: &'static str) {
    metrics::counter!(
        "shonin_transactions_total",
        "action" => action.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

fn error_code(e: &Refused) -> &'static str {
    match e {
        Refused::Auth(e) => e.error.as_str(),
        Refused::Txn(e) | Refused::Recorded(e) => e.code(),
    }
}

/// The audit entry of a refused transaction request.
pub fn failure_record(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    target: &str,
    reason: String,
) -> AuditRecord {
    AuditRecord {
        outcome: Outcome::Failure,
        reason: Some(reason),
        ..success_record(state, meta, action, actor, target)
    }
}

pub fn client_actor(client_id: &str) -> Actor {
    Actor {
        kind: ActorKind::Client,
        id: if client_id.is_empty() { "-" } else { client_id }.to_owned(),
    }
}

/// Answers a refusal after writing its audit entry (every security rejection is recorded).
pub async fn refused(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    target: &str,
    e: Refused,
) -> Response {
    counted(action, error_code(&e));
    if let Refused::Recorded(e) = e {
        return problem(&e);
    }
    let record = failure_record(state, meta, action, actor, target, e.reason());
    if let Err(err) = state.audit.append(record).await {
        tracing::error!(error = %err, "audit entry for a transaction refusal could not be written");
        return OAuthError::audit(&err).into_response();
    }
    match e {
        Refused::Auth(e) => e.into_response(),
        Refused::Txn(e) | Refused::Recorded(e) => problem(&e),
    }
}

fn rfc3339(unix: i64) -> Value {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// The transaction as its client sees it: the data, its state now, what the user is shown in
/// each page language, the deadline, the attempts left and, once approved, the receipt.
pub fn view(loaded: &Loaded, policy: &TxnPolicy, now: OffsetDateTime) -> Value {
    let t = &loaded.txn;
    let shown =
        |locale| serde_json::to_value(ShownJson::from(loaded.shown(locale))).unwrap_or_default();
    let mut v = json!({
        "id": t.id,
        "state": loaded.state(now),
        "user_id": t.user_id,
        "payee": t.payee,
        "amount": t.amount,
        "reference": t.reference,
        "display": {"en": shown(Locale::En), "ja": shown(Locale::Ja)},
        "created_at": rfc3339(t.created_at),
        "expires_at": rfc3339(t.expires_at),
        "attempts_left": policy.max_attempts.saturating_sub(t.attempts),
    });
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    if let Some(a) = &t.approval {
        o.insert(
            "approval".into(),
            json!({
                "approved_at": rfc3339(a.approved_at),
                "credential_id": a.credential_id,
                "challenge": a.challenge,
                "receipt": a.receipt,
            }),
        );
    }
    if let Some(at) = t.executed_at {
        o.insert("executed_at".into(), rfc3339(at));
    }
    v
}

#[derive(serde::Serialize)]
struct ShownJson {
    payee: String,
    account: String,
    amount: String,
    reference: Option<String>,
}

impl From<shonin_txn::linking::Shown> for ShownJson {
    fn from(s: shonin_txn::linking::Shown) -> Self {
        ShownJson {
            payee: s.payee,
            account: s.account,
            amount: s.amount,
            reference: s.reference,
        }
    }
}
