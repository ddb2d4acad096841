//! Fuzzes what the 3DS Server reads from outside: the requestor API's body (`Authenticate`,
//! then the AReq built from it in 2.2.0 and 2.3.1), the DS's PRes applied to the card-range
//! cache, and the `threeDSMethodData` a browser posts. The first byte chooses which.
//!
//! Nothing may panic. An AReq that is built passes the checks of its own version and carries
//! the card number it was given; a refusal names an element. A PRes applied twice leaves the
//! cache as applying it once did (without a serial number it replaces the cache).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_3ds::server::{Authenticate, MethodCompletion, RangeCache, ServerProfile};
use shonin_3ds::{Message, MessageVersion, Pan, Versions, check};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => requestor_body(rest),
        1 => pres(rest),
        _ => method_data(rest),
    }
});

fn requestor_body(body: &[u8]) {
    let Ok(input) = serde_json::from_slice::<Authenticate>(body) else {
        return;
    };
    let Ok(pan) = input.pan() else { return };
    let profile = ServerProfile {
        reference_number: "SHONIN-FUZZ".into(),
        operator_id: None,
        results_url: "https://psp.example/3ds/server/rreq".into(),
        notification_url: "https://psp.example/3ds/server/notification".into(),
        requestor_id: "PSP-1".into(),
        requestor_name: "PSP".into(),
        requestor_url: "https://psp.example/".into(),
    };
    let now = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("a valid time");
    for version in [MessageVersion::V2_2_0, MessageVersion::V2_3_1] {
        match shonin_3ds::server::areq::build(
            version,
            &profile,
            &input,
            &pan,
            "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
            MethodCompletion::Unavailable,
            now,
        ) {
            Ok(areq) => {
                assert_eq!(areq.acct_number.expose(), pan.expose());
                let bytes = serde_json::to_vec(&areq).expect("an AReq serialises");
                assert!(
                    check(&bytes, Versions::only(&[version])).is_ok(),
                    "a built AReq is valid in its version"
                );
            }
            Err(rejection) => assert!(rejection.element.is_some(), "{rejection:?}"),
        }
    }
}

fn pres(body: &[u8]) {
    let Ok(Message::PRes(pres)) = check(body, Versions::ALL) else {
        return;
    };
    let mut cache = RangeCache::default();
    let once = cache.apply(&pres);
    if pres.serial_num.is_none() {
        let mut again = cache.clone();
        assert_eq!(again.apply(&pres), once);
        assert_eq!(again, cache);
    }
    for pan in ["4012000000006013", "5555555555554444", "4111111111111111"] {
        if let Some(range) = cache.find(&Pan::new(pan)) {
            assert!(range.bounds.contains(&Pan::new(pan)));
            let _ = range.version(Versions::ALL);
        }
    }
}

/// `threeDSMethodData`: whatever is read names a UUID and comes back the same when written.
fn method_data(body: &[u8]) {
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if let Some((id, url)) = shonin_3ds::server::areq::read_method_data(text) {
        assert_eq!(id.len(), 36);
        let again = shonin_3ds::server::areq::method_data(&id, &url);
        assert_eq!(
            shonin_3ds::server::areq::read_method_data(&again),
            Some((id, url))
        );
    }
}
