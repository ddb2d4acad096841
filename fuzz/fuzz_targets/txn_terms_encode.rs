//! Fuzzes what a client sends to `POST /transactions` and `/execute` (a `NewTransaction` or
//! `Terms` as JSON) through validation, creation, the challenge and the canonical encoding
//! (`shonin_txn::linking`), which the user's passkey signs.
//!
//! Nothing may panic. For accepted input: the encoding is deterministic, decodes back into
//! exactly the fields it was made of (length prefixes are exact and cover the whole buffer), and
//! the stored transaction reads back equal; terms presented at execution that differ from the
//! stored ones never hash to the same challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_txn::{Loaded, NewTransaction, Terms, Transaction, TxnPolicy};
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = shonin_types::json::from_slice(data) else {
        return;
    };
    let now = datetime!(2026-12-06 08:00 UTC);
    if let Ok(terms) = serde_json::from_value::<Terms>(value.clone()) {
        let _ = terms.validate();
    }
    let Ok(new) = serde_json::from_value::<NewTransaction>(value) else {
        return;
    };
    let Ok(flow) = Transaction::create(new.clone(), "client", &TxnPolicy::default(), now) else {
        return;
    };
    let loaded = Loaded::decode(flow).expect("a created transaction decodes");
    let challenged = loaded
        .challenge("bm9uY2U".into(), None, now)
        .expect("a new transaction can be challenged")
        .after;
    let signed = challenged.signed_data().expect("challenged");
    let bytes = signed.encode();
    assert_eq!(bytes, signed.encode(), "not deterministic");
    // The length prefixes split the buffer back into exactly the fields.
    let fields = signed.fields();
    let mut rest = bytes.as_slice();
    for f in &fields {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, tail) = tail.split_at(len);
        assert_eq!(value, f.value.as_bytes());
        rest = tail;
    }
    assert!(rest.is_empty(), "trailing bytes");
    // Presenting other terms at execution never matches the approved challenge.
    let original = signed.challenge();
    let mut other = challenged.txn.clone();
    other.payee.name.push('x');
    let swapped = Loaded {
        flow: challenged.flow.clone(),
        txn: other,
    };
    assert_ne!(
        swapped.signed_data().expect("challenged").challenge(),
        original
    );
});
