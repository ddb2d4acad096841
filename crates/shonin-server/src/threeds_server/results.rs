//! The two endpoints the other components reach the 3DS Server on:
//! - `POST /3ds/server/rreq`: the DS relays the ACS's RReq when a challenge ends (mutual TLS; the
//!   DS's client certificate thumbprint must be configured, else Erro 303 with HTTP 403). The
//!   result is stored with its audit entry before the RRes is answered, so an RRes means the
//!   result is durable; anything refused is an Erro from component S.
//! - `POST /3ds/server/notification`: the cardholder's browser posts the final CRes (`cres`) or
//!   an Erro (`erro`) from the challenge iframe. The result is the RReq's; the final CRes is kept
//!   only as "the page's side was seen", and the page tells the checkout the challenge is over.

use super::ServerService;
use crate::audit_events::success_record;
use crate::pages::{self, Frame, ThreeDsNotificationPage};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::threeds::areq::{ds_actor, protocol};
use axum::http::StatusCode;
use axum::response::Response;
use shonin_3ds::server::{ServerState, ServerStore, ServerTransaction, read_cres, read_rreq, rres};
use shonin_3ds::{
    ErrorCode, ErrorComponent, Identified, Message, MessageType, RReq, Refused, Rejection,
};
use shonin_audit::{Actor, ActorKind, AuditRecord};
use shonin_types::unit::{Outcome, UnitOfWork};

pub const RESULTS_ACTION: &str = "3ds.server.results";
pub const NOTIFICATION_ACTION: &str = "3ds.server.notification";
pub const METHOD_NOTIFICATION_ACTION: &str = "3ds.server.method.notification";

/// Answers `refused` with the 3DS Server's Erro, and audit-logs it (sampled per address).
async fn erro(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    actor: Actor,
    refused: Refused,
    status: StatusCode,
) -> Response {
    let erro = refused.erro(ErrorComponent::ThreeDsServer, server.versions);
    metrics::counter!("shonin_3ds_server_errors_total", "error_code" => erro.error_code.clone())
        .increment(1);
    let reason = format!("Erro {}: {}", erro.error_code, erro.error_detail);
    crate::threeds::areq::audit_refusal(state, meta, actor, super::RREQ_PATH, &reason).await;
    protocol(status, &erro)
}

fn identified(rreq: &RReq) -> Identified {
    Identified {
        message_type: Some(MessageType::RReq),
        message_version: Some(rreq.message_version),
        three_ds_server_trans_id: Some(rreq.three_ds_server_trans_id.clone()),
        ds_trans_id: Some(rreq.ds_trans_id.clone()),
        acs_trans_id: Some(rreq.acs_trans_id.clone()),
        ..Identified::default()
    }
}

/// `POST /3ds/server/rreq`.
pub async fn rreq(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    json: bool,
    body: &[u8],
) -> Response {
    let thumbprint = meta
        .certificate
        .as_ref()
        .and_then(|c| c.thumbprint())
        .filter(|t| server.trusts(t));
    let Some(ds) = thumbprint else {
        let refused = Refused {
            rejection: Rejection::new(
                ErrorCode::AccessDenied,
                "the client certificate is not one of threeds.server.ds_certificate_thumbprints",
            ),
            identified: Identified::default(),
        };
        let anyone = Actor {
            kind: ActorKind::Client,
            id: "-".into(),
        };
        return erro(state, server, meta, anyone, refused, StatusCode::FORBIDDEN).await;
    };
    let actor = ds_actor(&ds);
    if !json {
        let refused = Refused {
            rejection: Rejection::new(
                ErrorCode::MessageReceivedInvalid,
                "the message must be sent as Content-Type: application/json",
            ),
            identified: Identified::default(),
        };
        return erro(
            state,
            server,
            meta,
            actor,
            refused,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
    }
    let rreq = match shonin_3ds::check(body, server.versions) {
        Ok(Message::RReq(r)) => r,
        Ok(other) => {
            let refused =
                *shonin_3ds::acs::creq::not_a(&other, "this endpoint reads RReq messages");
            return erro(state, server, meta, actor, refused, StatusCode::OK).await;
        }
        Err(refused) => return erro(state, server, meta, actor, *refused, StatusCode::OK).await,
    };
    let refuse = |rejection| Refused {
        rejection,
        identified: identified(&rreq),
    };
    // Two tries: a cancel that commits between the read and the move is read again (305).
    for _ in 0..2 {
        let now = state.clock.now();
        let txn = match state
            .store
            .server_transaction(&rreq.three_ds_server_trans_id, now)
            .await
        {
            Ok(Some(t)) => t,
            Ok(None) => {
                let r = refuse(Rejection::element(
                    ErrorCode::TransactionIdNotRecognised,
                    "threeDSServerTransID",
                    "no transaction of this 3DS Server has this ID",
                ));
                return erro(state, server, meta, actor, r, StatusCode::OK).await;
            }
            Err(e) => return unavailable(server, &rreq, &e.to_string()),
        };
        let result = match read_rreq(&txn, &rreq) {
            Ok(r) => r,
            Err(rejection) => {
                return erro(
                    state,
                    server,
                    meta,
                    actor,
                    refuse(rejection),
                    StatusCode::OK,
                )
                .await;
            }
        };
        let status = shonin_3ds::acs::store::status_name(result.trans_status);
        let reason = format!(
            "RReq transStatus={status} challengeCancel={}",
            result.challenge_cancel.as_deref().unwrap_or("-")
        );
        let data = shonin_3ds::server::ServerData {
            result: Some(result),
            ..txn.data.clone()
        };
        let update = match txn.advance(ServerState::Completed, data) {
            Ok(u) => u,
            Err(e) => return unavailable(server, &rreq, &e.to_string()),
        };
        let mut unit = UnitOfWork::new();
        unit.update(update);
        let record = AuditRecord {
            reason: Some(reason),
            ..success_record(
                state,
                meta,
                RESULTS_ACTION,
                actor.clone(),
                &txn.three_ds_server_trans_id,
            )
        };
        match crate::oauth::commit::commit_outcome(state, unit, Some(record)).await {
            Ok(Outcome::Committed { .. }) => {
                metrics::counter!("shonin_3ds_server_results_total", "trans_status" => status)
                    .increment(1);
                return protocol(StatusCode::OK, &rres(&rreq));
            }
            Ok(Outcome::Conflict { .. }) => continue,
            Ok(Outcome::Replayed { .. }) => {
                return unavailable(server, &rreq, "unexpected replay");
            }
            Err(e) => return unavailable(server, &rreq, &e.description),
        }
    }
    unavailable(server, &rreq, "the transaction kept changing")
}

/// Erro 403 (transient system failure) with HTTP 503: the DS may send the RReq again.
fn unavailable(server: &ServerService, rreq: &RReq, why: &str) -> Response {
    tracing::error!(error = %why, "3DS Server: an RReq could not be stored");
    let refused = Refused {
        rejection: Rejection::new(ErrorCode::TransientSystemFailure, "try again"),
        identified: identified(rreq),
    };
    protocol(
        StatusCode::SERVICE_UNAVAILABLE,
        &refused.erro(ErrorComponent::ThreeDsServer, server.versions),
    )
}

/// The notification form: `cres` or `erro` (base64url messages). The `threeDSSessionData` that
/// comes with them is the requestor's own value and is not read here.
#[derive(Debug, serde::Deserialize)]
pub struct NotificationForm {
    #[serde(default)]
    pub cres: Option<String>,
    #[serde(default)]
    pub erro: Option<String>,
}

/// `POST /3ds/server/notification`.
pub async fn notification(
    state: &AppState,
    server: &ServerService,
    meta: &RequestMeta,
    form: NotificationForm,
) -> Response {
    let anyone = Actor {
        kind: ActorKind::Client,
        id: "-".into(),
    };
    let read = match (&form.cres, &form.erro) {
        (Some(cres), _) => shonin_3ds::acs::creq::read_field(cres, "cres", server.versions),
        (None, Some(erro)) => shonin_3ds::acs::creq::read_field(erro, "erro", server.versions),
        (None, None) => Err(Box::new(Refused {
            rejection: Rejection::element(
                ErrorCode::RequiredElementMissing,
                "cres",
                "the form carries neither cres nor erro",
            ),
            identified: Identified::default(),
        })),
    };
    let (id, cres) = match read {
        Ok(Message::CRes(c)) => (c.three_ds_server_trans_id.clone(), Some(c)),
        Ok(Message::Erro(e)) => match e.three_ds_server_trans_id {
            Some(id) => (id, None),
            None => {
                return refused_page(state, meta, anyone, "the Erro names no transaction").await;
            }
        },
        Ok(other) => {
            let why = format!("the form holds {}", other.message_type().as_str());
            return refused_page(state, meta, anyone, &why).await;
        }
        Err(r) => return refused_page(state, meta, anyone, &r.rejection.error_detail()).await,
    };
    let now = state.clock.now();
    let txn = match state.store.server_transaction(&id, now).await {
        Ok(Some(t)) => t,
        Ok(None) => return refused_page(state, meta, anyone, "no such transaction").await,
        Err(e) => {
            tracing::error!(error = %e, "3DS Server: a notification could not be read");
            return failed_page(meta.lang, StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let mut reason = "Erro from the ACS".to_owned();
    if let Some(cres) = cres {
        match read_cres(&txn, &cres) {
            Ok(status) => {
                reason = format!(
                    "final CRes transStatus={}",
                    shonin_3ds::acs::store::status_name(status)
                );
                seen(state, &txn, status).await;
            }
            Err(r) => return refused_page(state, meta, anyone, &r.error_detail()).await,
        }
    }
    let record = AuditRecord {
        reason: Some(reason),
        ..success_record(state, meta, NOTIFICATION_ACTION, anyone, &id)
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "3DS Server: a notification could not be audit-logged");
    }
    let page = ThreeDsNotificationPage {
        f: Frame::new(meta.lang, ""),
        transaction: &txn.three_ds_server_trans_id,
        kind: "shonin-3ds-complete",
    };
    pages::render_framed(StatusCode::OK, &page, None)
}

/// Keeps the final CRes's status with the transaction (best effort: a lost race changes
/// nothing the requestor relies on; the result is the RReq's).
async fn seen(state: &AppState, txn: &ServerTransaction, status: shonin_3ds::TransStatus) {
    let data = shonin_3ds::server::ServerData {
        final_cres: Some(status),
        ..txn.data.clone()
    };
    let Ok(update) = txn.advance(txn.state, data) else {
        return;
    };
    let mut unit = UnitOfWork::new();
    unit.update(update);
    if let Err(e) = crate::oauth::commit::commit_outcome(state, unit, None).await {
        tracing::warn!(error = %e.description, "3DS Server: the final CRes could not be kept");
    }
}

async fn refused_page(state: &AppState, meta: &RequestMeta, actor: Actor, why: &str) -> Response {
    crate::threeds::areq::audit_refusal(state, meta, actor, super::NOTIFICATION_PATH, why).await;
    failed_page(meta.lang, StatusCode::BAD_REQUEST)
}

/// The framed error page (the challenge iframe shows it).
fn failed_page(lang: crate::i18n::Lang, status: StatusCode) -> Response {
    let page = pages::ErrorPage {
        f: Frame::new(lang, ""),
        message: lang.texts().acs_invalid,
        request_id: "",
    };
    pages::render_framed(status, &page, None)
}

/// `POST /3ds/server/method-notification`: the ACS's 3DS Method page posts `threeDSMethodData`
/// back. A transaction in state `method` is marked completed (by compare-and-set; a second
/// notification changes nothing); the page tells the checkout (`shonin-3ds-method-complete`).
pub async fn method_notification(
    state: &AppState,
    meta: &RequestMeta,
    data: Option<&str>,
) -> Response {
    let anyone = Actor {
        kind: ActorKind::Client,
        id: "-".into(),
    };
    let Some((id, _)) = data.and_then(shonin_3ds::server::areq::read_method_data) else {
        return refused_page(state, meta, anyone, "threeDSMethodData cannot be read").await;
    };
    let now = state.clock.now();
    let txn = match state.store.server_transaction(&id, now).await {
        Ok(Some(t)) if t.state == ServerState::Method => t,
        Ok(_) => return refused_page(state, meta, anyone, "no 3DS Method awaits this").await,
        Err(e) => {
            tracing::error!(error = %e, "3DS Server: a method notification could not be read");
            return failed_page(meta.lang, StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if let Some(method) = txn.data.method.as_ref().filter(|m| !m.completed) {
        let data = shonin_3ds::server::ServerData {
            method: Some(shonin_3ds::server::MethodData {
                completed: true,
                ..method.clone()
            }),
            ..txn.data.clone()
        };
        if let Ok(update) = txn.advance(txn.state, data) {
            let mut unit = UnitOfWork::new();
            unit.update(update);
            let record = AuditRecord {
                reason: Some("3DS Method completed".into()),
                ..success_record(state, meta, METHOD_NOTIFICATION_ACTION, anyone, &id)
            };
            if let Err(e) = crate::oauth::commit::commit_outcome(state, unit, Some(record)).await {
                tracing::warn!(error = %e.description, "3DS Server: a method notification could not be kept");
                return failed_page(meta.lang, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }
    let page = ThreeDsNotificationPage {
        f: Frame::new(meta.lang, ""),
        transaction: &id,
        kind: "shonin-3ds-method-complete",
    };
    pages::render_framed(StatusCode::OK, &page, None)
}
