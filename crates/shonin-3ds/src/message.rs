//! The typed messages. Each names the elements Shonin acts on; every other element is kept, in
//! [`Elements`], and written back unchanged, so a message parses and serialises without losing a
//! field. Values are strings exactly as sent (an ID's letter case, a `"05"`), never re-encoded.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{MessageType, MessageVersion};

/// The elements of a message that its type does not name. `Debug` prints their names only: an
/// AReq carries the cardholder's name, address, e-mail and IP address (PCI 3DS sensitive data).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Elements(pub Map<String, Value>);

impl fmt::Debug for Elements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

pub use shonin_types::Pan;

impl Serialize for MessageVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MessageVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|()| serde::de::Error::custom("unsupported messageVersion"))
    }
}

/// `transStatus`: the outcome of an authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransStatus {
    /// Authenticated.
    Y,
    /// Not authenticated, denied.
    N,
    /// Could not be performed (technical problem).
    U,
    /// Attempts processing performed.
    A,
    /// Challenge required.
    C,
    /// Challenge required, decoupled (2.2+).
    D,
    /// Rejected: do not authorise.
    R,
    /// Informational only (2.2+).
    I,
    /// Challenge with Secure Payment Confirmation (2.3.1).
    S,
}

macro_rules! message_type_tag {
    ($tag:ident, $name:literal) => {
        #[doc = concat!("The `messageType` value `", $name, "`: only that value deserialises.")]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $tag;

        impl Serialize for $tag {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($name)
            }
        }

        impl<'de> Deserialize<'de> for $tag {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if s == $name {
                    Ok($tag)
                } else {
                    Err(serde::de::Error::custom(concat!(
                        "messageType is not ",
                        $name
                    )))
                }
            }
        }
    };
}

message_type_tag!(AReqType, "AReq");
message_type_tag!(AResType, "ARes");
message_type_tag!(CReqType, "CReq");
message_type_tag!(CResType, "CRes");
message_type_tag!(RReqType, "RReq");
message_type_tag!(RResType, "RRes");
message_type_tag!(PReqType, "PReq");
message_type_tag!(PResType, "PRes");
message_type_tag!(ErroType, "Erro");

/// Authentication request: 3DS Server → DS → ACS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AReq {
    #[serde(rename = "messageType")]
    pub message_type: AReqType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    /// Assigned by the DS; absent on the link from the 3DS Server.
    #[serde(rename = "dsTransID", default, skip_serializing_if = "Option::is_none")]
    pub ds_trans_id: Option<String>,
    /// `01` app, `02` browser, `03` 3DS Requestor initiated.
    #[serde(rename = "deviceChannel")]
    pub device_channel: String,
    /// `01` payment, `02` non-payment.
    #[serde(rename = "messageCategory")]
    pub message_category: String,
    #[serde(rename = "acctNumber")]
    pub acct_number: Pan,
    /// Minor units, no decimal point (payment messages).
    #[serde(
        rename = "purchaseAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub purchase_amount: Option<String>,
    /// ISO 4217 numeric.
    #[serde(
        rename = "purchaseCurrency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub purchase_currency: Option<String>,
    #[serde(
        rename = "purchaseExponent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub purchase_exponent: Option<String>,
    #[serde(
        rename = "merchantName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub merchant_name: Option<String>,
    /// Where the final CRes is posted (browser).
    #[serde(
        rename = "notificationURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_url: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Authentication response: ACS → DS → 3DS Server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ARes {
    #[serde(rename = "messageType")]
    pub message_type: AResType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(
        rename = "transStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status: Option<TransStatus>,
    #[serde(
        rename = "transStatusReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status_reason: Option<String>,
    #[serde(rename = "eci", default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(
        rename = "authenticationValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub authentication_value: Option<String>,
    #[serde(rename = "acsURL", default, skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Challenge request: the cardholder's browser (form post of `creq`) or the SDK → ACS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CReq {
    #[serde(rename = "messageType")]
    pub message_type: CReqType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(
        rename = "challengeWindowSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_window_size: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Challenge response: ACS → browser (the final CRes, to `notificationURL`) or SDK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CRes {
    #[serde(rename = "messageType")]
    pub message_type: CResType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(
        rename = "challengeCompletionInd",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_completion_ind: Option<String>,
    #[serde(
        rename = "transStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status: Option<TransStatus>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Results request: ACS → DS → 3DS Server, the challenge's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RReq {
    #[serde(rename = "messageType")]
    pub message_type: RReqType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "messageCategory")]
    pub message_category: String,
    #[serde(
        rename = "transStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status: Option<TransStatus>,
    #[serde(
        rename = "transStatusReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trans_status_reason: Option<String>,
    #[serde(rename = "eci", default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(
        rename = "authenticationValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub authentication_value: Option<String>,
    #[serde(
        rename = "challengeCancel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_cancel: Option<String>,
    #[serde(
        rename = "interactionCounter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interaction_counter: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Results response: 3DS Server → DS → ACS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RRes {
    #[serde(rename = "messageType")]
    pub message_type: RResType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    /// `01` received for further processing.
    #[serde(rename = "resultsStatus")]
    pub results_status: String,
    #[serde(flatten)]
    pub other: Elements,
}

/// Preparation request: 3DS Server → DS, for the card-range cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PReq {
    #[serde(rename = "messageType")]
    pub message_type: PReqType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "serialNum", default, skip_serializing_if = "Option::is_none")]
    pub serial_num: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Preparation response: DS → 3DS Server, the card ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PRes {
    #[serde(rename = "messageType")]
    pub message_type: PResType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    /// Absent: this PRes replaces every card range the 3DS Server holds.
    #[serde(rename = "serialNum", default, skip_serializing_if = "Option::is_none")]
    pub serial_num: Option<String>,
    #[serde(
        rename = "cardRangeData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub card_range_data: Option<Vec<CardRange>>,
    #[serde(flatten)]
    pub other: Elements,
}

/// One entry of `PRes.cardRangeData`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardRange {
    #[serde(rename = "startRange")]
    pub start_range: String,
    #[serde(rename = "endRange")]
    pub end_range: String,
    /// `A` add, `D` delete, `M` modify; absent means add.
    #[serde(rename = "actionInd", default, skip_serializing_if = "Option::is_none")]
    pub action_ind: Option<String>,
    #[serde(
        rename = "threeDSMethodURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub three_ds_method_url: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Error message, from any component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Erro {
    #[serde(rename = "messageType")]
    pub message_type: ErroType,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    #[serde(rename = "errorComponent")]
    pub error_component: String,
    #[serde(rename = "errorDescription")]
    pub error_description: String,
    #[serde(rename = "errorDetail")]
    pub error_detail: String,
    /// The `messageType` of the message in error, when it was identified.
    #[serde(
        rename = "errorMessageType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_message_type: Option<String>,
    #[serde(
        rename = "threeDSServerTransID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub three_ds_server_trans_id: Option<String>,
    #[serde(rename = "dsTransID", default, skip_serializing_if = "Option::is_none")]
    pub ds_trans_id: Option<String>,
    #[serde(
        rename = "acsTransID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub acs_trans_id: Option<String>,
    #[serde(
        rename = "sdkTransID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdk_trans_id: Option<String>,
    #[serde(flatten)]
    pub other: Elements,
}

/// Any message, as read by [`crate::check`].
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    AReq(AReq),
    ARes(ARes),
    CReq(CReq),
    CRes(CRes),
    RReq(RReq),
    RRes(RRes),
    PReq(PReq),
    PRes(PRes),
    Erro(Erro),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::AReq(_) => MessageType::AReq,
            Self::ARes(_) => MessageType::ARes,
            Self::CReq(_) => MessageType::CReq,
            Self::CRes(_) => MessageType::CRes,
            Self::RReq(_) => MessageType::RReq,
            Self::RRes(_) => MessageType::RRes,
            Self::PReq(_) => MessageType::PReq,
            Self::PRes(_) => MessageType::PRes,
            Self::Erro(_) => MessageType::Erro,
        }
    }

    pub fn message_version(&self) -> MessageVersion {
        match self {
            Self::AReq(m) => m.message_version,
            Self::ARes(m) => m.message_version,
            Self::CReq(m) => m.message_version,
            Self::CRes(m) => m.message_version,
            Self::RReq(m) => m.message_version,
            Self::RRes(m) => m.message_version,
            Self::PReq(m) => m.message_version,
            Self::PRes(m) => m.message_version,
            Self::Erro(m) => m.message_version,
        }
    }

    /// The message as JSON, every element it was read with included.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Self::AReq(m) => serde_json::to_value(m),
            Self::ARes(m) => serde_json::to_value(m),
            Self::CReq(m) => serde_json::to_value(m),
            Self::CRes(m) => serde_json::to_value(m),
            Self::RReq(m) => serde_json::to_value(m),
            Self::RRes(m) => serde_json::to_value(m),
            Self::PReq(m) => serde_json::to_value(m),
            Self::PRes(m) => serde_json::to_value(m),
            Self::Erro(m) => serde_json::to_value(m),
        };
        // Serialising strings, maps and unit tags into a `Value` cannot fail.
        value.unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pan_never_prints_in_full() {
        let pan = Pan::new("4111111111111111");
        assert_eq!(format!("{pan:?}"), "Pan(411111******1111)");
        assert_eq!(pan.to_string(), "411111******1111");
        assert_eq!(Pan::new("12345").masked(), "*****");
        assert_eq!(serde_json::to_string(&pan).unwrap(), "\"4111111111111111\"");
    }

    #[test]
    fn a_typed_card_number_is_checked_with_luhn() {
        assert_eq!(
            Pan::parse("4111 1111 1111 1111").unwrap().expose(),
            "4111111111111111"
        );
        assert!(Pan::parse("4111111111111112").is_err());
        assert!(Pan::parse("411111111111").is_err(), "too short");
        assert!(Pan::parse("4111-1111-1111-1111").is_err());
        assert!(
            Pan::parse("79927398713").is_err(),
            "Luhn-valid but 11 digits"
        );
        assert!(Pan::parse("5555555555554444").is_ok());
    }

    #[test]
    fn other_elements_print_their_names_only() {
        let mut map = Map::new();
        map.insert("email".into(), Value::String("alice@example.com".into()));
        let printed = format!("{:?}", Elements(map));
        assert_eq!(printed, "{\"email\"}");
    }
}
