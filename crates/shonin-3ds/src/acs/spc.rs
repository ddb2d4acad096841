//! EMV 3DS 2.3.1 Secure Payment Confirmation at the ACS (`../shared/specs/emv-3ds.md` §1.9).
//!
//! 1. An AReq of 2.3.1 from a browser with `threeDSRequestorSpcSupport` = Y and a `payeeOrigin`,
//!    for a cardholder this ACS would challenge with a passkey, answers `transStatus` S with
//!    `spcTransData` (challenge, instrument, payee origin, amount, timeout) and
//!    `webAuthnCredList` (the cardholder's credential IDs and the RP ID) instead of C.
//! 2. The requestor runs `PaymentRequest` with them; the browser shows the amount and the payee
//!    in its own dialog and the passkey signs them in `clientDataJSON.payment`.
//! 3. A follow-up AReq carries the assertion in `threeDSRequestorAuthenticationInfo`
//!    (`threeDSReqAuthMethod` 09 "SPC authentication", `threeDSReqAuthData`) and names the
//!    transaction that issued the challenge in `threeDSRequestorPriorAuthenticationInfo`
//!    (`threeDSReqPriorRef` = its `acsTransID`). The ACS answers Y (with ECI and authentication
//!    value) or N from the assertion checked against the *stored* purchase, once per challenge.
//!
//! The challenge is the purchase challenge of [`super::linking`] (merchant, amount, currency,
//! the transaction, a fresh nonce, the deadline). A passkey assertion of the CReq page and an
//! SPC assertion sign different nonces and name different `clientDataJSON.type`s, so neither
//! stands in for the other. A requestor whose SPC failed sends `spcIncompInd` and gets the
//! ordinary challenge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::store::Purchase;
use crate::message::AReq;
use crate::{ErrorCode, MessageVersion, Rejection};

/// `threeDSReqAuthMethod` 09: SPC authentication (2.3.1).
pub const AUTH_METHOD_SPC: &str = "09";
/// `authenticationMethod` 14: SPC (2.3.1, the ARes of the follow-up).
pub const AUTHENTICATION_METHOD_SPC: &str = "14";
/// The longest `threeDSReqAuthData` (EMV 3DS 2.3.1, Table A.1: 20,000 characters).
pub const MAX_AUTH_DATA_LEN: usize = 20_000;
/// Credential IDs listed in `webAuthnCredList` at most (2.3.1: 1–10 entries).
pub const MAX_CREDENTIALS: usize = 10;
/// How long the browser's dialog waits (`spcTransData.timeout`, milliseconds).
pub const DIALOG_TIMEOUT_MS: u64 = 120_000;
/// How long after the ARes S the follow-up AReq may come.
pub const FOLLOW_UP_SECS: i64 = 300;

/// The instrument the browser's dialog shows: the issuer's card name and icon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub display_name: String,
    /// An https URL or a `data:` URL.
    pub icon: String,
}

/// What a transaction answered with S keeps for its follow-up (in its `data`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpcChallenge {
    /// The challenge's nonce (base64url, 32 random bytes).
    pub nonce: String,
    /// Unix seconds; a follow-up after it is refused.
    pub expires_at: i64,
    /// The AReq's `payeeOrigin`, which the browser's dialog names and the assertion must sign.
    pub payee_origin: String,
}

/// The `payeeOrigin` of an AReq that offers SPC, or `None`: 2.3.1, browser channel,
/// `threeDSRequestorSpcSupport` = Y, no `spcIncompInd` (SPC already failed once: challenge the
/// ordinary way), a payment with its amount.
pub fn offered(areq: &AReq) -> Option<&str> {
    let text = |name: &str| areq.other.0.get(name).and_then(Value::as_str);
    (areq.message_version >= MessageVersion::V2_3_1
        && areq.device_channel == "02"
        && text("threeDSRequestorSpcSupport") == Some("Y")
        && !areq.other.0.contains_key("spcIncompInd")
        && areq.purchase_amount.is_some())
    .then(|| text("payeeOrigin"))
    .flatten()
}

/// The amount in major units with the purchase's exponent, as `PaymentCurrencyAmount.value`
/// wants it: `"12000"`, `"123.50"`, `"0.05"`. `None` for a malformed amount or exponent.
pub fn major_units(purchase: &Purchase) -> Option<String> {
    let exponent: usize = purchase.exponent.parse().ok().filter(|e| *e <= 9)?;
    if purchase.amount.is_empty() || !purchase.amount.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = purchase.amount.trim_start_matches('0');
    let digits = format!("{digits:0>width$}", width = exponent + 1);
    let (units, minor) = digits.split_at(digits.len() - exponent);
    Some(if minor.is_empty() {
        units.to_owned()
    } else {
        format!("{units}.{minor}")
    })
}

/// What the ARes S carries.
#[derive(Debug)]
pub struct Offer<'a> {
    /// The purchase challenge (base64url of [`super::linking::PurchaseChallenge::challenge`]).
    pub challenge: &'a str,
    pub purchase: &'a Purchase,
    pub payee_origin: &'a str,
    pub instrument: &'a Instrument,
    /// The cardholder's credential IDs (base64url); at most [`MAX_CREDENTIALS`] are listed.
    pub credential_ids: &'a [String],
    pub rp_id: &'a str,
}

impl Offer<'_> {
    /// `spcTransData` and `webAuthnCredList`. 2.3.1 sends the currency as its ISO 4217 numeric
    /// code (2.3.1.1 changed it to alphabetic); the requestor passes the alphabetic code to
    /// `PaymentRequest`, and the ACS checks the signed one against the numeric it stored.
    pub fn elements(&self) -> Option<(Value, Value)> {
        let data = json!({
            "challenge": self.challenge,
            "displayName": self.instrument.display_name,
            "icon": self.instrument.icon,
            "payeeOrigin": self.payee_origin,
            "value": major_units(self.purchase)?,
            "currency": self.purchase.currency,
            "timeout": DIALOG_TIMEOUT_MS,
        });
        let list: Vec<Value> = self
            .credential_ids
            .iter()
            .take(MAX_CREDENTIALS)
            .map(|id| json!({"credentialIds": id, "rpID": self.rp_id}))
            .collect();
        (!list.is_empty()).then_some((data, Value::Array(list)))
    }
}

/// A follow-up AReq's SPC result: the prior transaction and the credential the browser returned.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowUp {
    /// `threeDSReqPriorRef`: the `acsTransID` of the transaction answered with S.
    pub prior_ref: String,
    /// The `PublicKeyCredential` as JSON, with `id` set from `rawId` when only that was sent
    /// (the shape EMV 3DS SDKs serialise).
    pub credential: Value,
}

fn entries<'a>(areq: &'a AReq, name: &str) -> Vec<&'a Map<String, Value>> {
    match areq.other.0.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(one)) => vec![one],
        _ => Vec::new(),
    }
}

/// The SPC result an AReq carries, if any: `Ok(None)` when no `threeDSRequestorAuthenticationInfo`
/// entry names method 09. Erro 201 when the assertion or the prior reference is missing, 203 when
/// either is malformed, each naming the element.
pub fn follow_up(areq: &AReq) -> Result<Option<FollowUp>, Rejection> {
    const INFO: &str = "threeDSRequestorAuthenticationInfo";
    const PRIOR: &str = "threeDSRequestorPriorAuthenticationInfo";
    let Some(info) = entries(areq, INFO)
        .into_iter()
        .find(|e| e.get("threeDSReqAuthMethod").and_then(Value::as_str) == Some(AUTH_METHOD_SPC))
    else {
        return Ok(None);
    };
    let data_element = "threeDSRequestorAuthenticationInfo.threeDSReqAuthData";
    let data = info
        .get("threeDSReqAuthData")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Rejection::element(
                ErrorCode::RequiredElementMissing,
                data_element,
                "SPC authentication (09) carries the assertion",
            )
        })?;
    let malformed = |why: &str| Rejection::element(ErrorCode::InvalidFormat, data_element, why);
    if data.len() > MAX_AUTH_DATA_LEN {
        return Err(malformed("longer than 20000 characters"));
    }
    let mut credential: Value = serde_json::from_str(data)
        .map_err(|_| malformed("not the JSON of a PublicKeyCredential"))?;
    let object = credential
        .as_object_mut()
        .ok_or_else(|| malformed("not the JSON of a PublicKeyCredential"))?;
    if !object.contains_key("id")
        && let Some(raw) = object.get("rawId").cloned()
    {
        object.insert("id".into(), raw);
    }
    let prior_element = "threeDSRequestorPriorAuthenticationInfo.threeDSReqPriorRef";
    let prior_ref = entries(areq, PRIOR)
        .into_iter()
        .find_map(|e| e.get("threeDSReqPriorRef"))
        .ok_or_else(|| {
            Rejection::element(
                ErrorCode::RequiredElementMissing,
                prior_element,
                "SPC authentication names the transaction that issued the challenge",
            )
        })?;
    let prior_ref = prior_ref
        .as_str()
        .filter(|r| uuid::Uuid::parse_str(r).is_ok() && r.len() == 36)
        .ok_or_else(|| {
            Rejection::element(
                ErrorCode::InvalidFormat,
                prior_element,
                "the acsTransID of that transaction",
            )
        })?;
    Ok(Some(FollowUp {
        prior_ref: prior_ref.to_owned(),
        credential,
    }))
}

/// Why a follow-up cannot authenticate, before its assertion is read: past the challenge's
/// deadline (`transStatusReason` 14), or for another purchase than the one the S offered (01).
/// `Err` is (reason, what the ARes's `transStatusReasonInfo` says).
pub fn precheck(
    stored: &SpcChallenge,
    offered: Option<&Purchase>,
    purchase: Option<&Purchase>,
    now_unix: i64,
) -> Result<(), (&'static str, &'static str)> {
    if now_unix > stored.expires_at {
        return Err((super::risk::reason::TIMED_OUT, "the SPC challenge expired"));
    }
    if purchase.is_none() || purchase != offered {
        return Err((
            super::risk::reason::CARD_AUTHENTICATION_FAILED,
            "the purchase is not the one the SPC challenge showed",
        ));
    }
    Ok(())
}

/// Checks the `payment` member of an SPC `clientDataJSON` against what the ARes S offered: the
/// RP ID, the payee origin, the amount in the purchase's currency, the instrument. `alpha` is the
/// purchase currency's ISO 4217 alphabetic code (what `PaymentRequest` accepts). `origin` and
/// `payment.topOrigin` must be https origins (any merchant's checkout). `Err` is the audit reason.
pub fn check_payment(
    client_data: &Value,
    stored: &SpcChallenge,
    purchase: &Purchase,
    alpha: &str,
    instrument: &Instrument,
    rp_id: &str,
) -> Result<(), String> {
    let payment = client_data
        .get("payment")
        .and_then(Value::as_object)
        .ok_or("spc: no payment member")?;
    let text = |name: &str| payment.get(name).and_then(Value::as_str);
    if text("rpId") != Some(rp_id) {
        return Err("spc: payment.rpId".into());
    }
    if text("payeeOrigin") != Some(stored.payee_origin.as_str()) {
        return Err("spc: payment.payeeOrigin is not the AReq's payeeOrigin".into());
    }
    if !text("topOrigin").is_some_and(is_https_origin) {
        return Err("spc: payment.topOrigin is not an https origin".into());
    }
    let total = payment.get("total");
    fn field<'v>(v: Option<&'v Value>, name: &str) -> Option<&'v str> {
        v.and_then(|t| t.get(name)).and_then(Value::as_str)
    }
    if field(total, "currency") != Some(alpha)
        || field(total, "value").map(str::to_owned) != major_units(purchase)
    {
        return Err("spc: payment.total is not the purchase's amount".into());
    }
    let shown = payment.get("instrument");
    if field(shown, "displayName") != Some(instrument.display_name.as_str())
        || field(shown, "icon") != Some(instrument.icon.as_str())
    {
        return Err("spc: payment.instrument".into());
    }
    Ok(())
}

/// Whether `s` is a serialized https origin: `https://host[:port]`, nothing else.
pub fn is_https_origin(s: &str) -> bool {
    s.len() <= 2048
        && url::Url::parse(s)
            .is_ok_and(|u| u.scheme() == "https" && u.origin().ascii_serialization() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(amount: &str, currency: &str, exponent: &str) -> Purchase {
        Purchase {
            merchant_name: "Tokyo Books".into(),
            amount: amount.into(),
            currency: currency.into(),
            exponent: exponent.into(),
        }
    }

    fn areq(extra: Value) -> AReq {
        // The Visa 2.2.0 browser payment sample, as a 2.3.1 message.
        let mut v = serde_json::from_str::<Value>(include_str!(
            "../../tests/vectors/visa/3DSS-220-101/areq.json"
        ))
        .unwrap();
        v["messageVersion"] = json!("2.3.1");
        for key in [
            "threeDSRequestorAuthenticationInfo",
            "threeDSRequestorPriorAuthenticationInfo",
        ] {
            v.as_object_mut().unwrap().remove(key);
        }
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn amounts_in_major_units() {
        for ((a, c, e), want) in [
            (("12000", "392", "0"), Some("12000")),
            (("12350", "978", "2"), Some("123.50")),
            (("5", "840", "2"), Some("0.05")),
            (("000100", "840", "2"), Some("1.00")),
            (("", "840", "2"), None),
            (("1.5", "840", "2"), None),
            (("100", "840", "x"), None),
        ] {
            assert_eq!(major_units(&purchase(a, c, e)).as_deref(), want, "{a} {e}");
        }
    }

    #[test]
    fn spc_is_offered_only_when_asked_for_in_a_231_browser_payment() {
        let yes = json!({"threeDSRequestorSpcSupport": "Y", "payeeOrigin": "https://shop.example"});
        assert_eq!(offered(&areq(yes.clone())), Some("https://shop.example"));
        let mut failed = yes.clone();
        failed["spcIncompInd"] = json!("02");
        assert_eq!(offered(&areq(failed)), None);
        let mut no_origin = yes.clone();
        no_origin.as_object_mut().unwrap().remove("payeeOrigin");
        assert_eq!(offered(&areq(no_origin)), None);
        let mut app = areq(yes.clone());
        app.device_channel = "01".into();
        assert_eq!(offered(&app), None);
        let mut old = areq(yes);
        old.message_version = MessageVersion::V2_2_0;
        assert_eq!(offered(&old), None);
        assert_eq!(offered(&areq(json!({}))), None);
    }

    fn credential() -> String {
        json!({"rawId": "AQID", "type": "public-key", "response": {}}).to_string()
    }

    #[test]
    fn a_follow_up_names_its_assertion_and_the_prior_transaction() {
        let prior = "8a880dc0-d2d2-4067-bcb1-b08d1690b26e";
        let found = follow_up(&areq(json!({
            "threeDSRequestorAuthenticationInfo": [
                {"threeDSReqAuthMethod": "02"},
                {"threeDSReqAuthMethod": "09", "threeDSReqAuthData": credential()}
            ],
            "threeDSRequestorPriorAuthenticationInfo": [{"threeDSReqPriorRef": prior, "threeDSReqPriorAuthMethod": "05"}]
        })))
        .unwrap()
        .unwrap();
        assert_eq!(found.prior_ref, prior);
        // The SDK's shape has rawId only; id is set from it.
        assert_eq!(found.credential["id"], "AQID");
        assert_eq!(
            follow_up(&areq(
                json!({"threeDSRequestorAuthenticationInfo": [{"threeDSReqAuthMethod": "02"}]})
            ))
            .unwrap(),
            None
        );
    }

    #[test]
    fn a_broken_follow_up_is_refused_naming_the_element() {
        let prior = json!([{"threeDSReqPriorRef": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}]);
        let cases = [
            (
                json!({"threeDSRequestorAuthenticationInfo": [{"threeDSReqAuthMethod": "09"}], "threeDSRequestorPriorAuthenticationInfo": prior}),
                ErrorCode::RequiredElementMissing,
                "threeDSReqAuthData",
            ),
            (
                json!({"threeDSRequestorAuthenticationInfo": [{"threeDSReqAuthMethod": "09", "threeDSReqAuthData": "not json"}], "threeDSRequestorPriorAuthenticationInfo": prior}),
                ErrorCode::InvalidFormat,
                "threeDSReqAuthData",
            ),
            (
                json!({"threeDSRequestorAuthenticationInfo": [{"threeDSReqAuthMethod": "09", "threeDSReqAuthData": credential()}]}),
                ErrorCode::RequiredElementMissing,
                "threeDSReqPriorRef",
            ),
            (
                json!({"threeDSRequestorAuthenticationInfo": [{"threeDSReqAuthMethod": "09", "threeDSReqAuthData": credential()}], "threeDSRequestorPriorAuthenticationInfo": [{"threeDSReqPriorRef": "not-a-uuid"}]}),
                ErrorCode::InvalidFormat,
                "threeDSReqPriorRef",
            ),
        ];
        for (extra, code, element) in cases {
            let refused = follow_up(&areq(extra.clone())).unwrap_err();
            assert_eq!(refused.code, code, "{extra}");
            assert!(
                refused
                    .element
                    .as_deref()
                    .is_some_and(|e| e.ends_with(element)),
                "{extra}: {:?}",
                refused.element
            );
        }
    }

    #[test]
    fn a_follow_up_is_for_the_offered_purchase_before_the_deadline() {
        let stored = SpcChallenge {
            nonce: "n".into(),
            expires_at: 1_000,
            payee_origin: "https://shop.example".into(),
        };
        let p = purchase("12350", "978", "2");
        assert_eq!(precheck(&stored, Some(&p), Some(&p), 1_000), Ok(()));
        assert_eq!(
            precheck(&stored, Some(&p), Some(&p), 1_001).unwrap_err().0,
            "14"
        );
        let more = purchase("12351", "978", "2");
        assert_eq!(
            precheck(&stored, Some(&p), Some(&more), 10).unwrap_err().0,
            "01"
        );
        assert_eq!(precheck(&stored, Some(&p), None, 10).unwrap_err().0, "01");
        assert_eq!(precheck(&stored, None, None, 10).unwrap_err().0, "01");
    }

    #[test]
    fn the_signed_payment_must_be_the_offered_one() {
        let stored = SpcChallenge {
            nonce: "n".into(),
            expires_at: 0,
            payee_origin: "https://shop.example".into(),
        };
        let p = purchase("12350", "978", "2");
        let instrument = Instrument {
            display_name: "Shonin Card".into(),
            icon: "https://bank.example/card.png".into(),
        };
        let good = json!({"type": "payment.get", "payment": {
            "rpId": "bank.example", "topOrigin": "https://shop.example",
            "payeeOrigin": "https://shop.example",
            "total": {"currency": "EUR", "value": "123.50"},
            "instrument": {"displayName": "Shonin Card", "icon": "https://bank.example/card.png"}
        }});
        check_payment(&good, &stored, &p, "EUR", &instrument, "bank.example").unwrap();
        for (pointer, bad) in [
            ("/payment/rpId", json!("evil.example")),
            ("/payment/payeeOrigin", json!("https://evil.example")),
            ("/payment/topOrigin", json!("http://shop.example")),
            ("/payment/total/value", json!("123.5")),
            ("/payment/total/currency", json!("USD")),
            ("/payment/instrument/displayName", json!("Other")),
        ] {
            let mut v = good.clone();
            *v.pointer_mut(pointer).unwrap() = bad;
            assert!(
                check_payment(&v, &stored, &p, "EUR", &instrument, "bank.example").is_err(),
                "{pointer}"
            );
        }
        assert!(
            check_payment(&json!({}), &stored, &p, "EUR", &instrument, "bank.example").is_err()
        );
    }
}
