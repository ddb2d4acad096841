//! EMV 3DS 2.3.1 Secure Payment Confirmation at the ACS (rules in `shonin_3ds::acs::spc`).
//!
//! [`offer`]: a passkey challenge for a requestor that supports SPC is answered S, the
//! transaction keeping the challenge's nonce, deadline and the payee origin. [`answer`]: the
//! follow-up AReq's assertion is checked against that stored transaction — the card, the
//! purchase, the passkey of the card's holder, the signed `payment` — and answered Y (with ECI
//! and authentication value) or N, in one unit with the new transaction, the passkey's counter,
//! a one-time claim on the challenge (one assertion per S) and the audit entry.

use super::AcsService;
use super::areq::{self, Failure};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use shonin_3ds::acs::spc::{self, FollowUp, Offer, SpcChallenge};
use shonin_3ds::acs::store::{AcsStore, AcsTransaction, Purchase};
use shonin_3ds::acs::{self, Decision, PurchaseChallenge, Scheme, risk};
use shonin_3ds::{AReq, ARes, ErrorCode, Rejection, TransStatus};
use shonin_audit::AuditRecord;
use shonin_passkeys::{AssertionResponse, Expected, Framing, PasskeyStore};
use shonin_types::unit::{OneTimeClaim, Outcome};
use time::OffsetDateTime;

/// The replay namespace of SPC challenges: one follow-up per transaction answered S.
const NAMESPACE: &str = "3ds-spc";
const PRIOR_REF: &str = "threeDSRequestorPriorAuthenticationInfo.threeDSReqPriorRef";

/// The card of the follow-up AReq.
pub(super) struct Card<'a> {
    pub fingerprint: &'a str,
    pub scheme: Scheme,
}

/// The S answer for a passkey challenge, when SPC is configured, the AReq offers it, the
/// cardholder has passkeys and the currency has an alphabetic code the browser can show:
/// what the transaction keeps, `spcTransData` and `webAuthnCredList`. `Err` only when no random
/// nonce could be drawn.
pub(super) fn offer(
    state: &AppState,
    acs: &AcsService,
    areq: &AReq,
    acs_trans_id: &str,
    purchase: &Purchase,
    credential_ids: &[String],
    now: OffsetDateTime,
) -> Result<Option<(SpcChallenge, serde_json::Value, serde_json::Value)>, String> {
    let (Some(instrument), Some(payee_origin)) = (acs.spc.as_ref(), spc::offered(areq)) else {
        return Ok(None);
    };
    if acs::linking::alpha_code(&purchase.currency).is_none() || credential_ids.is_empty() {
        return Ok(None);
    }
    let nonce = shonin_oauth::claims::random_token(32).map_err(|e| e.to_string())?;
    let stored = SpcChallenge {
        nonce,
        expires_at: (now + time::Duration::seconds(spc::FOLLOW_UP_SECS)).unix_timestamp(),
        payee_origin: payee_origin.to_owned(),
    };
    let challenge = challenge_of(acs_trans_id, purchase, &stored);
    let config = state.passkeys.ceremonies.config();
    let offer = Offer {
        challenge: &shonin_jose::b64url_encode(&challenge),
        purchase,
        payee_origin,
        instrument,
        credential_ids,
        rp_id: &config.rp_id,
    };
    Ok(offer.elements().map(|(data, list)| (stored, data, list)))
}

fn challenge_of(acs_trans_id: &str, purchase: &Purchase, stored: &SpcChallenge) -> [u8; 32] {
    PurchaseChallenge {
        acs_trans_id,
        purchase,
        nonce: &stored.nonce,
        expires_at: stored.expires_at,
    }
    .challenge()
}

/// A verified SPC assertion: what the unit records.
struct Verified {
    credential_id: String,
    sign_count: u32,
    backup_state: bool,
    top_origin: String,
}

/// Answers a follow-up AReq. Erro 305 (naming `threeDSReqPriorRef`) when it names no
/// transaction of this card answered S, or one whose assertion came before; otherwise an ARes
/// Y or N (reason 01, or 14 past the deadline) and a stored transaction.
pub(super) async fn answer(
    state: &AppState,
    acs: &AcsService,
    meta: &RequestMeta,
    ds: &str,
    areq: &AReq,
    card: Card<'_>,
    follow: FollowUp,
) -> Result<ARes, Failure> {
    let storage = |e: shonin_types::StorageError| Failure::Storage(e.to_string());
    let (ds_trans_id, _) = acs::ares::ds_ids(areq).map_err(Failure::Refused)?;
    let now = state.clock.now();
    let not_valid = |why: &str| {
        Failure::Refused(Rejection::element(
            ErrorCode::TransactionDataNotValid,
            PRIOR_REF,
            why,
        ))
    };
    let prior = state
        .store
        .acs_transaction(&follow.prior_ref, now)
        .await
        .map_err(storage)?
        .filter(|p| {
            p.trans_status == TransStatus::S
                && shonin_types::constant_time_eq(
                    p.card_fingerprint.as_bytes(),
                    card.fingerprint.as_bytes(),
                )
        });
    let Some((prior, stored)) = prior.and_then(|p| p.data.spc.clone().map(|s| (p, s))) else {
        return Err(not_valid(
            "no transaction of this card was answered S with this acsTransID",
        ));
    };
    let purchase = areq::purchase(areq);
    let checked = spc::precheck(
        &stored,
        prior.data.purchase.as_ref(),
        purchase.as_ref(),
        now.unix_timestamp(),
    );
    let verified = match checked {
        Err((reason, why)) => Err((reason, why.to_owned())),
        Ok(()) => verify(state, acs, &prior, &stored, &follow)
            .await?
            .map_err(|why| (risk::reason::CARD_AUTHENTICATION_FAILED, why)),
    };
    let decision = match &verified {
        Ok(_) => Decision::Frictionless {
            status: TransStatus::Y,
            reason: None,
        },
        Err((reason, _)) => Decision::Frictionless {
            status: TransStatus::N,
            reason: Some(reason),
        },
    };
    let status = decision.status();
    let acs_trans_id = uuid::Uuid::new_v4().to_string();
    let browser = acs::browser::fingerprint(acs.fingerprint_key.as_ref(), card.fingerprint, areq)
        .await
        .map_err(|e| Failure::Storage(e.to_string()))?;
    let outcome = acs::Outcome::of(
        &decision,
        acs.value_key.as_ref(),
        card.scheme,
        areq,
        ds_trans_id,
        acs_trans_id.clone(),
        card.fingerprint,
    )
    .await
    .map_err(|e| Failure::Storage(e.to_string()))?;
    let ares =
        acs::ares::build(areq, &acs.profile, &decision, outcome).map_err(Failure::Refused)?;
    let ares = acs::ares::spc_result(ares, verified.as_ref().err().map(|(_, why)| why.as_str()));
    let kept = areq::Kept {
        acs_trans_id: acs_trans_id.clone(),
        status,
        scheme: card.scheme,
        user_id: prior.data.user_id.clone(),
        challenge: None,
        spc: None,
        browser,
    };
    let record = kept.record(acs, areq, ds_trans_id, card.fingerprint, now);
    let mut unit = areq::unit_for(acs, &record, ds_trans_id, now);
    // One follow-up per S, whatever it said: a failed assertion is not tried again.
    unit.claim(OneTimeClaim {
        namespace: NAMESPACE,
        key: prior.acs_trans_id.clone(),
        expires_at: now + acs.retention,
    });
    if verified.is_ok()
        && let Some(row) = super::remember_browser(acs, &record, now)
    {
        unit.insert(&row);
    }
    if let Ok(v) = &verified {
        // One assertion counts once: the passkey's counter moves by compare-and-set.
        unit.update(shonin_passkeys::record_use(
            &v.credential_id,
            v.sign_count,
            v.backup_state,
            now,
        ));
    }
    let reason = match &verified {
        Ok(v) => format!(
            "transStatus=Y by SPC for {} framed by {} card={}",
            prior.acs_trans_id,
            v.top_origin,
            &card.fingerprint[..12]
        ),
        Err((reason, why)) => format!(
            "transStatus=N reason={reason} by SPC for {}: {why} card={}",
            prior.acs_trans_id,
            &card.fingerprint[..12]
        ),
    };
    let entry = AuditRecord {
        time: now,
        actor: areq::ds_actor(ds),
        action: areq::ACTION.to_owned(),
        target: acs_trans_id,
        outcome: if verified.is_ok() {
            shonin_audit::Outcome::Success
        } else {
            shonin_audit::Outcome::Failure
        },
        reason: Some(reason),
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    };
    match crate::oauth::commit::commit_outcome(state, unit, Some(entry)).await {
        Ok(Outcome::Committed { .. }) => {
            metrics::counter!("shonin_3ds_spc_results_total", "trans_status" => acs::store::status_name(status))
                .increment(1);
            Ok(ares)
        }
        Ok(Outcome::Replayed { claim: 0 }) => Err(areq::duplicate()),
        Ok(Outcome::Replayed { .. }) => Err(not_valid(
            "the SPC challenge of this transaction was answered before",
        )),
        // The passkey's counter moved under another request: the same assertion, twice.
        Ok(Outcome::Conflict { .. }) => Err(not_valid("the assertion was used concurrently")),
        Err(e) => Err(Failure::Storage(format!("{e:?}"))),
    }
}

/// Checks the SPC credential against the stored challenge: a passkey of the card's holder, the
/// challenge recomputed from the stored purchase, `payment.get` from any https checkout, the
/// signed `payment` as offered. `Ok(Err(why))` is a refused assertion.
async fn verify(
    state: &AppState,
    acs: &AcsService,
    prior: &AcsTransaction,
    stored: &SpcChallenge,
    follow: &FollowUp,
) -> Result<Result<Verified, String>, Failure> {
    let (Some(instrument), Some(purchase)) = (acs.spc.as_ref(), prior.data.purchase.as_ref())
    else {
        return Ok(Err("SPC is no longer configured".into()));
    };
    let Some(alpha) = acs::linking::alpha_code(&purchase.currency) else {
        return Ok(Err("the purchase's currency has no alphabetic code".into()));
    };
    let response = match AssertionResponse::from_json(&follow.credential) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e.reason())),
    };
    let passkey = state
        .store
        .get_passkey(&response.credential_id_b64())
        .await
        .map_err(|e| Failure::Storage(e.to_string()))?;
    let Some(passkey) = passkey else {
        return Ok(Err("unknown_credential".into()));
    };
    if prior.data.user_id.as_deref() != Some(passkey.user_id.as_str()) {
        return Ok(Err("credential_of_another_user".into()));
    }
    // SPC may be called from any merchant's checkout: the calling origin must be https, and
    // the payee origin the browser showed is checked in `payment` below.
    let origin = serde_json::from_slice::<serde_json::Value>(&response.client_data_json)
        .ok()
        .and_then(|c| c.get("origin")?.as_str().map(str::to_owned))
        .filter(|o| spc::is_https_origin(o));
    let Some(origin) = origin else {
        return Ok(Err("clientDataJSON.origin is not an https origin".into()));
    };
    let challenge = challenge_of(&prior.acs_trans_id, purchase, stored);
    let config = state.passkeys.ceremonies.config();
    let expected = Expected {
        challenge: &challenge,
        origin: &origin,
        rp_id: &config.rp_id,
        client_data_type: shonin_txn::approve::SPC_TYPE,
        framing: Framing::AnyHttpsTop,
    };
    let verified = match shonin_passkeys::verify_passkey_assertion(&response, &passkey, &expected) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.reason())),
    };
    if let Err(why) = spc::check_payment(
        &verified.client_data,
        stored,
        purchase,
        alpha,
        instrument,
        &config.rp_id,
    ) {
        return Ok(Err(why));
    }
    let top_origin = verified
        .client_data
        .pointer("/payment/topOrigin")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("-")
        .chars()
        .take(200)
        .collect();
    Ok(Ok(Verified {
        credential_id: passkey.credential_id.clone(),
        sign_count: verified.sign_count,
        backup_state: verified.backup_state,
        top_origin,
    }))
}
