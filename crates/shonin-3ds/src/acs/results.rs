//! What a finished challenge sends: the RReq to the 3DS Server (through the DS) and the final
//! CRes the cardholder's browser posts to the requestor's `notificationURL`. Both carry only Y or N.

use serde_json::Map;

use super::challenge::ChallengeResult;
use crate::MessageVersion;
use crate::message::{AReq, CRes, CResType, Elements, RReq, RReqType, TransStatus};

/// The IDs and version of one transaction, kept from its AReq for the messages that follow.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransactionIds {
    pub message_version: MessageVersion,
    pub message_category: String,
    pub three_ds_server_trans_id: String,
    pub ds_trans_id: String,
    pub acs_trans_id: String,
}

impl TransactionIds {
    pub fn of(areq: &AReq, ds_trans_id: &str, acs_trans_id: &str) -> Self {
        TransactionIds {
            message_version: areq.message_version,
            message_category: areq.message_category.clone(),
            three_ds_server_trans_id: areq.three_ds_server_trans_id.clone(),
            ds_trans_id: ds_trans_id.to_owned(),
            acs_trans_id: acs_trans_id.to_owned(),
        }
    }
}

/// The RReq for a completed challenge. `eci` and `authentication_value` are used only for Y.
pub fn rreq(
    ids: &TransactionIds,
    result: &ChallengeResult,
    interaction_counter: u8,
    eci: Option<String>,
    authentication_value: Option<String>,
) -> RReq {
    let authenticated = result.status == TransStatus::Y;
    let mut other = Map::new();
    if ids.message_version < MessageVersion::V2_3_1 {
        other.insert("authenticationType".into(), "02".into());
    }
    RReq {
        message_type: RReqType,
        message_version: ids.message_version,
        three_ds_server_trans_id: ids.three_ds_server_trans_id.clone(),
        ds_trans_id: ids.ds_trans_id.clone(),
        acs_trans_id: ids.acs_trans_id.clone(),
        message_category: ids.message_category.clone(),
        trans_status: Some(result.status),
        trans_status_reason: result.reason.clone(),
        eci: eci.filter(|_| authenticated),
        authentication_value: authentication_value.filter(|_| authenticated),
        challenge_cancel: result.challenge_cancel.clone(),
        interaction_counter: Some(format!("{:02}", interaction_counter.min(99))),
        other: Elements(other),
    }
}

/// The final CRes of the browser flow: the IDs, `challengeCompletionInd` Y and the outcome.
pub fn final_cres(ids: &TransactionIds, result: &ChallengeResult) -> CRes {
    CRes {
        message_type: CResType,
        message_version: ids.message_version,
        three_ds_server_trans_id: ids.three_ds_server_trans_id.clone(),
        acs_trans_id: ids.acs_trans_id.clone(),
        challenge_completion_ind: Some("Y".into()),
        trans_status: Some(result.status),
        other: Elements::default(),
    }
}
