//! The RReq: when a challenge ends (answered, cancelled, timed out, or its CReq refused), the ACS
//! sends the result to the DS's `dsURL` from the AReq over mutual TLS and reads the RRes.
//!
//! Timers (EMV 3DS, `../shared/specs/emv-3ds.md`): the ACS waits 5 s for the RRes; after a
//! connection failure it tries once more. Every delivery — answered, refused with an Erro, failed,
//! or not sent because no results link is configured — is one `3ds.results` audit entry and
//! counts in `shonin_3ds_results_total{outcome}`. The RReq carries `eci` and
//! `authenticationValue` only for Y.
//!
//! A delivery that failed (no connection, a timeout, an HTTP error, no message in the answer) is
//! tried again from the store: the transaction keeps a `PendingResults` whose time is its
//! `due_at`, and the timer worker of any node ([`retry`], from `timers.rs`) claims the attempt
//! by compare-and-set before sending, so each attempt goes out once. Six attempts over about
//! 22 minutes (`shonin_3ds::acs::store::RESULTS_RETRY_SECS`); an RRes or an Erro ends it.

use super::AcsService;
use crate::state::AppState;
use anyhow::Context as _;
use shonin_3ds::acs::store::{AcsTransaction, PendingResults};
use shonin_3ds::acs::{ChallengeResult, rreq};
use shonin_3ds::settings::LinkSettings;
use shonin_3ds::{Message, RReq, Versions};
use shonin_audit::{Actor, AuditRecord, Outcome};
use shonin_types::StorageError;
use shonin_types::unit::{Outcome as Committed, UnitOfWork, UnitStore};
use std::time::Duration;
use time::OffsetDateTime;

/// The audit action of a delivery.
pub const ACTION: &str = "3ds.results";
/// How long the ACS waits for the RRes.
const RRES_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest RRes read.
const MAX_RRES_BYTES: usize = 64 * 1024;

/// The mutual-TLS HTTP client of the ACS → DS link.
#[derive(Debug, Clone)]
pub struct ResultsClient {
    client: reqwest::Client,
}

impl ResultsClient {
    /// The client of a link's `results_*_file`, or `None` when they are not set.
    pub fn build(settings: &LinkSettings) -> anyhow::Result<Option<Self>> {
        let (Some(ca), Some(cert), Some(key)) = (
            &settings.results_ca_file,
            &settings.results_certificate_file,
            &settings.results_key_file,
        ) else {
            return Ok(None);
        };
        let tls = shonin_tls::mutual_client_config(ca, cert, key)
            .context("threeds.acs.results_*_file")?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(RRES_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()
            .context("threeds.acs: the RReq client")?;
        Ok(Some(ResultsClient { client }))
    }
}

/// What became of one RReq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The DS answered an RRes with this `resultsStatus`.
    Answered(String),
    /// The DS answered an Erro with this code.
    Refused(String),
    /// No answer that is a message: connection failure, timeout, HTTP error, not JSON.
    Failed(String),
    /// No results link configured, or the AReq named no `dsURL`.
    NotSent(&'static str),
}

impl Delivery {
    fn label(&self) -> &'static str {
        match self {
            Delivery::Answered(_) => "answered",
            Delivery::Refused(_) => "refused",
            Delivery::Failed(_) => "failed",
            Delivery::NotSent(_) => "not_sent",
        }
    }
}

/// The RReq of `txn`, whose challenge has completed with `result`. A Y whose authentication
/// value cannot be computed (the key unavailable) is no RReq at all: one without its value would
/// be invalid, and the delivery is recorded as failed instead.
pub async fn message(
    acs: &AcsService,
    txn: &AcsTransaction,
    result: &ChallengeResult,
) -> Result<RReq, shonin_keys::KeyError> {
    let data = &txn.data;
    let counter = data.challenge.as_ref().map_or(0, |c| c.interaction_counter);
    let purchase = data.purchase.as_ref();
    let (eci, value) = shonin_3ds::acs::Outcome::proof(
        result.status,
        acs.value_key.as_ref(),
        data.scheme,
        &data.ids.ds_trans_id,
        &data.ids.acs_trans_id,
        &txn.card_fingerprint,
        (
            purchase.map(|p| p.amount.as_str()),
            purchase.map(|p| p.currency.as_str()),
        ),
    )
    .await?;
    Ok(rreq(&data.ids, result, counter, eci, value))
}

async fn post(client: &reqwest::Client, url: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut last = String::new();
    // One retry after a connection failure; a timeout or an answer is final.
    for _ in 0..2 {
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status();
                let bytes = resp.bytes().await.map_err(|e| format!("reading: {e}"))?;
                if !status.is_success() {
                    return Err(format!("HTTP {}", status.as_u16()));
                }
                if bytes.len() > MAX_RRES_BYTES {
                    return Err("the answer is too large".into());
                }
                return Ok(bytes.to_vec());
            }
            Err(e) if e.is_connect() => last = format!("connection failed: {e}"),
            Err(e) => {
                return Err(if e.is_timeout() {
                    "timed out".into()
                } else {
                    e.to_string()
                });
            }
        }
    }
    Err(last)
}

/// Sends the RReq of `txn` — the record as committed, its challenge completed — and audits the
/// delivery; when the DS did not take it, schedules the next attempt in the store.
pub async fn deliver(
    state: &AppState,
    acs: &AcsService,
    txn: &AcsTransaction,
    now: OffsetDateTime,
) -> Delivery {
    let next = PendingResults::after(1, now);
    let delivery = send(state, acs, txn, 1, next.as_ref()).await;
    if matches!(delivery, Delivery::Failed(_)) && next.is_some() {
        schedule(state, txn, next).await;
    }
    delivery
}

/// Tries the pending RReq of `txn` again (the timer worker, on any node). The attempt is
/// claimed first — the next attempt's time, or none after the last, written by compare-and-set —
/// so of nodes racing for it one sends. `None` when there was nothing to send or another node
/// claimed it.
pub async fn retry(
    state: &AppState,
    acs: &AcsService,
    txn: &AcsTransaction,
    now: OffsetDateTime,
) -> Result<Option<Delivery>, StorageError> {
    let Some(pending) = txn.data.results_pending.as_ref() else {
        return Ok(None);
    };
    let attempt = pending.attempts.saturating_add(1);
    let next = PendingResults::after(attempt, now);
    let mut unit = UnitOfWork::new();
    unit.update(txn.schedule_results(next.clone())?);
    if !matches!(
        state.store.commit(unit, None).await?,
        Committed::Committed { .. }
    ) {
        return Ok(None);
    }
    let claimed = txn.scheduled(next.clone());
    let delivery = send(state, acs, &claimed, attempt, next.as_ref()).await;
    if !matches!(delivery, Delivery::Failed(_)) && next.is_some() {
        schedule(state, &claimed, None).await;
    }
    Ok(Some(delivery))
}

/// Writes `pending` over `txn` as read; a record that moved meanwhile is left as it is.
async fn schedule(state: &AppState, txn: &AcsTransaction, pending: Option<PendingResults>) {
    let mut unit = UnitOfWork::new();
    match txn.schedule_results(pending) {
        Ok(update) => unit.update(update),
        Err(e) => {
            tracing::error!(error = %e, "3DS: an RReq retry could not be scheduled");
            return;
        }
    };
    if let Err(e) = state.store.commit(unit, None).await {
        tracing::error!(error = %e, "3DS: an RReq retry could not be scheduled");
    }
}

/// One attempt (number `attempt`) at the RReq of `txn`, with its audit entry; `next` is the
/// attempt that follows should this one fail.
async fn send(
    state: &AppState,
    acs: &AcsService,
    txn: &AcsTransaction,
    attempt: u8,
    next: Option<&PendingResults>,
) -> Delivery {
    let Some(result) = txn.data.challenge.as_ref().and_then(|c| c.result.clone()) else {
        return Delivery::NotSent("the challenge has no result");
    };
    let result = &result;
    let results = &acs.links.of(txn.data.scheme).results;
    let delivery = match (
        message(acs, txn, result).await,
        results,
        txn.data.results_url.as_deref(),
    ) {
        (Err(e), _, _) => Delivery::Failed(format!("no authentication value: {e}")),
        (_, None, _) => Delivery::NotSent("threeds.acs.results_* is not configured"),
        (_, _, None) => Delivery::NotSent("the AReq named no dsURL"),
        (Ok(rreq), Some(client), Some(url)) => {
            let body = serde_json::to_vec(&rreq).unwrap_or_default();
            match post(&client.client, url, &body).await {
                Err(reason) => Delivery::Failed(reason),
                Ok(bytes) => match shonin_3ds::check(&bytes, Versions::ALL) {
                    Ok(Message::RRes(rres)) => Delivery::Answered(rres.results_status),
                    Ok(Message::Erro(erro)) => Delivery::Refused(erro.error_code),
                    Ok(other) => Delivery::Failed(format!(
                        "the DS answered {:?}, not an RRes",
                        other.message_type()
                    )),
                    Err(refused) => Delivery::Failed(format!(
                        "the RRes is invalid: {}",
                        refused.rejection.detail
                    )),
                },
            }
        }
    };
    metrics::counter!("shonin_3ds_results_total", "outcome" => delivery.label()).increment(1);
    let status = shonin_3ds::acs::store::status_name(result.status);
    let (outcome, said) = match &delivery {
        Delivery::Answered(s) if s == "01" => (Outcome::Success, format!("RRes resultsStatus={s}")),
        Delivery::Answered(s) => (Outcome::Failure, format!("RRes resultsStatus={s}")),
        Delivery::Refused(code) => (Outcome::Failure, format!("Erro {code}")),
        Delivery::Failed(reason) => (
            Outcome::Failure,
            match next {
                Some(n) => format!(
                    "{reason}; next attempt at {}",
                    n.next_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                ),
                None => format!("{reason}; no attempt left"),
            },
        ),
        Delivery::NotSent(why) => (Outcome::Failure, format!("not sent: {why}")),
    };
    let record = AuditRecord {
        time: state.clock.now(),
        actor: Actor::system(),
        action: ACTION.to_owned(),
        target: txn.acs_trans_id.clone(),
        outcome,
        reason: Some(format!(
            "RReq transStatus={status} challengeCancel={} attempt {attempt}: {said}",
            result.challenge_cancel.as_deref().unwrap_or("-")
        )),
        source_ip: None,
        request_id: None,
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "3DS: an RReq delivery could not be audit-logged");
    }
    delivery
}
