//! The ARes an ACS answers an AReq with, from its decision.

use serde_json::{Map, Value};

use shonin_keys::{KeyError, MacKey};

use super::auth_value::{self, AuthValueInput};
use super::card::{EciOutcome, Scheme};
use super::risk::Decision;
use crate::message::{AReq, ARes, AResType, Elements, TransStatus};
use crate::{ErrorCode, MessageVersion, Rejection};

/// Who this ACS is, as the ARes names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AcsProfile {
    /// `acsReferenceNumber`: assigned by EMVCo to an approved ACS (≤ 32 characters).
    pub reference_number: String,
    /// `acsOperatorID`: assigned by the DS (≤ 32 characters).
    #[serde(default)]
    pub operator_id: Option<String>,
    /// `acsURL`: where the browser posts the CReq (the ACS's challenge endpoint).
    pub challenge_url: String,
}

/// What the ACS adds to its decision: its transaction ID, and for Y or A the ECI and
/// authentication value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub acs_trans_id: String,
    pub eci: Option<String>,
    pub authentication_value: Option<String>,
}

impl Decision {
    /// The ARes's `transStatus` for this decision.
    pub fn status(&self) -> TransStatus {
        match self {
            Decision::Frictionless { status, .. } => *status,
            Decision::Challenge { .. } => TransStatus::C,
        }
    }
}

impl Outcome {
    /// The outcome of `decision` for transaction `acs_trans_id`: for Y and A the scheme's ECI
    /// and the authentication value under `key`, bound to the card's fingerprint `card`.
    pub async fn of(
        decision: &Decision,
        key: &dyn MacKey,
        scheme: Scheme,
        areq: &AReq,
        ds_trans_id: &str,
        acs_trans_id: String,
        card: &str,
    ) -> Result<Self, KeyError> {
        let purchase = (
            areq.purchase_amount.as_deref(),
            areq.purchase_currency.as_deref(),
        );
        let (eci, authentication_value) = Self::proof(
            decision.status(),
            key,
            scheme,
            ds_trans_id,
            &acs_trans_id,
            card,
            purchase,
        )
        .await?;
        Ok(Outcome {
            acs_trans_id,
            eci,
            authentication_value,
        })
    }

    /// The ECI and authentication value of `status` (for Y and A only; none otherwise), bound
    /// to the IDs, the card's fingerprint and the purchase (amount, currency): the one place
    /// both the ARes and a challenge's RReq compute them.
    pub async fn proof(
        status: TransStatus,
        key: &dyn MacKey,
        scheme: Scheme,
        ds_trans_id: &str,
        acs_trans_id: &str,
        card: &str,
        (purchase_amount, purchase_currency): (Option<&str>, Option<&str>),
    ) -> Result<(Option<String>, Option<String>), KeyError> {
        let eci = match status {
            TransStatus::Y => scheme.eci(EciOutcome::Authenticated),
            TransStatus::A => scheme.eci(EciOutcome::Attempted),
            _ => return Ok((None, None)),
        };
        let input = AuthValueInput {
            status,
            eci,
            ds_trans_id,
            acs_trans_id,
            card,
            purchase_amount,
            purchase_currency,
        };
        let value = auth_value::authentication_value(key, &input).await?;
        Ok((Some(eci.to_owned()), Some(value)))
    }
}

/// The IDs an ACS needs from the AReq, which the DS added: `dsTransID` and `dsReferenceNumber`.
/// An AReq that reached the ACS without them answers Erro 201 naming them.
pub fn ds_ids(areq: &AReq) -> Result<(&str, &str), Rejection> {
    let reference = areq
        .other
        .0
        .get("dsReferenceNumber")
        .and_then(Value::as_str);
    match (areq.ds_trans_id.as_deref(), reference) {
        (Some(id), Some(reference)) => Ok((id, reference)),
        (id, reference) => {
            let missing: Vec<&str> = [
                ("dsTransID", id.is_none()),
                ("dsReferenceNumber", reference.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, gone)| gone.then_some(name))
            .collect();
            Err(Rejection::element(
                ErrorCode::RequiredElementMissing,
                missing.join(","),
                "the DS adds these before the ACS reads an AReq",
            ))
        }
    }
}

/// Builds the ARes. Fails only when the AReq lacks the DS's IDs (see [`ds_ids`]).
pub fn build(
    areq: &AReq,
    profile: &AcsProfile,
    decision: &Decision,
    outcome: Outcome,
) -> Result<ARes, Rejection> {
    let (ds_trans_id, ds_reference) = ds_ids(areq)?;
    let mut other = Map::new();
    other.insert(
        "acsReferenceNumber".into(),
        profile.reference_number.clone().into(),
    );
    if let Some(operator) = &profile.operator_id {
        other.insert("acsOperatorID".into(), operator.clone().into());
    }
    other.insert("dsReferenceNumber".into(), ds_reference.into());
    if let Some(sdk) = areq.other.0.get("sdkTransID") {
        other.insert("sdkTransID".into(), sdk.clone());
    }
    let (status, reason, acs_url) = match decision {
        Decision::Frictionless { status, reason } => (*status, *reason, None),
        Decision::Challenge {
            mandated, method, ..
        } => {
            other.insert(
                "acsChallengeMandated".into(),
                if *mandated { "Y" } else { "N" }.into(),
            );
            // 01 static, 02 dynamic, 03 out of band: a signature over this purchase, or a code
            // made for it, is dynamic. 2.3.1 replaced the element with `authenticationMethod`
            // (required for C): 13 WebAuthn, 05 OTP other (the code goes out through the
            // issuer's own channel).
            if areq.message_version < MessageVersion::V2_3_1 {
                other.insert("authenticationType".into(), "02".into());
            } else {
                let code = match method {
                    super::risk::ChallengeMethod::Passkey => "13",
                    super::risk::ChallengeMethod::OneTimeCode => "05",
                };
                other.insert(
                    "authenticationMethod".into(),
                    Value::Array(vec![code.into()]),
                );
            }
            (TransStatus::C, None, Some(profile.challenge_url.clone()))
        }
    };
    let authenticated = matches!(status, TransStatus::Y | TransStatus::A);
    Ok(ARes {
        message_type: AResType,
        message_version: areq.message_version,
        three_ds_server_trans_id: areq.three_ds_server_trans_id.clone(),
        ds_trans_id: ds_trans_id.to_owned(),
        acs_trans_id: outcome.acs_trans_id,
        trans_status: Some(status),
        trans_status_reason: reason.map(str::to_owned),
        eci: outcome.eci.filter(|_| authenticated),
        authentication_value: outcome.authentication_value.filter(|_| authenticated),
        acs_url,
        other: Elements(other),
    })
}

/// The ARes C of a passkey challenge, answered as S (2.3.1 SPC, [`super::spc`]): no `acsURL`,
/// `spcTransData` and `webAuthnCredList` instead, `authenticationMethod` 14.
pub fn with_spc(mut ares: ARes, spc_trans_data: Value, web_authn_cred_list: Value) -> ARes {
    ares.trans_status = Some(TransStatus::S);
    ares.acs_url = None;
    let other = &mut ares.other.0;
    other.remove("acsChallengeMandated");
    other.insert(
        "authenticationMethod".into(),
        Value::Array(vec![super::spc::AUTHENTICATION_METHOD_SPC.into()]),
    );
    other.insert("spcTransData".into(), spc_trans_data);
    other.insert("webAuthnCredList".into(), web_authn_cred_list);
    ares
}

/// The ARes of an SPC follow-up (2.3.1): Y or N with `authenticationMethod` 14, and for N the
/// reason in `transStatusReasonInfo` (at most 256 characters, no value from the message).
pub fn spc_result(mut ares: ARes, info: Option<&str>) -> ARes {
    ares.other.0.insert(
        "authenticationMethod".into(),
        Value::Array(vec![super::spc::AUTHENTICATION_METHOD_SPC.into()]),
    );
    if let Some(info) = info {
        ares.other.0.insert(
            "transStatusReasonInfo".into(),
            info.chars().take(256).collect::<String>().into(),
        );
    }
    ares
}
