//! The browser challenge (EMV 3DS browser flow), on the issuer's origin inside the requestor's
//! iframe:
//!
//! 1. `POST /3ds/acs/challenge` (form: `creq`, `threeDSSessionData`): the CReq starts the
//!    challenge of an ARes `C` (30 s timer → 600 s timer), and the page shows the purchase from
//!    the *stored* AReq, the masked card and a passkey button. The passkey signs
//!    `shonin_3ds::acs::linking` — merchant, amount, currency, the transaction, a fresh nonce and
//!    the deadline — so what it approves is what the page shows (PSD2 RTS Art. 5(1)).
//! 2. `POST /3ds/acs/challenge/answer` (JSON, from `/static/acs.js`): the assertion (or, for a
//!    cardholder without a passkey, the one-time code sent through the operator's webhook, and
//!    its resend), a cancel, or a request for the result. The iframe has no cookie of ours (third-party), so the page holds
//!    a random answer token whose SHA-256 the transaction keeps.
//! 3. When the challenge ends, the RReq goes to the DS (`results.rs`) and the answer carries the
//!    final CRes, which the page posts to the requestor's `notificationURL` with the
//!    `threeDSSessionData` it was given.
//!
//! A CReq that identifies a waiting transaction but breaks a rule ends it U with
//! `challengeCancel` 06 (RReq sent) and posts the Erro to `notificationURL`; one that identifies
//! nothing gets an error page. Every refusal is audit-logged.

use super::AcsService;
use super::areq::audit_refusal;
use crate::error::unavailable_page;
use crate::i18n::Lang;
use crate::oauth::commit::commit_outcome;
use crate::pages::{self, AcsChallengePage, AcsPostPage, Frame};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use aws_lc_rs::digest::{SHA256, digest};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shonin_3ds::acs::linking::{PurchaseChallenge, shown};
use shonin_3ds::acs::store::{AcsStore, AcsTransaction};
use shonin_3ds::acs::{
    Challenge, ChallengeMethod, ChallengeResult, ChallengeState, Page, final_cres,
};
use shonin_3ds::acs::{code, creq};
use shonin_3ds::{ErrorCode, ErrorComponent, Identified, Refused, Rejection, TransStatus};
use shonin_audit::{Actor, ActorKind, AuditRecord};
use shonin_oauth::claims::random_token;
use shonin_oauth::form::FormParams;
use shonin_passkeys::{AssertionResponse, Expected, Framing, PasskeyStore};
use shonin_types::unit::{Outcome, UnitOfWork};

/// Audit actions: the CReq that started a challenge, and each answer.
pub const START_ACTION: &str = "3ds.challenge.start";
pub const ANSWER_ACTION: &str = "3ds.challenge.answer";
pub const RESEND_ACTION: &str = "3ds.challenge.resend";
/// Where the page's script posts.
pub const ANSWER_PATH: &str = "/3ds/acs/challenge/answer";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_sha256(token: &str) -> String {
    hex(digest(&SHA256, token.as_bytes()).as_ref())
}

fn random_code() -> Option<String> {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(code::from_random(bytes))
}

/// Sends `code` for `txn` through the operator's webhook (in the background).
async fn send_code(state: &AppState, meta: &RequestMeta, txn: &AcsTransaction, code: String) {
    let card = match state.store.enrolled_card(&txn.card_fingerprint).await {
        Ok(c) => c.map(|c| c.masked).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let shown = txn.data.purchase.as_ref().map(shown);
    let expires_at = txn
        .data
        .challenge
        .as_ref()
        .and_then(|c| {
            c.due_at
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    crate::alerts::challenge_code(
        state,
        meta,
        crate::alerts::ChallengeCodeAlert {
            event: String::new(),
            issuer: String::new(),
            user_id: txn.data.user_id.clone().unwrap_or_default(),
            acs_trans_id: txn.acs_trans_id.clone(),
            code,
            merchant: shown
                .as_ref()
                .map(|s| s.merchant.clone())
                .unwrap_or_default(),
            amount: shown.map(|s| s.amount).unwrap_or_default(),
            card,
            expires_at,
            time: String::new(),
        },
    );
}

fn cardholder(txn: &AcsTransaction) -> Actor {
    Actor {
        kind: ActorKind::User,
        id: txn.data.user_id.clone().unwrap_or_else(|| "-".into()),
    }
}

/// The origin of `url` (scheme, host, port), for the page's CSP `form-action`.
pub(crate) fn origin(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// `POST /3ds/acs/challenge`: the CReq form.
pub async fn start(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    body: &[u8],
) -> Response {
    let lang = meta.lang;
    let form = FormParams::parse(body).ok();
    let field = |name| form.as_ref().and_then(|f| f.get(name));
    let creq = match creq::read(field("creq").unwrap_or_default(), acs.versions) {
        Ok(c) => c,
        Err(refused) => return refused_creq(state, acs, meta, *refused).await,
    };
    let identified = Identified {
        message_type: Some(shonin_3ds::MessageType::CReq),
        message_version: Some(creq.message_version),
        three_ds_server_trans_id: Some(creq.three_ds_server_trans_id.clone()),
        acs_trans_id: Some(creq.acs_trans_id.clone()),
        ..Identified::default()
    };
    let session_data = match creq::session_data(field("threeDSSessionData")) {
        Ok(s) => s,
        Err(rejection) => {
            let refused = Refused {
                rejection,
                identified,
            };
            return refused_creq(state, acs, meta, refused).await;
        }
    };
    let now = state.clock.now();
    let txn = match state.store.acs_transaction(&creq.acs_trans_id, now).await {
        Ok(t) => t,
        Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
    };
    // The CReq must name the transaction as its AReq did (EMV 3DS: 301 for an unknown one,
    // 203 for a messageVersion other than the AReq's).
    let txn = txn.filter(|t| t.data.ids.three_ds_server_trans_id == creq.three_ds_server_trans_id);
    let named = match txn {
        None => Err(Rejection::element(
            ErrorCode::TransactionIdNotRecognised,
            "acsTransID",
            "no transaction of this 3DS Server has this acsTransID",
        )),
        Some(t) if t.data.ids.message_version != creq.message_version => Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "messageVersion",
            "the CReq's messageVersion differs from the AReq's",
        )),
        Some(t) => Ok(t),
    };
    let txn = match named {
        Ok(t) => t,
        Err(rejection) => {
            let refused = Refused {
                rejection,
                identified,
            };
            return refused_creq(state, acs, meta, refused).await;
        }
    };
    let Some(challenge) = txn.data.challenge.clone() else {
        let rejection = Rejection::new(
            ErrorCode::TransactionDataNotValid,
            "this transaction was answered without a challenge",
        );
        return error_page(state, acs, meta, &txn, rejection).await;
    };
    let (Ok(nonce), Ok(token)) = (random_token(32), random_token(32)) else {
        return unavailable_page(lang, meta.request_id.as_deref());
    };
    // A cardholder without a passkey gets a one-time code, when the operator's webhook can
    // carry it to the issuer's channel; without one, only Cancel is offered.
    let code = match (challenge.method, &txn.data.user_id, &state.alerts) {
        (ChallengeMethod::OneTimeCode, Some(_), Some(_)) => match random_code() {
            Some(c) => Some(c),
            None => return unavailable_page(lang, meta.request_id.as_deref()),
        },
        _ => None,
    };
    let code_mac = match &code {
        Some(c) => match code::mac(acs.code_key.as_ref(), &txn.acs_trans_id, c).await {
            Ok(m) => Some(m),
            Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
        },
        None => None,
    };
    let page = Page {
        nonce,
        token_sha256: token_sha256(&token),
        session_data,
        codes_sent: u8::from(code.is_some()),
        code_mac,
    };
    let started = match challenge.creq(page, now) {
        Ok(s) => s,
        Err(rejection) => return error_page(state, acs, meta, &txn, rejection).await,
    };
    let mut unit = UnitOfWork::new();
    match txn.advance(started.clone()) {
        Ok(update) => {
            unit.update(update);
        }
        Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
    }
    let entry = AuditRecord {
        reason: Some(format!(
            "method={:?} window={}",
            started.method,
            creq.challenge_window_size.as_deref().unwrap_or("-")
        )),
        ..crate::audit_events::success_record(
            state,
            meta,
            START_ACTION,
            cardholder(&txn),
            &txn.acs_trans_id,
        )
    };
    match commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => {}
        // Another CReq for it won the race: this one is a CReq for a processed challenge.
        Ok(Outcome::Conflict { .. } | Outcome::Replayed { .. }) => {
            let rejection = Rejection::new(
                ErrorCode::TransactionDataNotValid,
                "the challenge of this transaction was already processed",
            );
            return error_page(state, acs, meta, &txn, rejection).await;
        }
        Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
    }
    let txn = txn.moved(started);
    if let Some(code) = code {
        send_code(state, meta, &txn, code).await;
    }
    challenge_page(state, meta, &txn, &token).await
}

/// The challenge page of a started transaction.
async fn challenge_page(
    state: &AppState,
    meta: &RequestMeta,
    txn: &AcsTransaction,
    token: &str,
) -> Response {
    let lang = meta.lang;
    let t = lang.texts();
    let Some(challenge) = txn.data.challenge.as_ref() else {
        return unavailable_page(lang, meta.request_id.as_deref());
    };
    let card = match state.store.enrolled_card(&txn.card_fingerprint).await {
        Ok(card) => card.map(|c| c.masked).unwrap_or_default(),
        Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
    };
    let passkeys = match (&txn.data.user_id, challenge.method) {
        (Some(user), ChallengeMethod::Passkey) => match state.store.list_passkeys(user).await {
            Ok(p) => p,
            Err(_) => return unavailable_page(lang, meta.request_id.as_deref()),
        },
        _ => Vec::new(),
    };
    let (merchant, amount) = match &txn.data.purchase {
        Some(p) => {
            let s = shown(p);
            (s.merchant, s.amount)
        }
        None => (String::new(), t.acs_no_payment.to_owned()),
    };
    let options = match (&passkeys[..], purchase_challenge(txn, challenge)) {
        ([], _) | (_, None) => String::new(),
        (passkeys, Some(data)) => {
            let rp = state.passkeys.ceremonies.config();
            let remaining = (challenge.due_at - state.clock.now())
                .whole_seconds()
                .max(1);
            shonin_passkeys::request_options(
                &data,
                &rp.rp_id,
                passkeys,
                std::time::Duration::from_secs(u64::try_from(remaining).unwrap_or(1)),
            )
            .to_string()
        }
    };
    let notification_url = txn.data.notification_url.clone().unwrap_or_default();
    let code = challenge
        .page
        .as_ref()
        .is_some_and(|p| p.code_mac.is_some());
    let page = AcsChallengePage {
        f: Frame::new(lang, ""),
        merchant,
        amount,
        card,
        acs_trans_id: &txn.acs_trans_id,
        token,
        answer_url: ANSWER_PATH,
        options,
        due_at_ms: challenge.due_at.unix_timestamp().saturating_mul(1000),
        notification_url: &notification_url,
        session_data: challenge
            .page
            .as_ref()
            .and_then(|p| p.session_data.as_deref()),
        code,
        failed: if code {
            t.acs_code_failed
        } else {
            t.acs_failed
        }
        .to_owned(),
    };
    pages::render_framed(StatusCode::OK, &page, origin(&notification_url).as_deref())
}

/// The WebAuthn challenge of `txn`'s started challenge (its purchase, or an empty one for a
/// payment-less verification).
fn purchase_challenge(txn: &AcsTransaction, challenge: &Challenge) -> Option<[u8; 32]> {
    let page = challenge.page.as_ref()?;
    let none = shonin_3ds::acs::Purchase {
        merchant_name: String::new(),
        amount: String::new(),
        currency: String::new(),
        exponent: String::new(),
    };
    let data = PurchaseChallenge {
        acs_trans_id: &txn.acs_trans_id,
        purchase: txn.data.purchase.as_ref().unwrap_or(&none),
        nonce: &page.nonce,
        expires_at: challenge.due_at.unix_timestamp(),
    };
    Some(data.challenge())
}

/// A CReq refused before any transaction moved: if it names a waiting transaction, that one ends
/// U with `challengeCancel` 06 and the Erro goes to its `notificationURL`; otherwise an error
/// page. Audit-logged either way.
async fn refused_creq(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    refused: Refused,
) -> Response {
    let erro = refused.erro(ErrorComponent::Acs, acs.versions);
    metrics::counter!("shonin_3ds_errors_total", "error_code" => erro.error_code.clone())
        .increment(1);
    let reason = format!("CReq Erro {}: {}", erro.error_code, erro.error_detail);
    let anyone = Actor {
        kind: ActorKind::User,
        id: "-".into(),
    };
    audit_refusal(state, meta, anyone, "/3ds/acs/challenge", &reason).await;
    let known = match refused.identified.acs_trans_id.as_deref() {
        Some(id) if refused.rejection.code != ErrorCode::TransactionIdNotRecognised => state
            .store
            .acs_transaction(id, state.clock.now())
            .await
            .ok()
            .flatten(),
        _ => None,
    };
    let waiting = known.filter(|t| {
        t.data
            .challenge
            .as_ref()
            .is_some_and(|c| c.state != ChallengeState::Completed)
    });
    if let Some(txn) = waiting {
        let ended = end_invalid(state, acs, &txn).await;
        if let (true, Some(url)) = (ended, txn.data.notification_url.as_deref()) {
            let page = AcsPostPage {
                f: Frame::new(meta.lang, ""),
                action: url,
                name: "erro",
                value: creq::encode(&erro),
                session_data: None,
            };
            return pages::render_framed(StatusCode::OK, &page, origin(url).as_deref());
        }
    }
    invalid_page(meta.lang)
}

/// Ends a waiting challenge U, `challengeCancel` 06 (an invalid CReq), and sends its RReq.
async fn end_invalid(state: &AppState, acs: &AcsService, txn: &AcsTransaction) -> bool {
    let Some(challenge) = txn.data.challenge.as_ref() else {
        return false;
    };
    let ended = Challenge {
        state: ChallengeState::Completed,
        result: Some(ChallengeResult {
            status: TransStatus::U,
            reason: None,
            challenge_cancel: Some("06".into()),
        }),
        ..challenge.clone()
    };
    let Ok(update) = txn.advance(ended.clone()) else {
        return false;
    };
    let mut unit = UnitOfWork::new();
    unit.update(update);
    let entry = AuditRecord {
        time: state.clock.now(),
        actor: Actor::system(),
        action: ANSWER_ACTION.to_owned(),
        target: txn.acs_trans_id.clone(),
        outcome: shonin_audit::Outcome::Failure,
        reason: Some("invalid CReq: transStatus=U challengeCancel=06".into()),
        source_ip: None,
        request_id: None,
    };
    match commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => {
            super::results::deliver(state, acs, &txn.moved(ended), state.clock.now()).await;
            true
        }
        _ => false,
    }
}

fn invalid_page(lang: Lang) -> Response {
    let page = pages::ErrorPage {
        f: Frame::new(lang, ""),
        message: lang.texts().acs_invalid,
        request_id: "",
    };
    pages::render_framed(StatusCode::BAD_REQUEST, &page, None)
}

/// A CReq for a transaction that cannot start (completed, timed out): the error page, audited.
async fn error_page(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    txn: &AcsTransaction,
    rejection: Rejection,
) -> Response {
    let erro = Refused {
        rejection,
        identified: Identified::default(),
    }
    .erro(ErrorComponent::Acs, acs.versions);
    metrics::counter!("shonin_3ds_errors_total", "error_code" => erro.error_code.clone())
        .increment(1);
    let reason = format!("CReq Erro {}: {}", erro.error_code, erro.error_detail);
    audit_refusal(state, meta, cardholder(txn), &txn.acs_trans_id, &reason).await;
    invalid_page(meta.lang)
}

/// The page script's request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    pub token: String,
    pub action: AnswerAction,
    #[serde(default)]
    pub assertion: Option<Value>,
    /// The one-time code the cardholder typed (for `code`).
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnswerAction {
    /// The passkey's assertion over the purchase.
    Confirm,
    /// The one-time code.
    Code,
    /// A new one-time code (it replaces the last; at most `code::MAX_CODES` in all).
    Resend,
    /// The cardholder's Cancel.
    Cancel,
    /// The result of a challenge that ended (the page asks when its timer runs out).
    Result,
}

fn problem(status: StatusCode, error: &str, detail: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "error": error,
        })),
    )
        .into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(crate::error::PROBLEM_JSON),
    );
    resp
}

/// `POST /3ds/acs/challenge/answer`.
pub async fn answer(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    json: bool,
    body: &[u8],
) -> Response {
    let anyone = || Actor {
        kind: ActorKind::User,
        id: "-".into(),
    };
    let parsed = serde_json::from_slice::<Answer>(body).ok().filter(|_| json);
    let Some(answer) = parsed else {
        let (status, reason) = if json {
            (
                StatusCode::BAD_REQUEST,
                "challenge answer refused: not {acsTransID, token, action}",
            )
        } else {
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "challenge answer refused: not application/json",
            )
        };
        audit_refusal(state, meta, anyone(), ANSWER_PATH, reason).await;
        return problem(
            status,
            "invalid_request",
            "the body must be application/json {acsTransID, token, action[, assertion][, code]}",
        );
    };
    let now = state.clock.now();
    let txn = match state.store.acs_transaction(&answer.acs_trans_id, now).await {
        Ok(t) => t,
        Err(_) => return unavailable(),
    };
    let token_ok = |c: &Challenge| {
        c.page.as_ref().is_some_and(|p| {
            shonin_types::constant_time_eq(
                p.token_sha256.as_bytes(),
                token_sha256(&answer.token).as_bytes(),
            )
        })
    };
    let Some((txn, challenge)) = txn.and_then(|t| {
        let c = t.data.challenge.clone().filter(token_ok)?;
        Some((t, c))
    }) else {
        audit_refusal(
            state,
            meta,
            anyone(),
            ANSWER_PATH,
            "challenge answer refused: unknown transaction or wrong token",
        )
        .await;
        return problem(
            StatusCode::NOT_FOUND,
            "unknown_challenge",
            "no challenge with this acsTransID and token",
        );
    };
    if challenge.state == ChallengeState::Completed {
        return completed(&txn, &challenge);
    }
    let (next, verified) = match answer.action {
        AnswerAction::Result => return pending(&challenge),
        AnswerAction::Cancel => (challenge.cancel(now), None),
        AnswerAction::Resend => return resend(state, acs, meta, &txn, &challenge).await,
        AnswerAction::Code => {
            let stored = challenge.page.as_ref().and_then(|p| p.code_mac.as_deref());
            let typed = answer.code.as_deref().unwrap_or_default();
            let verified = match stored {
                Some(mac)
                    if code::matches(acs.code_key.as_ref(), &txn.acs_trans_id, typed, mac)
                        .await =>
                {
                    Ok(None)
                }
                Some(_) => Err("wrong code".to_owned()),
                None => Err("this challenge has no code".to_owned()),
            };
            (challenge.answer(verified.is_ok(), now), Some(verified))
        }
        AnswerAction::Confirm => {
            let verified = match verify(state, &txn, &challenge, answer.assertion.as_ref()).await {
                Ok(v) => v.map(Some),
                Err(Unavailable) => return unavailable(),
            };
            (challenge.answer(verified.is_ok(), now), Some(verified))
        }
    };
    let next = match next {
        Ok(n) => n,
        // Too late: the timer has fired or is about to; the page asks for the result.
        Err(rejection) if rejection.code == ErrorCode::TransactionTimedOut => {
            return problem(StatusCode::CONFLICT, "timed_out", "the challenge timed out");
        }
        Err(_) => return completed(&txn, &challenge),
    };
    let mut unit = UnitOfWork::new();
    match txn.advance(next.clone()) {
        Ok(u) => {
            unit.update(u);
        }
        Err(_) => return unavailable(),
    }
    let reason = match (&verified, &next.result) {
        (Some(Err(why)), _) => format!("refused: {why}; attempts left {}", next.attempts_left),
        (_, Some(r)) => format!(
            "transStatus={} challengeCancel={}{}",
            shonin_3ds::acs::store::status_name(r.status),
            r.challenge_cancel.as_deref().unwrap_or("-"),
            match &verified {
                Some(Ok(Some(Verified {
                    top_origin: Some(top),
                    ..
                }))) => format!(" framed by {top}"),
                Some(Ok(None)) => " by one-time code".to_owned(),
                _ => String::new(),
            }
        ),
        (_, None) => "answered".into(),
    };
    if next
        .result
        .as_ref()
        .is_some_and(|r| r.status == TransStatus::Y)
        && let Some(row) = super::remember_browser(acs, &txn, now)
    {
        unit.insert(&row);
    }
    if let Some(Ok(Some(v))) = &verified {
        // One assertion counts once: the passkey's counter moves by compare-and-set.
        unit.update(shonin_passkeys::record_use(
            &v.credential_id,
            v.sign_count,
            v.backup_state,
            now,
        ));
    }
    let refused = matches!(verified, Some(Err(_)));
    let entry = AuditRecord {
        outcome: if refused {
            shonin_audit::Outcome::Failure
        } else {
            shonin_audit::Outcome::Success
        },
        reason: Some(reason),
        ..crate::audit_events::success_record(
            state,
            meta,
            ANSWER_ACTION,
            cardholder(&txn),
            &txn.acs_trans_id,
        )
    };
    match commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => {}
        Ok(Outcome::Conflict { .. } | Outcome::Replayed { .. }) => {
            return problem(
                StatusCode::CONFLICT,
                "conflict",
                "the challenge moved on; ask for its result",
            );
        }
        Err(_) => return unavailable(),
    }
    metrics::counter!("shonin_3ds_challenge_answers_total", "outcome" => if refused { "refused" } else { "ok" }).increment(1);
    match &next.result {
        Some(_) => {
            let moved = txn.moved(next.clone());
            super::results::deliver(state, acs, &moved, now).await;
            completed(&moved, &next)
        }
        None => pending(&next),
    }
}

fn unavailable() -> Response {
    let mut resp = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "try again shortly",
    );
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    resp
}

/// A challenge still running: the attempts left and when it times out.
fn pending(challenge: &Challenge) -> Response {
    Json(json!({
        "done": false,
        "attemptsLeft": challenge.attempts_left,
        "dueAt": challenge.due_at.unix_timestamp(),
    }))
    .into_response()
}

/// A completed challenge: the final CRes for the page to post to `notificationURL`.
fn completed(txn: &AcsTransaction, challenge: &Challenge) -> Response {
    let Some(result) = challenge.result.as_ref() else {
        return unavailable();
    };
    // The final CRes carries only Y or N; a U (invalid CReq) went as an Erro already.
    let status = match result.status {
        TransStatus::Y => TransStatus::Y,
        _ => TransStatus::N,
    };
    let result = ChallengeResult {
        status,
        ..result.clone()
    };
    let cres = final_cres(&txn.data.ids, &result);
    Json(json!({
        "done": true,
        "transStatus": shonin_3ds::acs::store::status_name(status),
        "cres": creq::encode(&cres),
    }))
    .into_response()
}

/// A new one-time code for a running code challenge: it replaces the last one, by
/// compare-and-set, audited as `3ds.challenge.resend`; at most `code::MAX_CODES` per challenge.
async fn resend(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    txn: &AcsTransaction,
    challenge: &Challenge,
) -> Response {
    let Some(page) = challenge.page.as_ref().filter(|p| p.code_mac.is_some()) else {
        return problem(
            StatusCode::CONFLICT,
            "no_code",
            "this challenge has no code",
        );
    };
    if page.codes_sent >= code::MAX_CODES {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_codes",
            "no more codes are sent for this purchase",
        );
    }
    let Some(new_code) = random_code() else {
        return unavailable();
    };
    let Ok(mac) = code::mac(acs.code_key.as_ref(), &txn.acs_trans_id, &new_code).await else {
        return unavailable();
    };
    let next = Challenge {
        page: Some(Page {
            code_mac: Some(mac),
            codes_sent: page.codes_sent.saturating_add(1),
            ..page.clone()
        }),
        ..challenge.clone()
    };
    let mut unit = UnitOfWork::new();
    match txn.advance(next.clone()) {
        Ok(u) => {
            unit.update(u);
        }
        Err(_) => return unavailable(),
    }
    let entry = AuditRecord {
        reason: Some(format!(
            "code {} of {}",
            next.page.as_ref().map_or(0, |p| p.codes_sent),
            code::MAX_CODES
        )),
        ..crate::audit_events::success_record(
            state,
            meta,
            RESEND_ACTION,
            cardholder(txn),
            &txn.acs_trans_id,
        )
    };
    match commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => {}
        Ok(_) => {
            return problem(
                StatusCode::CONFLICT,
                "conflict",
                "the challenge moved on; ask for its result",
            );
        }
        Err(_) => return unavailable(),
    }
    send_code(state, meta, &txn.moved(next.clone()), new_code).await;
    pending(&next)
}

/// The store could not be read.
struct Unavailable;

struct Verified {
    credential_id: String,
    sign_count: u32,
    backup_state: bool,
    /// The checkout page that framed the challenge (`topOrigin`), when it was cross-origin.
    top_origin: Option<String>,
}

/// Checks `assertion` against the transaction's stored purchase: it must come from a passkey of
/// the card's holder and sign exactly the challenge recomputed from the stored record (the
/// page's copy of anything is never consulted).
async fn verify(
    state: &AppState,
    txn: &AcsTransaction,
    challenge: &Challenge,
    assertion: Option<&Value>,
) -> Result<Result<Verified, String>, Unavailable> {
    let refused = |why: String| Ok(Err(why));
    if challenge.method != ChallengeMethod::Passkey {
        return refused("this challenge is not a passkey challenge".into());
    }
    let Some(expected_challenge) = purchase_challenge(txn, challenge) else {
        return refused("no challenge was issued".into());
    };
    let Some(assertion) = assertion else {
        return refused("no assertion".into());
    };
    let response = match AssertionResponse::from_json(assertion) {
        Ok(r) => r,
        Err(e) => return refused(e.reason()),
    };
    let passkey = state
        .store
        .get_passkey(&response.credential_id_b64())
        .await
        .map_err(|_| Unavailable)?;
    let Some(passkey) = passkey else {
        return refused("unknown_credential".into());
    };
    if txn.data.user_id.as_deref() != Some(passkey.user_id.as_str()) {
        return refused("credential_of_another_user".into());
    }
    let config = state.passkeys.ceremonies.config();
    let origin = config.origin.origin().ascii_serialization();
    let expected = Expected {
        challenge: &expected_challenge,
        origin: &origin,
        rp_id: &config.rp_id,
        client_data_type: "webauthn.get",
        // The page runs in the requestor's iframe, under any merchant's https checkout.
        framing: Framing::AnyHttpsTop,
    };
    match shonin_passkeys::verify_passkey_assertion(&response, &passkey, &expected) {
        Ok(v) => Ok(Ok(Verified {
            credential_id: passkey.credential_id.clone(),
            sign_count: v.sign_count,
            backup_state: v.backup_state,
            top_origin: v
                .client_data
                .get("topOrigin")
                .and_then(Value::as_str)
                .map(|o| o.chars().take(200).collect()),
        })),
        Err(e) => refused(e.reason()),
    }
}
