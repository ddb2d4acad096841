//! Fuzzes Rich Authorization Requests parsing (`AuthorizationDetailsPolicy::parse`, RFC 9396)
//! with the shipped policy (`payment_initiation`, `account_information`, default limits) and
//! arbitrary bytes as the `authorization_details` parameter, both types allowed.
//!
//! Nothing may panic. Accepted details must only use allowed types, and their canonical JSON
//! (`rar::canonical_json`, what the user's approval is bound to) must be deterministic, valid JSON
//! equal to the accepted details, and a fixed point. `canonical_json` is also run on any JSON
//! array the input happens to be (accepted or not), which must give valid JSON deterministically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shonin_oauth::rar::{
    ACCOUNT_INFORMATION, AuthorizationDetailsPolicy, PAYMENT_INITIATION, canonical_json,
    canonical_sha256, details_to_json,
};
use std::sync::LazyLock;

const ALLOWED: &[&str] = &["payment_initiation", "account_information"];

static POLICY: LazyLock<AuthorizationDetailsPolicy> =
    LazyLock::new(|| AuthorizationDetailsPolicy::shipped().expect("shipped schemas compile"));

fuzz_target!(|data: &[u8]| {
    match POLICY.parse(data, ALLOWED) {
        Ok(details) => {
            assert!(!details.is_empty());
            for d in &details {
                assert!(
                    matches!(d.type_name(), PAYMENT_INITIATION | ACCOUNT_INFORMATION),
                    "accepted type {:?}",
                    d.type_name()
                );
            }
            let canonical = canonical_json(&details);
            assert_eq!(canonical_json(&details), canonical, "not deterministic");
            assert_eq!(canonical_sha256(&details), canonical_sha256(&details));
            let reparsed: Value = match serde_json::from_str(&canonical) {
                Ok(v) => v,
                Err(e) => panic!("canonical JSON {canonical:?} is not JSON: {e}"),
            };
            assert_eq!(
                reparsed,
                details_to_json(&details),
                "canonical JSON changed the value"
            );
            let Value::Array(items) = &reparsed else {
                panic!("canonical JSON of details is not an array: {canonical:?}");
            };
            assert_eq!(
                canonical_json(items),
                canonical,
                "canonical JSON is not a fixed point"
            );
            // The same text is accepted again and gives the same details.
            let again = POLICY.parse(canonical.as_bytes(), ALLOWED);
            assert_eq!(
                again.as_ref().ok(),
                Some(&details),
                "canonical form refused: {again:?}"
            );
            // A client registered for no type is refused.
            assert!(POLICY.parse(data, &[] as &[&str]).is_err());
        }
        Err(e) => {
            let _ = (e.oauth_error(), e.to_string());
        }
    }

    // canonical_json on arbitrary JSON arrays: deterministic and valid JSON.
    if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) {
        let canonical = canonical_json(&items);
        assert_eq!(canonical_json(&items), canonical, "not deterministic");
        if let Err(e) = serde_json::from_str::<Value>(&canonical) {
            panic!("canonical JSON {canonical:?} is not JSON: {e}");
        }
    }
});
