//! The AReq a 3DS Server sends for a merchant's authentication request, per protocol version
//! (2.2.0 and 2.3.1; 2.3.1 turned `threeDSRequestorChallengeInd` into an array and requires
//! `acceptLanguage` and the acquirer's country). The requestor API's body is [`Authenticate`];
//! what it leaves out comes from the 3DS Server's configuration ([`ServerProfile`]).
//!
//! The AReq is built as JSON and then read back through [`crate::check`] with the rules of its
//! own version, so a merchant's value that breaks a rule is refused with the element it broke
//! before anything is sent.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::message::{AReq, Pan};
use crate::{Message, MessageVersion, Rejection, Versions};

/// The 3DS Server's own identity and URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerProfile {
    /// `threeDSServerRefNumber` (EMVCo-assigned; ≤ 32 characters).
    pub reference_number: String,
    /// `threeDSServerOperatorID` (DS-assigned).
    pub operator_id: Option<String>,
    /// `threeDSServerURL`: where the DS sends the RReq.
    pub results_url: String,
    /// `notificationURL`: where the cardholder's browser posts the final CRes.
    pub notification_url: String,
    pub requestor_id: String,
    pub requestor_name: String,
    pub requestor_url: String,
}

/// `POST /3ds/server/authentications`: what the merchant asks to authenticate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authenticate {
    pub card: Card,
    pub purchase: PurchaseInput,
    pub merchant: Merchant,
    pub browser: Browser,
    /// `threeDSRequestorChallengeInd`: 01 no preference (default) … 09.
    #[serde(default)]
    pub challenge_indicator: Option<String>,
    /// `challengeWindowSize` of the CReq: 01–05 (default 05, full screen).
    #[serde(default)]
    pub challenge_window_size: Option<String>,
    /// `threeDSSessionData` the ACS echoes with the final CRes (base64url, ≤ 1024).
    #[serde(default)]
    pub session_data: Option<String>,
    /// The `id` of a 3DS Method started for this card (`POST /3ds/server/methods`): the AReq
    /// goes out under that transaction, with `threeDSCompInd` Y if the method's notification
    /// came, N if not, U if the card's range has no method URL.
    #[serde(default)]
    pub method_id: Option<String>,
}

/// `POST /3ds/server/methods`: the card whose issuer's 3DS Method the checkout runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartMethod {
    pub card: Card,
}

/// The card: its number, or the token of a card the same client stored in Shonin's vault.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// 13–19 digits with a valid Luhn check digit.
    #[serde(default)]
    pub number: Option<String>,
    /// A vault token (`tok_…`) of the requestor's own card; its expiry comes with it.
    #[serde(default)]
    pub vault_token: Option<String>,
    /// `cardExpiryDate`, YYMM.
    #[serde(default)]
    pub expiry: Option<String>,
}

impl Card {
    /// The card number (13–19 digits with a valid check digit) or the vault token: exactly one.
    pub fn source(&self) -> Result<CardSource, Rejection> {
        match (&self.number, &self.vault_token) {
            (Some(number), None) => Pan::parse(number)
                .map(CardSource::Number)
                .map_err(|_| refused("card.number", "13 to 19 digits with a valid check digit")),
            (None, Some(token)) => Ok(CardSource::VaultToken(token.clone())),
            _ => Err(Rejection::element(
                crate::ErrorCode::RequiredElementMissing,
                "card",
                "exactly one of card.number and card.vault_token",
            )),
        }
    }
}

/// Where the card number comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardSource {
    Number(Pan),
    VaultToken(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseInput {
    /// Minor units, digits only.
    pub amount: String,
    /// ISO 4217 numeric.
    pub currency: String,
    /// Minor-unit exponent, 0–9.
    pub exponent: u8,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merchant {
    pub name: String,
    /// Merchant category code, 4 digits.
    pub mcc: String,
    /// ISO 3166-1 numeric.
    pub country: String,
    pub acquirer_bin: String,
    pub acquirer_merchant_id: String,
    /// ISO 3166-1 numeric country of the acquirer (2.3.1 `acquirerCountryCode`); the merchant's
    /// country when absent.
    #[serde(default)]
    pub acquirer_country: Option<String>,
}

/// The cardholder's browser, as the merchant's checkout read it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Browser {
    pub accept_header: String,
    pub user_agent: String,
    /// IETF BCP 47 tag, 1–8 characters (the primary `navigator.language`).
    pub language: String,
    pub javascript_enabled: bool,
    #[serde(default)]
    pub java_enabled: Option<bool>,
    #[serde(default)]
    pub color_depth: Option<u8>,
    #[serde(default)]
    pub screen_height: Option<u32>,
    #[serde(default)]
    pub screen_width: Option<u32>,
    /// Minutes between UTC and the browser's local time (`Date.getTimezoneOffset()`).
    #[serde(default)]
    pub tz: Option<i32>,
    #[serde(default)]
    pub ip: Option<String>,
}

/// `threeDSCompInd`: whether the 3DS Method ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodCompletion {
    /// Y: completed.
    Completed,
    /// N: did not run or did not complete (within 10 s).
    NotCompleted,
    /// U: no 3DS Method URL for the card's range.
    Unavailable,
}

impl MethodCompletion {
    pub fn code(self) -> &'static str {
        match self {
            Self::Completed => "Y",
            Self::NotCompleted => "N",
            Self::Unavailable => "U",
        }
    }
}

/// Refused input: the element and the rule, never the value.
fn refused(element: &str, rule: &str) -> Rejection {
    Rejection::element(crate::ErrorCode::InvalidFormat, element, rule)
}

impl Authenticate {
    /// The card number given in the body; refused for a vault token.
    pub fn pan(&self) -> Result<Pan, Rejection> {
        match self.card.source()? {
            CardSource::Number(pan) => Ok(pan),
            CardSource::VaultToken(_) => Err(refused("card.number", "a number, not a token")),
        }
    }

    /// The CReq's window size (default 05).
    pub fn window_size(&self) -> &str {
        self.challenge_window_size.as_deref().unwrap_or("05")
    }
}

/// The AReq for `input`, in `version`, as sent to the DS (no `dsTransID`), checked against the
/// rules of `version`: the element a merchant's value breaks is the rejection.
pub fn build(
    version: MessageVersion,
    profile: &ServerProfile,
    input: &Authenticate,
    pan: &Pan,
    trans_id: &str,
    completion: MethodCompletion,
    now: OffsetDateTime,
) -> Result<AReq, Rejection> {
    let v231 = version >= MessageVersion::V2_3_1;
    if !matches!(input.window_size(), "01" | "02" | "03" | "04" | "05") {
        return Err(refused("challenge_window_size", "one of 01 to 05"));
    }
    crate::acs::creq::session_data(input.session_data.as_deref())?;
    let date = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .map_err(|_| refused("purchaseDate", "the clock is out of range"))?;
    let b = &input.browser;
    let m = &input.merchant;
    let challenge = input.challenge_indicator.as_deref().unwrap_or("01");
    let mut areq = json!({
        "messageType": "AReq",
        "messageVersion": version.as_str(),
        "messageCategory": "01",
        "deviceChannel": "02",
        "threeDSServerTransID": trans_id,
        "threeDSServerRefNumber": profile.reference_number,
        "threeDSServerURL": profile.results_url,
        "threeDSRequestorID": profile.requestor_id,
        "threeDSRequestorName": profile.requestor_name,
        "threeDSRequestorURL": profile.requestor_url,
        "threeDSRequestorAuthenticationInd": "01",
        "threeDSCompInd": completion.code(),
        "acctNumber": pan.expose(),
        "purchaseAmount": input.purchase.amount,
        "purchaseCurrency": input.purchase.currency,
        "purchaseExponent": input.purchase.exponent.to_string(),
        "purchaseDate": date,
        "merchantName": m.name,
        "mcc": m.mcc,
        "merchantCountryCode": m.country,
        "acquirerBIN": m.acquirer_bin,
        "acquirerMerchantID": m.acquirer_merchant_id,
        "notificationURL": profile.notification_url,
        "browserAcceptHeader": b.accept_header,
        "browserUserAgent": b.user_agent,
        "browserLanguage": b.language,
        "browserJavascriptEnabled": b.javascript_enabled,
        "threeDSRequestorChallengeInd": if v231 { json!([challenge]) } else { json!(challenge) },
    });
    let Some(map) = areq.as_object_mut() else {
        return Err(refused("-", "internal"));
    };
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(v) = value {
            map.insert(name.to_owned(), v);
        }
    };
    put(
        "threeDSServerOperatorID",
        profile.operator_id.clone().map(Value::from),
    );
    put("cardExpiryDate", input.card.expiry.clone().map(Value::from));
    put("browserJavaEnabled", b.java_enabled.map(Value::from));
    put(
        "browserColorDepth",
        b.color_depth.map(|d| d.to_string().into()),
    );
    put(
        "browserScreenHeight",
        b.screen_height.map(|h| h.to_string().into()),
    );
    put(
        "browserScreenWidth",
        b.screen_width.map(|w| w.to_string().into()),
    );
    put("browserTZ", b.tz.map(|t| t.to_string().into()));
    put("browserIP", b.ip.clone().map(Value::from));
    if v231 {
        put("acceptLanguage", Some(json!([b.language])));
        put(
            "acquirerCountryCode",
            Some(
                m.acquirer_country
                    .clone()
                    .unwrap_or_else(|| m.country.clone())
                    .into(),
            ),
        );
        // 01: the acquirer's country as the acquirer itself reported it.
        put("acquirerCountryCodeSource", Some("01".into()));
    }
    let map: Map<String, Value> = std::mem::take(map);
    match crate::check_object(map, Versions::only(&[version])) {
        Ok(Message::AReq(areq)) => Ok(areq),
        Ok(_) => Err(refused("messageType", "internal")),
        Err(r) => Err(r.rejection),
    }
}

/// `threeDSMethodData`: base64url (no padding) of the JSON the ACS's method page posts back to
/// `threeDSMethodNotificationURL` (EMV 3DS browser flow, 3DS Method).
pub fn method_data(trans_id: &str, notification_url: &str) -> String {
    use base64::Engine;
    let json = serde_json::json!({
        "threeDSServerTransID": trans_id,
        "threeDSMethodNotificationURL": notification_url,
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The `threeDSServerTransID` and `threeDSMethodNotificationURL` of a posted
/// `threeDSMethodData` (at most 2 KiB; padding tolerated).
pub fn read_method_data(field: &str) -> Option<(String, String)> {
    use base64::Engine;
    if field.len() > 2048 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(field.trim().trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let id = v.get("threeDSServerTransID")?.as_str()?;
    let url = v.get("threeDSMethodNotificationURL")?.as_str()?;
    uuid_like(id).then(|| (id.to_owned(), url.to_owned()))
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}
