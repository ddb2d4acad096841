//! Reading and checking one message: the order of the checks decides which Erro answers.
//!
//! 1. JSON, size, depth, duplicates (101, 204) — [`crate::json`];
//! 2. `messageType` recognised (101), `messageVersion` present (201) and accepted (102);
//! 3. every required element present (201, all missing ones named);
//! 4. every listed element of the right type and format, and not empty (203, all named);
//! 5. no critical message extension (202): Shonin recognises none.
//!
//! Elements the table does not list pass through (Annex A: do not reject on a validation that is
//! not specified).

use serde_json::{Map, Value};

use crate::json::parse_object;
use crate::message::*;
use crate::rules::{Context, rules};
use crate::{ErrorCode, MessageType, MessageVersion, Rejection, Versions};

/// What is known of a message even when it is refused: enough to address the Erro.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identified {
    pub message_type: Option<MessageType>,
    /// The version to answer in: the message's own when Shonin supports it.
    pub message_version: Option<MessageVersion>,
    pub three_ds_server_trans_id: Option<String>,
    pub ds_trans_id: Option<String>,
    pub acs_trans_id: Option<String>,
    pub sdk_trans_id: Option<String>,
}

/// A refused message: the [`Rejection`] and what could be read of the message to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub rejection: Rejection,
    pub identified: Identified,
}

impl Refused {
    /// The Erro that answers this message, from `component`. When the version was not
    /// identified (or is the one refused), the answer uses the highest version `accepted`.
    pub fn erro(&self, component: crate::ErrorComponent, accepted: Versions) -> Erro {
        let id = &self.identified;
        let version = id
            .message_version
            .filter(|v| accepted.accepts(*v))
            .or_else(|| {
                MessageVersion::ALL
                    .into_iter()
                    .rev()
                    .find(|v| accepted.accepts(*v))
            })
            .unwrap_or(MessageVersion::V2_2_0);
        Erro {
            message_type: ErroType,
            message_version: version,
            error_code: self.rejection.code.code().to_owned(),
            error_component: component.code().to_owned(),
            error_description: self.rejection.code.description().to_owned(),
            error_detail: self.rejection.error_detail(),
            error_message_type: id.message_type.map(|t| t.as_str().to_owned()),
            three_ds_server_trans_id: id.three_ds_server_trans_id.clone(),
            ds_trans_id: id.ds_trans_id.clone(),
            acs_trans_id: id.acs_trans_id.clone(),
            sdk_trans_id: id.sdk_trans_id.clone(),
            other: Elements::default(),
        }
    }
}

/// Reads and checks one message in a version of `accepted`.
pub fn check(bytes: &[u8], accepted: Versions) -> Result<Message, Box<Refused>> {
    let map = parse_object(bytes).map_err(|rejection| {
        Box::new(Refused {
            rejection,
            identified: Identified::default(),
        })
    })?;
    check_object(map, accepted)
}

/// Checks a message already parsed into its top-level object (for example a CReq decoded from
/// its base64url form field).
pub fn check_object(map: Map<String, Value>, accepted: Versions) -> Result<Message, Box<Refused>> {
    let mut identified = identify(&map);
    let refuse = |identified: &Identified, rejection| {
        Err(Box::new(Refused {
            rejection,
            identified: identified.clone(),
        }))
    };

    let Some(message_type) = identified.message_type else {
        let rejection = Rejection::element(
            ErrorCode::MessageReceivedInvalid,
            "messageType",
            if map.contains_key("messageType") {
                "not a message type of EMV 3-D Secure"
            } else {
                "missing"
            },
        );
        return refuse(&identified, rejection);
    };
    let version = match map.get("messageVersion") {
        None => {
            return refuse(
                &identified,
                Rejection::element(
                    ErrorCode::RequiredElementMissing,
                    "messageVersion",
                    "missing",
                ),
            );
        }
        Some(Value::String(v)) => v
            .parse::<MessageVersion>()
            .ok()
            .filter(|v| accepted.accepts(*v)),
        Some(_) => None,
    };
    let Some(version) = version else {
        identified.message_version = None;
        return refuse(
            &identified,
            Rejection::element(
                ErrorCode::MessageVersionNotSupported,
                "messageVersion",
                "this version is not supported",
            ),
        );
    };

    let ctx = Context {
        device_channel: map.get("deviceChannel").and_then(Value::as_str),
        message_category: map.get("messageCategory").and_then(Value::as_str),
    };
    let table = match rules(message_type, version) {
        Ok(table) => table,
        Err(rejection) => return refuse(&identified, rejection),
    };

    let mut missing: Vec<String> = Vec::new();
    for rule in table.iter().filter(|r| r.inclusion.required(ctx)) {
        each_object(&map, rule, |at, object| {
            if !object.contains_key(&rule.name) {
                missing.push(name(at, &rule.name));
            }
        });
    }
    if !missing.is_empty() {
        return refuse(
            &identified,
            Rejection::element(
                ErrorCode::RequiredElementMissing,
                missing.join(","),
                "required and missing",
            ),
        );
    }

    let mut invalid: Vec<(String, String)> = Vec::new();
    for rule in table {
        each_object(&map, rule, |at, object| {
            let Some(value) = object.get(&rule.name) else {
                return;
            };
            // Annex A: an element sent with a null or empty value is invalid (203). Empty objects
            // pass: the schemes' compliance messages send `{}` for unused ones.
            let empty = matches!(value, Value::Null) || value.as_str().is_some_and(str::is_empty);
            let fault = if empty {
                Some("is empty".to_owned())
            } else if !rule.json.matches(value) {
                Some(format!("must be {}", rule.json.name()))
            } else {
                rule.checks.iter().find_map(|c| c.fault(value))
            };
            if let Some(fault) = fault {
                invalid.push((name(at, &rule.name), fault));
            }
        });
    }
    if let Some((_, first)) = invalid.first() {
        let names: Vec<&str> = invalid.iter().map(|(n, _)| n.as_str()).collect();
        let detail = if invalid.len() == 1 {
            first.clone()
        } else {
            format!("{} elements are invalid; the first {first}", invalid.len())
        };
        return refuse(
            &identified,
            Rejection::element(ErrorCode::InvalidFormat, names.join(","), detail),
        );
    }

    // Shonin recognises no message extension, so any marked critical is refused (Annex A 202);
    // non-critical ones pass through.
    if let Some(Value::Array(extensions)) = map.get("messageExtension")
        && let Some(i) = extensions
            .iter()
            .position(|e| e.get("criticalityIndicator") == Some(&Value::Bool(true)))
    {
        return refuse(
            &identified,
            Rejection::element(
                ErrorCode::CriticalExtensionNotRecognised,
                format!("messageExtension[{i}]"),
                "a critical message extension that is not recognised",
            ),
        );
    }

    identified.message_version = Some(version);
    typed(message_type, map).map_err(|e| {
        Box::new(Refused {
            // The table's checks are meant to make this unreachable; a gap answers 203, not a panic.
            rejection: Rejection::new(
                ErrorCode::InvalidFormat,
                format!("an element does not have the form its type needs: {e}"),
            ),
            identified,
        })
    })
}

/// Calls `f` with each object a rule applies to: the message itself for a top-level element,
/// else each object entry of the parent array with its parent's name and index.
fn each_object<'a>(
    map: &'a Map<String, Value>,
    rule: &'a crate::rules::Rule,
    mut f: impl FnMut(Option<(&'a str, usize)>, &'a Map<String, Value>),
) {
    match &rule.parent {
        None => f(None, map),
        Some(parent) => {
            if let Some(Value::Array(items)) = map.get(parent) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(object) = item.as_object() {
                        f(Some((parent, i)), object);
                    }
                }
            }
        }
    }
}

/// An element's name as `errorDetail` gives it: `eci`, or `messageExtension[1].id`.
fn name(at: Option<(&str, usize)>, element: &str) -> String {
    match at {
        None => element.to_owned(),
        Some((parent, i)) => format!("{parent}[{i}].{element}"),
    }
}

fn identify(map: &Map<String, Value>) -> Identified {
    let text = |name: &str| {
        map.get(name)
            .and_then(Value::as_str)
            .filter(|s| crate::rules::is_uuid(s))
            .map(str::to_owned)
    };
    Identified {
        message_type: map
            .get("messageType")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok()),
        message_version: map
            .get("messageVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.parse().ok()),
        three_ds_server_trans_id: text("threeDSServerTransID"),
        ds_trans_id: text("dsTransID"),
        acs_trans_id: text("acsTransID"),
        sdk_trans_id: text("sdkTransID"),
    }
}

fn typed(message_type: MessageType, map: Map<String, Value>) -> Result<Message, serde_json::Error> {
    let value = Value::Object(map);
    Ok(match message_type {
        MessageType::AReq => Message::AReq(serde_json::from_value(value)?),
        MessageType::ARes => Message::ARes(serde_json::from_value(value)?),
        MessageType::CReq => Message::CReq(serde_json::from_value(value)?),
        MessageType::CRes => Message::CRes(serde_json::from_value(value)?),
        MessageType::RReq => Message::RReq(serde_json::from_value(value)?),
        MessageType::RRes => Message::RRes(serde_json::from_value(value)?),
        MessageType::PReq => Message::PReq(serde_json::from_value(value)?),
        MessageType::PRes => Message::PRes(serde_json::from_value(value)?),
        MessageType::Erro => Message::Erro(serde_json::from_value(value)?),
    })
}
