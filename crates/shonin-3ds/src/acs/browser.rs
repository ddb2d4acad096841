//! The ACS's memory of browsers: which browser a card's holder has proved themselves in. The
//! "new browser" risk rule (`RiskRules::challenge_new_browser`) challenges a browser the card was
//! not authenticated in before; after a challenge (passkey, code or SPC) ends Y, the browser is
//! remembered with the card for `RiskRules::remember_browser_days`.
//!
//! A browser is what the AReq says of it (EMV 3DS browser fields, which the requestor collects
//! from the cardholder's browser): user agent, accept header, language, colour depth, screen,
//! time zone, Java and JavaScript. Not the IP address: a cardholder's address changes with the
//! network. The fields are hashed under the card-fingerprint key with the card's own
//! fingerprint, so the store holds neither the fields nor anything comparable across cards.
//! This recognises a browser the way a device-data rule does; it is not an authentication of
//! the browser (the requestor reports these fields), so it only ever lowers friction where the
//! other rules allow it.

use serde_json::Value;
use shonin_keys::{KeyError, MacKey};
use shonin_types::unit::{Record, Row, Value as Column};
use time::OffsetDateTime;

use crate::message::AReq;

pub const TABLE: &str = "acs_known_browsers";
const COLUMNS: &[&str] = &[
    "card_fingerprint",
    "browser",
    "acs_trans_id",
    "created_at",
    "expires_at",
];

/// The AReq's browser elements that describe the browser, in a fixed order.
const FIELDS: [&str; 9] = [
    "browserUserAgent",
    "browserAcceptHeader",
    "browserLanguage",
    "browserColorDepth",
    "browserScreenHeight",
    "browserScreenWidth",
    "browserTZ",
    "browserJavaEnabled",
    "browserJavascriptEnabled",
];

/// The canonical input of a browser's hash, or `None` when the AReq is not from a browser
/// (`deviceChannel` 02) or names no user agent. Each field is its name, its JSON value and a
/// separator, so moving text between fields changes the input.
pub fn describe(areq: &AReq) -> Option<Vec<u8>> {
    if areq.device_channel != "02" {
        return None;
    }
    let elements = &areq.other.0;
    elements.get("browserUserAgent").and_then(Value::as_str)?;
    let mut out = b"shonin-browser-v1\0".to_vec();
    for name in FIELDS {
        let value = elements.get(name).map(Value::to_string).unwrap_or_default();
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    Some(out)
}

/// The browser's keyed hash for the card `card` (its fingerprint): 64 hex characters, or `None`
/// when the AReq describes no browser.
pub async fn fingerprint(
    key: &dyn MacKey,
    card: &str,
    areq: &AReq,
) -> Result<Option<String>, KeyError> {
    let Some(mut input) = describe(areq) else {
        return Ok(None);
    };
    input.extend_from_slice(card.as_bytes());
    let mac = key.mac(&input).await?;
    Ok(Some(mac.iter().map(|b| format!("{b:02x}")).collect()))
}

/// One remembered authentication of a card in a browser (a row; rows expire and are swept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownBrowser {
    pub card_fingerprint: String,
    pub browser: String,
    /// The transaction whose challenge proved it.
    pub acs_trans_id: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Record for KnownBrowser {
    fn row(&self) -> Row {
        Row {
            table: TABLE,
            columns: COLUMNS,
            values: vec![
                Column::text(self.card_fingerprint.clone()),
                Column::text(self.browser.clone()),
                Column::text(self.acs_trans_id.clone()),
                Column::time(self.created_at),
                Column::time(self.expires_at),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn areq(extra: Value) -> AReq {
        let mut v = serde_json::from_str::<Value>(include_str!(
            "../../tests/vectors/visa/3DSS-220-101/areq.json"
        ))
        .unwrap();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_browser_is_its_described_fields_and_not_its_address() {
        let base = describe(&areq(json!({}))).unwrap();
        assert_eq!(describe(&areq(json!({}))).unwrap(), base);
        assert_eq!(
            describe(&areq(json!({"browserIP": "198.51.100.7"}))).unwrap(),
            base,
            "the IP address is not part of it"
        );
        for (name, value) in [
            ("browserUserAgent", json!("Mozilla/5.0 (other)")),
            ("browserLanguage", json!("ja-JP")),
            ("browserScreenWidth", json!("1")),
            ("browserTZ", json!("-540")),
            ("browserJavaEnabled", json!(true)),
        ] {
            assert_ne!(
                describe(&areq(json!({ name: value }))).unwrap(),
                base,
                "{name}"
            );
        }
        let mut app = areq(json!({}));
        app.device_channel = "01".into();
        assert_eq!(describe(&app), None);
        let mut no_agent = areq(json!({}));
        no_agent.other.0.remove("browserUserAgent");
        assert_eq!(describe(&no_agent), None);
    }
}
