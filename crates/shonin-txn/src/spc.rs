//! W3C Secure Payment Confirmation (SPC): the browser shows payee, amount and instrument in its
//! own dialog, outside the page's reach, and the passkey signs them inside `clientDataJSON`
//! (`type` `payment.get`, member `payment`). Shonin is the relying party: the bank's backend
//! asks for an SPC challenge naming the checkout's top-level origin (and the frame's origin
//! when a payment service provider's iframe calls SPC), the checkout runs `PaymentRequest`
//! with [`request`], and the assertion is checked here against the *stored* transaction.
//!
//! The challenge is the transaction's own (`linking`): an SPC assertion and a plain passkey
//! assertion sign the same hash, and the signed `type` keeps them apart (the specification's
//! "login attack": a sign-in assertion is never a payment approval, and the reverse).
//!
//! Verification (the SPC specification's relying-party steps, as `../shared/specs/
//! transaction-authorization.md` reads them): `type` is `payment.get`; the challenge is ours;
//! `origin` is the frame the bank named; `payment.rpId` is our RP ID; `payment.topOrigin` the
//! checkout; `payeeName` the stored payee; `total` the stored amount exactly as served;
//! `instrument` the one served; no `payeeOrigin` or logos (none are served); user verification
//! always. `browserBoundPublicKey` is not used.

use crate::amount::Amount;
use crate::error::TxnError;
use crate::payee::Payee;
use crate::transaction::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The payment instrument the browser's dialog shows (SPC `PaymentCredentialInstrument`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    #[serde(rename = "displayName")]
    pub display_name: String,
    /// An https URL or a `data:` URL of the icon.
    pub icon: String,
}

/// Where an SPC challenge may be answered, fixed when it is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpcContext {
    /// The checkout page's origin (`payment.topOrigin`).
    pub top_origin: String,
    /// The origin of the frame that calls SPC (`clientDataJSON.origin`): the checkout itself,
    /// or a payment service provider's iframe in it.
    pub origin: String,
    pub instrument: Instrument,
}

/// The longest origin accepted.
const MAX_ORIGIN_LEN: usize = 256;

/// `s` if it is a serialized https origin (`https://host[:port]`, no path, query or user).
pub fn https_origin(field: &'static str, s: &str) -> Result<String, TxnError> {
    let bad = || TxnError::Invalid(field, "an https origin such as https://shop.example");
    if s.len() > MAX_ORIGIN_LEN {
        return Err(bad());
    }
    let url = url::Url::parse(s).map_err(|_| bad())?;
    let origin = url.origin().ascii_serialization();
    if url.scheme() != "https" || origin != s {
        return Err(bad());
    }
    Ok(origin)
}

/// What the checkout passes to `new PaymentRequest(methodData, details)` (SPC §4): the method
/// data with `SecurePaymentConfirmationRequest` and the details with the total. `credential_ids`
/// are the user's passkeys (base64url), `challenge` the transaction's (base64url).
pub fn request(
    txn: &Transaction,
    spc: &SpcContext,
    rp_id: &str,
    challenge: &str,
    credential_ids: &[String],
    timeout_ms: u64,
) -> Value {
    json!({
        "methodData": [{
            "supportedMethods": "secure-payment-confirmation",
            "data": {
                "challenge": challenge,
                "rpId": rp_id,
                "credentialIds": credential_ids,
                "instrument": {
                    "displayName": spc.instrument.display_name,
                    "icon": spc.instrument.icon,
                    "iconMustBeShown": true,
                },
                "payeeName": txn.payee.name,
                "timeout": timeout_ms,
            }
        }],
        "details": {
            "total": {
                "label": "Total",
                "amount": {
                    "currency": txn.amount.currency().code(),
                    "value": txn.amount.canonical(),
                }
            }
        }
    })
}

/// Checks the parts of an SPC `clientDataJSON` that WebAuthn does not: `payment` against the
/// stored transaction and the context the challenge was issued for, and a WebAuthn-level
/// `topOrigin`, when present, against the checkout. `Err` is the audit reason.
pub fn check_payment(
    client_data: &Value,
    payee: &Payee,
    amount: &Amount,
    spc: &SpcContext,
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
    if text("topOrigin") != Some(spc.top_origin.as_str()) {
        return Err("spc: payment.topOrigin".into());
    }
    if let Some(top) = client_data.get("topOrigin")
        && top.as_str() != Some(spc.top_origin.as_str())
    {
        return Err("spc: topOrigin".into());
    }
    if text("payeeName") != Some(payee.name.as_str()) {
        return Err("spc: payment.payeeName".into());
    }
    if payment.contains_key("payeeOrigin") {
        return Err("spc: payment.payeeOrigin was not requested".into());
    }
    if payment
        .get("paymentEntitiesLogos")
        .is_some_and(|l| l.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err("spc: payment.paymentEntitiesLogos were not requested".into());
    }
    let total = payment.get("total");
    let currency = total
        .and_then(|t| t.get("currency"))
        .and_then(Value::as_str);
    let value = total.and_then(|t| t.get("value")).and_then(Value::as_str);
    if currency != Some(amount.currency().code()) || value != Some(&amount.canonical()) {
        return Err("spc: payment.total".into());
    }
    let instrument = payment.get("instrument");
    let field = |name: &str| instrument.and_then(|i| i.get(name)).and_then(Value::as_str);
    if field("displayName") != Some(spc.instrument.display_name.as_str())
        || field("icon") != Some(spc.instrument.icon.as_str())
    {
        return Err("spc: payment.instrument".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_https_and_bare() {
        assert_eq!(
            https_origin("o", "https://shop.example").unwrap(),
            "https://shop.example"
        );
        assert!(https_origin("o", "https://shop.example:8443").is_ok());
        for bad in [
            "http://shop.example",
            "https://shop.example/",
            "https://shop.example/pay",
            "https://u@shop.example",
            "shop.example",
            "https://SHOP.example",
            "",
        ] {
            assert!(https_origin("o", bad).is_err(), "{bad}");
        }
    }
}
