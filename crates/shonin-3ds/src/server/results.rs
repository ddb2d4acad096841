//! What the 3DS Server makes of the messages that come back: the ARes (or Erro) to its AReq, the
//! RReq the ACS sends through the DS when a challenge ends (answered with an RRes), and the final
//! CRes the cardholder's browser posts to the notification URL. Pure: the server reads the
//! transaction, calls these, and moves it by compare-and-set.

use serde_json::Map;

use super::flow::{AuthResult, ChallengeData, Problem, ServerState, ServerTransaction};
use crate::message::{AReq, CReq, CReqType, CRes, Elements, RReq, RRes, RResType, TransStatus};
use crate::{ErrorCode, Message, Rejection};

/// How an AReq ended: the next state and what it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub state: ServerState,
    pub ds_trans_id: Option<String>,
    pub acs_trans_id: Option<String>,
    pub result: Option<AuthResult>,
    pub challenge: Option<ChallengeData>,
    pub problem: Option<Problem>,
}

impl Answered {
    /// Failed with `problem` (no ARes to read, or one the 3DS Server refuses).
    pub fn failed(problem: Problem) -> Self {
        Answered {
            state: ServerState::Failed,
            ds_trans_id: None,
            acs_trans_id: None,
            result: None,
            challenge: None,
            problem: Some(problem),
        }
    }
}

impl Problem {
    /// A problem this 3DS Server found (component S).
    pub fn ours(code: ErrorCode, detail: impl Into<String>) -> Self {
        Problem {
            error_code: code.code().to_owned(),
            error_component: "S".into(),
            error_detail: detail.into(),
        }
    }

    fn of(rejection: &Rejection) -> Self {
        Self::ours(rejection.code, rejection.error_detail())
    }
}

fn missing(element: &str) -> Rejection {
    Rejection::element(
        ErrorCode::RequiredElementMissing,
        element,
        "required for this transStatus",
    )
}

/// Y and A carry what the merchant's authorisation needs: the ECI and the authentication value.
fn proof(
    status: TransStatus,
    eci: &Option<String>,
    value: &Option<String>,
) -> Result<(), Rejection> {
    if matches!(status, TransStatus::Y | TransStatus::A) {
        if eci.is_none() {
            return Err(missing("eci"));
        }
        if value.is_none() {
            return Err(missing("authenticationValue"));
        }
    }
    Ok(())
}

/// Reads the answer to `sent`: an ARes for this transaction in this version, or an Erro.
/// `window_size` and `session_data` go into the challenge's CReq form.
pub fn read_ares(
    sent: &AReq,
    answer: Message,
    window_size: &str,
    session_data: Option<String>,
) -> Answered {
    let ares = match answer {
        Message::ARes(ares) => ares,
        Message::Erro(erro) => {
            return Answered::failed(Problem {
                error_code: erro.error_code,
                error_component: erro.error_component,
                error_detail: erro.error_detail,
            });
        }
        other => {
            return Answered::failed(Problem::ours(
                ErrorCode::MessageReceivedInvalid,
                format!(
                    "the DS answered {}, not an ARes",
                    other.message_type().as_str()
                ),
            ));
        }
    };
    let checked = (|| {
        if ares.three_ds_server_trans_id != sent.three_ds_server_trans_id {
            return Err(Rejection::element(
                ErrorCode::TransactionIdNotRecognised,
                "threeDSServerTransID",
                "the ARes names another transaction",
            ));
        }
        if ares.message_version != sent.message_version {
            return Err(Rejection::element(
                ErrorCode::InvalidFormat,
                "messageVersion",
                "the ARes is not in the AReq's version",
            ));
        }
        let status = ares.trans_status.ok_or_else(|| {
            Rejection::element(ErrorCode::RequiredElementMissing, "transStatus", "required")
        })?;
        proof(status, &ares.eci, &ares.authentication_value)?;
        Ok(status)
    })();
    let status = match checked {
        Ok(s) => s,
        Err(rejection) => return Answered::failed(Problem::of(&rejection)),
    };
    let ids = (
        Some(ares.ds_trans_id.clone()),
        Some(ares.acs_trans_id.clone()),
    );
    let answered = |state, result, challenge| Answered {
        state,
        ds_trans_id: ids.0.clone(),
        acs_trans_id: ids.1.clone(),
        result,
        challenge,
        problem: None,
    };
    match status {
        TransStatus::C => {
            let Some(acs_url) = ares.acs_url.clone() else {
                return Answered::failed(Problem::of(&Rejection::element(
                    ErrorCode::RequiredElementMissing,
                    "acsURL",
                    "required when a browser transaction is challenged",
                )));
            };
            let creq = CReq {
                message_type: CReqType,
                message_version: sent.message_version,
                three_ds_server_trans_id: sent.three_ds_server_trans_id.clone(),
                acs_trans_id: ares.acs_trans_id.clone(),
                challenge_window_size: Some(window_size.to_owned()),
                other: Elements::default(),
            };
            let challenge = ChallengeData {
                acs_url,
                creq: crate::acs::creq::encode(&creq),
                window_size: window_size.to_owned(),
                session_data,
            };
            answered(ServerState::Challenge, None, Some(challenge))
        }
        // Neither decoupled authentication nor SPC was offered in the AReq.
        TransStatus::D | TransStatus::S => Answered::failed(Problem::of(&Rejection::element(
            ErrorCode::InvalidFormat,
            "transStatus",
            "the AReq asked for neither decoupled authentication nor SPC",
        ))),
        status => {
            let result = AuthResult {
                trans_status: status,
                trans_status_reason: ares.trans_status_reason.clone(),
                eci: ares.eci.clone(),
                authentication_value: ares.authentication_value.clone(),
                challenge_cancel: None,
                interaction_counter: None,
            };
            answered(ServerState::Completed, Some(result), None)
        }
    }
}

fn same_ids(
    txn: &ServerTransaction,
    ds_trans_id: &str,
    acs_trans_id: &str,
) -> Result<(), Rejection> {
    let unknown = |element: &str| {
        Rejection::element(
            ErrorCode::TransactionIdNotRecognised,
            element,
            "not the ID of this transaction",
        )
    };
    if txn.data.acs_trans_id.as_deref() != Some(acs_trans_id) {
        return Err(unknown("acsTransID"));
    }
    if txn.data.ds_trans_id.as_deref() != Some(ds_trans_id) {
        return Err(unknown("dsTransID"));
    }
    Ok(())
}

/// The result an RReq brings for `txn`: it must await one (else 305), name the transaction's
/// own IDs (301) in its version (203), and carry a final `transStatus` (Y, N, U, A or R; 203),
/// with the ECI and authentication value for Y and A (201).
pub fn read_rreq(txn: &ServerTransaction, rreq: &RReq) -> Result<AuthResult, Rejection> {
    same_ids(txn, &rreq.ds_trans_id, &rreq.acs_trans_id)?;
    if txn.state != ServerState::Challenge {
        return Err(Rejection::new(
            ErrorCode::TransactionDataNotValid,
            format!(
                "the transaction is {}, not awaiting results",
                txn.state.name()
            ),
        ));
    }
    if Some(rreq.message_version) != txn.data.message_version {
        return Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "messageVersion",
            "the RReq is not in the AReq's version",
        ));
    }
    let status = rreq.trans_status.ok_or_else(|| {
        Rejection::element(ErrorCode::RequiredElementMissing, "transStatus", "required")
    })?;
    if !matches!(
        status,
        TransStatus::Y | TransStatus::N | TransStatus::U | TransStatus::A | TransStatus::R
    ) {
        return Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "transStatus",
            "an RReq carries Y, N, U, A or R",
        ));
    }
    proof(status, &rreq.eci, &rreq.authentication_value)?;
    Ok(AuthResult {
        trans_status: status,
        trans_status_reason: rreq.trans_status_reason.clone(),
        eci: rreq.eci.clone(),
        authentication_value: rreq.authentication_value.clone(),
        challenge_cancel: rreq.challenge_cancel.clone(),
        interaction_counter: rreq.interaction_counter.clone(),
    })
}

/// The RRes to an RReq the 3DS Server took: `resultsStatus` 01, received for further processing.
pub fn rres(rreq: &RReq) -> RRes {
    RRes {
        message_type: RResType,
        message_version: rreq.message_version,
        three_ds_server_trans_id: rreq.three_ds_server_trans_id.clone(),
        ds_trans_id: rreq.ds_trans_id.clone(),
        acs_trans_id: rreq.acs_trans_id.clone(),
        results_status: "01".into(),
        other: Elements(Map::new()),
    }
}

/// The final CRes posted to the notification URL for `txn`: its IDs, its version, and Y or N.
pub fn read_cres(txn: &ServerTransaction, cres: &CRes) -> Result<TransStatus, Rejection> {
    if txn.data.acs_trans_id.as_deref() != Some(cres.acs_trans_id.as_str()) {
        return Err(Rejection::element(
            ErrorCode::TransactionIdNotRecognised,
            "acsTransID",
            "not the ID of this transaction",
        ));
    }
    if Some(cres.message_version) != txn.data.message_version {
        return Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "messageVersion",
            "the CRes is not in the AReq's version",
        ));
    }
    match cres.trans_status {
        Some(status @ (TransStatus::Y | TransStatus::N)) => Ok(status),
        Some(_) => Err(Rejection::element(
            ErrorCode::InvalidFormat,
            "transStatus",
            "a final CRes carries Y or N",
        )),
        None => Err(Rejection::element(
            ErrorCode::RequiredElementMissing,
            "transStatus",
            "required in the final CRes",
        )),
    }
}
