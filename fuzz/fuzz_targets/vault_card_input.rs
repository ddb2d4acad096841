//! Fuzzes what clients and pages send to the vault: the card of `POST /vault/cards` and
//! `POST /vault/nonces` through `CardInput::from_json` and the card and CVV checks, and the
//! one-member bodies of `/vault/client-tokens` and `/vault/nonces/exchange`. Nothing may panic;
//! an accepted card prints masked (its full number never appears in `Debug`, nor its CVV), its
//! brand is known, a CVV has 3 or 4 digits; an accepted origin is its own serialization.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_vault::{Brand, CardInput, PaymentNonce, requests};
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    if let Ok(origin) = requests::origin_from_json(data) {
        assert_eq!(
            shonin_vault::WebOrigin::parse(origin.as_str()).ok(),
            Some(origin.clone())
        );
    }
    if let Ok(nonce) = requests::nonce_from_json(data)
        && let Some(n) = PaymentNonce::parse(&nonce)
    {
        assert_eq!(n.digest().len(), 64);
    }
    let Ok(input) = CardInput::from_json(data) else {
        return;
    };
    let _ = format!("{input:?}");
    let Ok(card) = input.check(datetime!(2026-12-07 12:00 UTC)) else {
        return;
    };
    let digits = card.pan.expose().to_owned();
    assert!((13..=19).contains(&digits.len()));
    let printed = format!("{card:?}");
    assert!(!printed.contains(&digits), "{printed}");
    let _ = Brand::of(&card.pan).as_str();
    if let Ok(Some(cvv)) = input.checked_cvv(&card) {
        assert!(matches!(cvv.expose().len(), 3 | 4));
        assert_eq!(format!("{cvv:?}"), "Cvv(***)");
    }
});
