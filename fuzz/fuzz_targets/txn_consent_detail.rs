//! Fuzzes a pushed request's `authorization_details` as the payment consent reads them
//! (`shonin_txn::consent`): the PAR check, the conversion of a `payment_initiation` entry into
//! the terms the passkey signs, and the enrichment of the granted details.
//!
//! Nothing may panic. Terms made from an entry are already valid (validating them again changes
//! nothing); enrichment adds only `approval` to the payment entry and leaves every other entry
//! and member as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shonin_txn::consent::{self, APPROVAL_MEMBER, PAYMENT_INITIATION};
use shonin_txn::{Approval, Locale};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = shonin_types::json::from_slice(data) else {
        return;
    };
    let details: Vec<Value> = match value {
        Value::Array(a) => a,
        other => vec![other],
    };
    let _ = consent::check_details(&details);
    for d in &details {
        if let Ok(terms) = consent::terms_of(d) {
            assert_eq!(terms.clone().validate().ok().as_ref(), Some(&terms));
            let _ = (terms.shown(Locale::En), terms.shown(Locale::Ja));
        }
    }
    let approval = Approval {
        challenge: "c".into(),
        credential_id: "k".into(),
        approved_at: 0,
        receipt: String::new(),
    };
    let id = consent::transaction_id("reference", "user");
    let granted = consent::granted_details(&details, &id, &approval);
    assert_eq!(granted.len(), details.len());
    for (before, after) in details.iter().zip(&granted) {
        let payment = before.get("type").and_then(Value::as_str) == Some(PAYMENT_INITIATION);
        if !payment || !before.is_object() {
            assert_eq!(before, after);
            continue;
        }
        let mut stripped = after.clone();
        let added = stripped
            .as_object_mut()
            .and_then(|o| o.remove(APPROVAL_MEMBER));
        assert!(added.is_some());
        let mut original = before.clone();
        if let Some(o) = original.as_object_mut() {
            o.remove(APPROVAL_MEMBER);
        }
        assert_eq!(original, stripped);
    }
});
