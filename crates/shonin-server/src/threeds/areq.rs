//! `POST /3ds/acs/areq`: the DS → ACS authentication request. Every answer is a protocol
//! message: the ARes, or an Erro naming the code, component A and the elements at fault.
//!
//! The order: the DS's client certificate (Erro 303, HTTP 403), the message (`shonin_3ds::check`:
//! 101/102/201/202/203/204), an AReq at all (101), the DS's IDs (201); then the decision from the
//! store's facts, and one commit of the transaction with its audit entry. Every refusal is
//! audit-logged (sampled per address and kind, as other repeated rejections are).

use super::AcsService;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shonin_3ds::acs::store::{AcsStore, AcsTransaction, Purchase, TransactionData};
use shonin_3ds::acs::{self, Challenge, Decision, Enrolment, Facts, TransactionIds, find_range};
use shonin_3ds::{
    AReq, ErrorCode, ErrorComponent, Identified, Message, Refused, Rejection, TransStatus,
};
use shonin_audit::{Actor, ActorKind, AuditRecord};
use shonin_passkeys::PasskeyStore;
use shonin_types::unit::{OneTimeClaim, Outcome, UnitOfWork};
use time::Duration;

/// The audit action of an answered AReq, and of a refused one.
pub const ACTION: &str = "3ds.authenticate";
pub const REJECT_ACTION: &str = "3ds.reject";
/// The replay namespace of the DS's transaction IDs.
const DS_TRANS_ID_NAMESPACE: &str = "3ds-ds-trans-id";

/// Answers one AReq body; `json` is whether it came as `application/json`.
pub async fn answer(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    json: bool,
    body: &[u8],
) -> Response {
    let ds = match ds_certificate(acs, meta) {
        Some(ds) => ds,
        None => {
            let rejection = Rejection::new(
                ErrorCode::AccessDenied,
                "the client certificate is not one of threeds.acs.ds_certificate_thumbprints",
            );
            let refused = Refused {
                rejection,
                identified: Identified::default(),
            };
            return refuse(state, acs, meta, "-", refused, StatusCode::FORBIDDEN).await;
        }
    };
    if !json {
        let rejection = Rejection::new(
            ErrorCode::MessageReceivedInvalid,
            "the message must be sent as Content-Type: application/json",
        );
        let refused = Refused {
            rejection,
            identified: Identified::default(),
        };
        return refuse(
            state,
            acs,
            meta,
            &ds,
            refused,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
    }
    let areq = match shonin_3ds::check(body, acs.versions) {
        Ok(Message::AReq(areq)) => areq,
        Ok(other) => {
            let identified = Identified {
                message_type: Some(other.message_type()),
                message_version: Some(other.message_version()),
                ..Identified::default()
            };
            return refuse(
                state,
                acs,
                meta,
                &ds,
                not_an_areq(identified),
                StatusCode::OK,
            )
            .await;
        }
        // Another message type is refused as such, whatever else is wrong with it.
        Err(refused)
            if refused
                .identified
                .message_type
                .is_some_and(|t| t != shonin_3ds::MessageType::AReq) =>
        {
            let refused = not_an_areq(refused.identified);
            return refuse(state, acs, meta, &ds, refused, StatusCode::OK).await;
        }
        Err(refused) => return refuse(state, acs, meta, &ds, *refused, StatusCode::OK).await,
    };
    match authenticate(state, acs, meta, &ds, &areq).await {
        Ok(ares) => {
            metrics::counter!(
                "shonin_3ds_authentications_total",
                "trans_status" => acs::store::status_name(ares.trans_status.unwrap_or(TransStatus::U))
            )
            .increment(1);
            protocol(StatusCode::OK, &ares)
        }
        Err(Failure::Refused(rejection)) => {
            let identified = identified(&areq);
            refuse(
                state,
                acs,
                meta,
                &ds,
                Refused {
                    rejection,
                    identified,
                },
                StatusCode::OK,
            )
            .await
        }
        Err(Failure::Storage(e)) => {
            // A 503 also marks the node not ready (`layers/observe.rs`).
            tracing::error!(error = %e, "3DS: the authentication could not be stored");
            let rejection = Rejection::new(ErrorCode::TransientSystemFailure, "try again");
            let refused = Refused {
                rejection,
                identified: identified(&areq),
            };
            protocol(
                StatusCode::SERVICE_UNAVAILABLE,
                &refused.erro(ErrorComponent::Acs, acs.versions),
            )
        }
    }
}

fn not_an_areq(identified: Identified) -> Refused {
    let rejection = Rejection::element(
        ErrorCode::MessageReceivedInvalid,
        "messageType",
        "this endpoint reads AReq messages",
    );
    Refused {
        rejection,
        identified,
    }
}

pub(super) enum Failure {
    Refused(Rejection),
    Storage(String),
}

/// The DS's certificate thumbprint, if it is one the ACS trusts for some scheme (whether for
/// the card's scheme is checked once the card's range is known).
fn ds_certificate(acs: &AcsService, meta: &RequestMeta) -> Option<String> {
    let thumbprint = meta.certificate.as_ref()?.thumbprint()?;
    acs.links.any_trusts(&thumbprint).then_some(thumbprint)
}

fn identified(areq: &AReq) -> Identified {
    Identified {
        message_type: Some(shonin_3ds::MessageType::AReq),
        message_version: Some(areq.message_version),
        three_ds_server_trans_id: Some(areq.three_ds_server_trans_id.clone()),
        ds_trans_id: areq.ds_trans_id.clone(),
        ..Identified::default()
    }
}

async fn authenticate(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    ds: &str,
    areq: &AReq,
) -> Result<shonin_3ds::ARes, Failure> {
    let storage = |e: shonin_types::StorageError| Failure::Storage(e.to_string());
    let (ds_trans_id, _) = acs::ares::ds_ids(areq).map_err(Failure::Refused)?;
    let now = state.clock.now();
    let fingerprint = acs::fingerprint(acs.fingerprint_key.as_ref(), &areq.acct_number)
        .await
        .map_err(|e| Failure::Storage(e.to_string()))?;
    let range = find_range(&acs.ranges, &areq.acct_number);
    // A card of a scheme comes through that scheme's directory only (EMV 3DS §6.1).
    if let Some(r) = range
        && !acs.links.of(r.scheme).trusts(ds)
    {
        return Err(Failure::Refused(Rejection::new(
            ErrorCode::AccessDenied,
            "this card's scheme is not served through this Directory Server",
        )));
    }
    let scheme = range.map_or(shonin_3ds::acs::Scheme::Visa, |r| r.scheme);
    // 2.3.1: the follow-up of an S carries the SPC assertion instead of asking for a decision.
    if let Some(follow) = acs::spc::follow_up(areq).map_err(Failure::Refused)? {
        let card = super::spc::Card {
            fingerprint: &fingerprint,
            scheme,
        };
        return super::spc::answer(state, acs, meta, ds, areq, card, follow).await;
    }
    let card = match range {
        Some(_) => state
            .store
            .enrolled_card(&fingerprint)
            .await
            .map_err(storage)?,
        None => None,
    };
    let mut credential_ids = Vec::new();
    let enrolment = match (&range, &card) {
        (None, _) => Enrolment::NoCardRecord,
        (Some(_), None) => Enrolment::NotEnrolled,
        (Some(_), Some(card)) => {
            let passkeys = state
                .store
                .list_passkeys(&card.user_id)
                .await
                .map_err(storage)?;
            credential_ids = passkeys.into_iter().map(|p| p.credential_id).collect();
            Enrolment::Enrolled {
                passkey: !credential_ids.is_empty(),
            }
        }
    };
    let frictionless_today = if card.is_some() && acs.rules.frictionless_per_day.is_some() {
        state
            .store
            .frictionless_since(&fingerprint, now - Duration::days(1))
            .await
            .map_err(storage)?
    } else {
        0
    };
    // The browser, for an enrolled card: known when a challenge passed in it before.
    let browser = match &card {
        Some(_) => acs::browser::fingerprint(acs.fingerprint_key.as_ref(), &fingerprint, areq)
            .await
            .map_err(|e| Failure::Storage(e.to_string()))?,
        None => None,
    };
    let known_browser = match (&browser, acs.rules.challenge_new_browser) {
        (Some(b), true) => state
            .store
            .known_browser(&fingerprint, b, now)
            .await
            .map_err(storage)?,
        _ => false,
    };
    let facts = Facts {
        enrolment,
        frictionless_today: u32::try_from(frictionless_today).unwrap_or(u32::MAX),
        known_browser,
    };
    let decision = acs::decide(&acs.rules, areq, facts);
    let acs_trans_id = uuid::Uuid::new_v4().to_string();
    let mut status = decision.status();
    let outcome = acs::Outcome::of(
        &decision,
        acs.value_key.as_ref(),
        scheme,
        areq,
        ds_trans_id,
        acs_trans_id.clone(),
        &fingerprint,
    )
    .await
    .map_err(|e| Failure::Storage(e.to_string()))?;
    let mut ares =
        acs::ares::build(areq, &acs.profile, &decision, outcome).map_err(Failure::Refused)?;

    let mut challenge = match &decision {
        Decision::Challenge { method, .. } => Some(Challenge::new(*method, acs.max_attempts, now)),
        Decision::Frictionless { .. } => None,
    };
    let purchase = purchase(areq);
    // A passkey challenge the requestor can run as SPC (2.3.1) is answered S.
    let spc = match (&decision, &purchase) {
        (
            Decision::Challenge {
                method: acs::ChallengeMethod::Passkey,
                ..
            },
            Some(purchase),
        ) => super::spc::offer(
            state,
            acs,
            areq,
            &acs_trans_id,
            purchase,
            &credential_ids,
            now,
        )
        .map_err(Failure::Storage)?,
        _ => None,
    };
    if let Some((_, data, list)) = &spc {
        ares = acs::ares::with_spc(ares, data.clone(), list.clone());
        status = TransStatus::S;
        challenge = None;
    }
    let kept = Kept {
        acs_trans_id: acs_trans_id.clone(),
        status,
        scheme,
        user_id: card.map(|c| c.user_id),
        challenge,
        spc: spc.map(|(stored, _, _)| stored),
        browser,
    };
    let record = kept.record(acs, areq, ds_trans_id, &fingerprint, now);
    let unit = unit_for(acs, &record, ds_trans_id, now);
    let reason = match &decision {
        Decision::Frictionless { status, reason } => format!(
            "transStatus={} reason={} card={}",
            acs::store::status_name(*status),
            reason.unwrap_or("-"),
            &fingerprint[..12]
        ),
        Decision::Challenge {
            method, reasons, ..
        } => format!(
            "transStatus={} method={method:?} because={reasons:?} card={}",
            acs::store::status_name(status),
            &fingerprint[..12]
        ),
    };
    let entry = AuditRecord {
        time: now,
        actor: ds_actor(ds),
        action: ACTION.to_owned(),
        target: acs_trans_id,
        outcome: shonin_audit::Outcome::Success,
        reason: Some(reason),
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    };
    match crate::oauth::commit::commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => Ok(ares),
        Ok(Outcome::Replayed { .. }) => Err(duplicate()),
        // The unit stages no compare-and-set.
        Ok(Outcome::Conflict { .. }) => Err(Failure::Storage("unexpected conflict".into())),
        Err(e) => Err(Failure::Storage(format!("{e:?}"))),
    }
}

/// The purchase of a payment AReq, as the challenge shows it and the passkey signs it.
pub(super) fn purchase(areq: &AReq) -> Option<Purchase> {
    match (
        &areq.merchant_name,
        &areq.purchase_amount,
        &areq.purchase_currency,
        &areq.purchase_exponent,
    ) {
        (Some(merchant_name), Some(amount), Some(currency), Some(exponent)) => Some(Purchase {
            merchant_name: merchant_name.clone(),
            amount: amount.clone(),
            currency: currency.clone(),
            exponent: exponent.clone(),
        }),
        _ => None,
    }
}

/// Where the RReq goes: the AReq's `dsURL`.
pub(super) fn results_url(areq: &AReq) -> Option<String> {
    areq.other
        .0
        .get("dsURL")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// What an answered AReq's transaction keeps beyond what the AReq says.
pub(super) struct Kept {
    pub acs_trans_id: String,
    pub status: TransStatus,
    pub scheme: acs::Scheme,
    pub user_id: Option<String>,
    pub challenge: Option<Challenge>,
    pub spc: Option<acs::spc::SpcChallenge>,
    pub browser: Option<String>,
}

impl Kept {
    /// The record of `areq` (relayed with `ds_trans_id`) for the card `card`, answered at `now`.
    pub(super) fn record(
        self,
        acs: &AcsService,
        areq: &AReq,
        ds_trans_id: &str,
        card: &str,
        now: time::OffsetDateTime,
    ) -> AcsTransaction {
        AcsTransaction {
            card_fingerprint: card.to_owned(),
            trans_status: self.status,
            data: TransactionData {
                ids: TransactionIds::of(areq, ds_trans_id, &self.acs_trans_id),
                scheme: self.scheme,
                user_id: self.user_id,
                purchase: purchase(areq),
                notification_url: areq.notification_url.clone(),
                results_url: results_url(areq),
                challenge: self.challenge,
                spc: self.spc,
                browser: self.browser,
                results_pending: None,
            },
            acs_trans_id: self.acs_trans_id,
            created_at: now,
            expires_at: now + acs.retention,
            version: 1,
        }
    }
}

/// The unit that stores `record`. A dsTransID seen before is a duplicate transaction: Erro 301
/// (EMV 3DS Annex A), and its claim commits with the transaction, so two racing copies cannot
/// both be answered. It is the unit's first claim (index 0 in [`Outcome::Replayed`]).
pub(super) fn unit_for(
    acs: &AcsService,
    record: &AcsTransaction,
    ds_trans_id: &str,
    now: time::OffsetDateTime,
) -> UnitOfWork {
    let mut unit = UnitOfWork::new();
    unit.claim(OneTimeClaim {
        namespace: DS_TRANS_ID_NAMESPACE,
        key: ds_trans_id.to_owned(),
        expires_at: now + acs.retention,
    });
    unit.insert(record);
    unit
}

/// Erro 301 for an AReq whose dsTransID was answered before.
pub(super) fn duplicate() -> Failure {
    Failure::Refused(Rejection::element(
        ErrorCode::TransactionIdNotRecognised,
        "dsTransID",
        "a transaction with this dsTransID was answered before",
    ))
}

pub(crate) fn ds_actor(thumbprint: &str) -> Actor {
    Actor {
        kind: ActorKind::Client,
        id: format!("ds:{}", thumbprint.chars().take(16).collect::<String>()),
    }
}

/// Answers `refused` with its Erro from the ACS, and audit-logs it (sampled).
async fn refuse(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    ds: &str,
    refused: Refused,
    status: StatusCode,
) -> Response {
    let erro = refused.erro(ErrorComponent::Acs, acs.versions);
    metrics::counter!("shonin_3ds_errors_total", "error_code" => erro.error_code.clone())
        .increment(1);
    let actor = if ds == "-" {
        Actor {
            kind: ActorKind::Client,
            id: "-".into(),
        }
    } else {
        ds_actor(ds)
    };
    let reason = format!("Erro {}: {}", erro.error_code, erro.error_detail);
    audit_refusal(state, meta, actor, "/3ds/acs/areq", &reason).await;
    protocol(status, &erro)
}

/// Writes the audit entry of a refused 3-D Secure request, sampled per address (as other
/// repeated rejections are): the first in a minute, then one saying how many were left out.
pub(crate) async fn audit_refusal(
    state: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    target: &str,
    reason: &str,
) {
    let Some(admitted) = state.audit_sampler.admit(
        REJECT_ACTION,
        meta.addr.client_ip,
        std::time::Instant::now(),
    ) else {
        return;
    };
    let record = AuditRecord {
        time: state.clock.now(),
        actor,
        action: REJECT_ACTION.to_owned(),
        target: target.to_owned(),
        outcome: shonin_audit::Outcome::Failure,
        reason: Some(admitted.reason(reason)),
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "3DS: a refusal could not be audit-logged");
    }
}

/// A protocol message as the HTTP answer: JSON, never cached.
pub(crate) fn protocol(status: StatusCode, message: &impl serde::Serialize) -> Response {
    let mut response = (status, Json(message)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
