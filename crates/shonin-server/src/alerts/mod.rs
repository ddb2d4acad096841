//! Alerts to the operator's webhook: a signed JSON notification is POSTed, and the delivery (or
//! its failure) is written to the audit log as `alert.webhook`. Its events:
//! - `user.sign_in_failures`: after `alerts.failed_sign_in_threshold` consecutive failed sign-ins
//!   of one account (password or recovery code);
//! - `ciba.approval_requested`: a client asked for a user's approval (OpenID CIBA); the
//!   operator's push or e-mail channel sends the user to the approval page it names;
//! - `transaction.locked`: a failed approval attempt locked a transaction
//!   (`transactions.max_attempts`, PSD2 RTS Art. 4(3)(b)); Art. 4(4) asks that the payer be
//!   warned before a block is permanent and can regain use, which is the operator's to arrange.
//!
//! Signature (the scheme of Stripe and GitHub webhooks, so receivers have code for it):
//! `Shonin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Receivers
//! should compare in constant time and refuse stale `t`. Delivery runs in the background with a
//! timeout, once per threshold crossing (the count equals the threshold exactly) or per lock (only
//! the compare-and-set that locks fires it), so an answer never waits for the webhook and an
//! attacker cannot make it fire per attempt.

pub mod webhook;

pub use webhook::{
    Alerts, ChallengeCodeAlert, CibaRequestedAlert, SIGNATURE_HEADER, SignInFailuresAlert,
    TransactionLockedAlert,
};

use crate::request_meta::RequestMeta;
use crate::state::AppState;
use shonin_audit::{Actor, ActorKind, AuditRecord, Outcome};
use shonin_txn::Transaction;
use time::format_description::well_known::Rfc3339;

/// Called after every counted sign-in failure: when this failure is the threshold-th in a row,
/// sends the alert in the background.
pub fn after_failure(
    state: &AppState,
    meta: &RequestMeta,
    user_id: &str,
    username: &str,
    consecutive_failures: u32,
) {
    let Some(alerts) = state.alerts.as_ref() else {
        return;
    };
    if consecutive_failures != alerts.threshold {
        return;
    }
    let alert = SignInFailuresAlert {
        event: "user.sign_in_failures".into(),
        issuer: state.config.issuer.clone(),
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        consecutive_failures,
        source_ip: meta.addr.client_ip.to_string(),
        time: rfc3339(state),
    };
    let body = serde_json::to_vec(&alert).unwrap_or_default();
    deliver(state, meta, &alert.event, alert.user_id.clone(), body);
}

/// Called once a failed approval attempt has locked `txn` (its commit won): sends
/// `transaction.locked` in the background.
pub fn transaction_locked(state: &AppState, meta: &RequestMeta, txn: &Transaction) {
    if state.alerts.is_none() {
        return;
    }
    let alert = TransactionLockedAlert {
        event: "transaction.locked".into(),
        issuer: state.config.issuer.clone(),
        user_id: txn.user_id.clone(),
        client_id: txn.client_id.clone(),
        transaction_id: txn.id.clone(),
        attempts: txn.attempts,
        time: rfc3339(state),
    };
    let body = serde_json::to_vec(&alert).unwrap_or_default();
    deliver(
        state,
        meta,
        &alert.event,
        alert.transaction_id.clone(),
        body,
    );
}

/// Sends a challenge's one-time code in the background. The delivery's audit entry names the
/// event and the transaction, never the code.
pub fn challenge_code(state: &AppState, meta: &RequestMeta, mut alert: ChallengeCodeAlert) {
    alert.event = "threeds.challenge_code".into();
    alert.issuer = state.config.issuer.clone();
    alert.time = rfc3339(state);
    let body = serde_json::to_vec(&alert).unwrap_or_default();
    deliver(state, meta, &alert.event, alert.acs_trans_id.clone(), body);
}

/// Sends `ciba.approval_requested` in the background. The delivery's audit entry names the
/// event and the user.
pub fn ciba_requested(state: &AppState, meta: &RequestMeta, mut alert: CibaRequestedAlert) {
    alert.event = "ciba.approval_requested".into();
    alert.issuer = state.config.issuer.clone();
    alert.time = rfc3339(state);
    let body = serde_json::to_vec(&alert).unwrap_or_default();
    deliver(state, meta, &alert.event, alert.user_id.clone(), body);
}

fn rfc3339(state: &AppState) -> String {
    rfc3339_at(state.clock.now())
}

/// `t` as RFC 3339 text.
pub fn rfc3339_at(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// POSTs `body` (event `event`) in the background, signed, and audits the delivery as
/// `alert.webhook` on `target`.
fn deliver(state: &AppState, meta: &RequestMeta, event: &str, target: String, body: Vec<u8>) {
    let (state, request_id, source_ip, event) = (
        state.clone(),
        meta.request_id.clone(),
        meta.addr.client_ip,
        event.to_owned(),
    );
    tokio::spawn(async move {
        let Some(alerts) = state.alerts.as_ref() else {
            return;
        };
        let t = state.clock.now().unix_timestamp();
        let sent = alerts
            .client
            .post(alerts.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, alerts.signature(t, &body))
            .body(body)
            .send()
            .await;
        let (outcome, status) = delivery_outcome(sent);
        if outcome == Outcome::Failure {
            tracing::warn!(event = %event, reason = %status, "alert webhook failed");
        }
        let delivery = Delivery {
            actor: "alerts",
            action: "alert.webhook",
            target,
            source_ip,
            request_id,
        };
        delivery
            .audit(&state, outcome, format!("{event}: {status}"))
            .await;
    });
}

/// What a background delivery (an alert, a CIBA ping) records: success for a 2xx answer, else
/// the status, `timeout` or `delivery failed` (never the body or the error's text).
pub(crate) fn delivery_outcome(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> (Outcome, String) {
    match sent {
        Ok(r) if r.status().is_success() => {
            (Outcome::Success, format!("HTTP {}", r.status().as_u16()))
        }
        Ok(r) => (Outcome::Failure, format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => (Outcome::Failure, "timeout".to_owned()),
        Err(_) => (Outcome::Failure, "delivery failed".to_owned()),
    }
}

/// The audit entry of a background delivery, by the system actor that made it.
pub(crate) struct Delivery {
    pub actor: &'static str,
    pub action: &'static str,
    pub target: String,
    pub source_ip: std::net::IpAddr,
    pub request_id: Option<String>,
}

impl Delivery {
    pub(crate) async fn audit(self, state: &AppState, outcome: Outcome, reason: String) {
        let record = AuditRecord {
            time: state.clock.now(),
            actor: Actor {
                kind: ActorKind::System,
                id: self.actor.into(),
            },
            action: self.action.into(),
            target: self.target,
            outcome,
            reason: Some(reason),
            source_ip: Some(self.source_ip),
            request_id: self.request_id,
        };
        if let Err(e) = state.audit.append(record).await {
            tracing::error!(error = %e, "audit entry could not be written");
        }
    }
}
