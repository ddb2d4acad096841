//! Payment consent in the FAPI flow: a pushed authorization request's `payment_initiation`
//! detail (RFC 9396 Appendix A.3) becomes a transaction that the user approves with a passkey on
//! the consent page, through the same rules and signed data as the first-party API. The grant
//! then carries the detail enriched with the approval (RFC 9396 §7 lets the server add to the
//! details it grants), so tokens and introspection name the transaction and the signed hash.

use crate::amount::Amount;
use crate::error::TxnError;
use crate::payee::{Account, Payee};
use crate::transaction::{Approval, Terms};
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Value, json};

/// The detail type a passkey signature approves.
pub const PAYMENT_INITIATION: &str = "payment_initiation";

/// The member the server adds to a granted `payment_initiation` detail.
pub const APPROVAL_MEMBER: &str = "approval";

const ID_TAG: &str = "shonin-consent-txn-v1";

/// The `payment_initiation` detail of a request's details, if it has one. A request carries at
/// most one (see [`check_details`]).
pub fn payment_detail(details: &[Value]) -> Option<&Value> {
    details
        .iter()
        .find(|d| d.get("type").and_then(Value::as_str) == Some(PAYMENT_INITIATION))
}

/// Checks a request's details at PAR: at most one `payment_initiation` (one signature approves
/// one payment), and that one a payment this server can show and sign — a currency with an ISO
/// 4217 minor unit and an amount within it (the schema checks the shape only).
pub fn check_details(details: &[Value]) -> Result<(), TxnError> {
    let payments: Vec<&Value> = details
        .iter()
        .filter(|d| d.get("type").and_then(Value::as_str) == Some(PAYMENT_INITIATION))
        .collect();
    match payments.as_slice() {
        [] => Ok(()),
        [one] => terms_of(one).map(|_| ()),
        _ => Err(TxnError::Invalid(
            "authorization_details",
            "at most one payment_initiation entry: each payment is signed on its own",
        )),
    }
}

/// The terms of a `payment_initiation` detail that passed the schema: `instructedAmount`,
/// `creditorName`, `creditorAccount` (`iban` or `other`) and `remittanceInformation`.
pub fn terms_of(detail: &Value) -> Result<Terms, TxnError> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let amount = detail.get("instructedAmount");
    let (Some(value), Some(currency)) = (
        amount.and_then(|a| a.get("amount")).and_then(Value::as_str),
        amount
            .and_then(|a| a.get("currency"))
            .and_then(Value::as_str),
    ) else {
        return Err(TxnError::Invalid("instructedAmount", "amount and currency"));
    };
    let amount = Amount::parse(value, currency)?;
    let account = detail.get("creditorAccount");
    let account = if let Some(iban) = text(account.and_then(|a| a.get("iban"))) {
        Account::Iban(iban)
    } else {
        let other = account.and_then(|a| a.get("other"));
        match (
            text(other.and_then(|o| o.get("schemeName"))),
            text(other.and_then(|o| o.get("identification"))),
        ) {
            (Some(scheme_name), Some(identification)) => Account::Other {
                scheme_name,
                identification,
            },
            _ => return Err(TxnError::Invalid("creditorAccount", "iban or other")),
        }
    };
    let name = text(detail.get("creditorName"))
        .ok_or(TxnError::Invalid("creditorName", "the payee's name"))?;
    Terms {
        payee: Payee { name, account },
        amount,
        // An empty reference is no reference: both sign the same empty field.
        reference: text(detail.get("remittanceInformation")).filter(|r| !r.is_empty()),
    }
    .validate()
}

/// The id of the transaction that approves the payment of pushed request `reference` for user
/// `user_id`: derived, so the consent page needs no write to find it again, and different for
/// each user who signs in on that request (only one can consent: the request is used once).
pub fn transaction_id(reference: &str, user_id: &str) -> String {
    let mut input = Vec::with_capacity(ID_TAG.len() + reference.len() + user_id.len() + 12);
    for part in [ID_TAG, reference, user_id] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        input.extend_from_slice(&len.to_be_bytes());
        input.extend_from_slice(part.as_bytes());
    }
    let hash = digest(&SHA256, &input);
    hash.as_ref()
        .iter()
        .take(crate::ID_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The details to grant: the request's, with the `payment_initiation` entry enriched with its
/// approval — the transaction id, the signed challenge (SHA-256 of the signed data, base64url),
/// the passkey and the time (RFC 9396 §7).
pub fn granted_details(details: &[Value], txn_id: &str, approval: &Approval) -> Vec<Value> {
    details
        .iter()
        .map(|d| {
            let mut d = d.clone();
            if d.get("type").and_then(Value::as_str) == Some(PAYMENT_INITIATION)
                && let Some(o) = d.as_object_mut()
            {
                o.insert(
                    APPROVAL_MEMBER.into(),
                    json!({
                        "transaction_id": txn_id,
                        "challenge": approval.challenge,
                        "credential_id": approval.credential_id,
                        "approved_at": approval.approved_at,
                    }),
                );
            }
            d
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Locale;

    fn detail() -> Value {
        json!({
            "type": "payment_initiation",
            "actions": ["initiate"],
            "instructedAmount": {"currency": "EUR", "amount": "123.5"},
            "creditorName": "Merchant & Co",
            "creditorAccount": {"iban": "DE89370400440532013000"},
            "remittanceInformation": "Invoice 42"
        })
    }

    #[test]
    fn a_payment_detail_becomes_terms() {
        let t = terms_of(&detail()).unwrap();
        assert_eq!(t.payee.name, "Merchant & Co");
        assert_eq!(
            t.payee.account,
            Account::Iban("DE89370400440532013000".into())
        );
        assert_eq!(t.amount.display(Locale::En), "€123.50");
        assert_eq!(t.reference.as_deref(), Some("Invoice 42"));
        let mut other = detail();
        other["creditorAccount"] =
            json!({"other": {"schemeName": "JP-ZENGIN", "identification": "0001-001-1234567"}});
        other["instructedAmount"] = json!({"currency": "JPY", "amount": "12000"});
        other
            .as_object_mut()
            .unwrap()
            .remove("remittanceInformation");
        let t = terms_of(&other).unwrap();
        assert!(matches!(t.payee.account, Account::Other { .. }));
        assert_eq!(t.amount.display(Locale::Ja), "12,000円");
        assert_eq!(t.reference, None);
    }

    #[test]
    fn payments_the_server_cannot_sign_are_refused_at_par() {
        // The schema lets any three letters and two fraction digits through; the yen has none.
        let mut yen = detail();
        yen["instructedAmount"] = json!({"currency": "JPY", "amount": "1.50"});
        assert!(matches!(
            check_details(&[yen]),
            Err(TxnError::Invalid("amount", _))
        ));
        let mut metal = detail();
        metal["instructedAmount"]["currency"] = json!("XAU");
        assert!(check_details(&[metal]).is_err());
        assert!(matches!(
            check_details(&[detail(), detail()]),
            Err(TxnError::Invalid("authorization_details", _))
        ));
        let access = json!({"type": "account_information", "actions": ["read"]});
        assert!(check_details(&[detail(), access.clone()]).is_ok());
        assert!(check_details(&[access]).is_ok());
    }

    #[test]
    fn the_derived_id_is_a_transaction_id_per_request_and_user() {
        let a = transaction_id("ref-1", "alice");
        assert!(crate::is_valid_id(&a));
        assert_eq!(a, transaction_id("ref-1", "alice"));
        assert_ne!(a, transaction_id("ref-1", "bob"));
        assert_ne!(a, transaction_id("ref-2", "alice"));
        // Length-prefixed: moving text between the parts gives another id.
        assert_ne!(transaction_id("ab", "c"), transaction_id("a", "bc"));
    }

    #[test]
    fn only_the_payment_entry_is_enriched() {
        let access = json!({"type": "account_information", "actions": ["read"]});
        let approval = Approval {
            challenge: "Y2hhbGxlbmdl".into(),
            credential_id: "Y3JlZA".into(),
            approved_at: 1_800_000_000,
            receipt: "x.y.z".into(),
        };
        let granted = granted_details(&[detail(), access.clone()], "ab12", &approval);
        assert_eq!(granted[1], access);
        assert_eq!(granted[0]["approval"]["transaction_id"], "ab12");
        assert_eq!(granted[0]["approval"]["challenge"], "Y2hhbGxlbmdl");
        assert_eq!(granted[0]["creditorName"], "Merchant & Co");
        // The receipt stays out of tokens (it is large); it is in the audit log and the API.
        assert!(granted[0]["approval"].get("receipt").is_none());
    }
}
