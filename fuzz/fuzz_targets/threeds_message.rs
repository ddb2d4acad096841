//! Fuzzes the reading of an EMV 3-D Secure message (`shonin_3ds::check`): JSON with its size,
//! depth and duplicate-element bounds, the element rules of every message type and version, the
//! typed conversion, and the Erro built for a refusal.
//!
//! Nothing may panic. A message that passes serialises back to the JSON it was read from and
//! passes again; the Erro answering a refused message is itself a valid Erro; for a valid AReq,
//! the ARes the ACS builds from any decision is a valid ARes, and so is its SPC form (S, 2.3.1);
//! the SPC follow-up's reading (`acs::spc::follow_up`) answers or refuses without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_3ds::{ErrorComponent, Message, Versions, check};

fuzz_target!(|data: &[u8]| {
    match check(data, Versions::ALL) {
        Ok(message) => {
            let json = message.to_json();
            let again = check(json.to_string().as_bytes(), Versions::ALL)
                .expect("a valid message, written back, is valid");
            assert_eq!(again.to_json(), json);
            if let Message::AReq(areq) = &message {
                answer(areq);
                if let Ok(Some(follow)) = shonin_3ds::acs::spc::follow_up(areq) {
                    assert!(
                        follow.credential.get("id").is_some()
                            || follow.credential.get("rawId").is_none()
                    );
                }
            }
        }
        Err(refused) => {
            let erro = refused.erro(ErrorComponent::Acs, Versions::ALL);
            let bytes = serde_json::to_vec(&erro).expect("an Erro serialises");
            match check(&bytes, Versions::ALL) {
                Ok(Message::Erro(read)) => assert_eq!(read, erro),
                other => panic!("our Erro answer is not a valid Erro: {other:?}"),
            }
        }
    }
});

fn answer(areq: &shonin_3ds::AReq) {
    use shonin_3ds::acs::{self, AcsProfile, Enrolment, Facts, Outcome, RiskRules};
    let rules = RiskRules {
        frictionless_up_to: [("978".to_owned(), 5_000)].into(),
        frictionless_per_day: Some(2),
        challenge_new_browser: true,
        ..RiskRules::default()
    };
    let profile = AcsProfile {
        reference_number: "ACS-1".into(),
        operator_id: None,
        challenge_url: "https://acs.example/3ds/challenge".into(),
    };
    for enrolment in [
        Enrolment::NoCardRecord,
        Enrolment::NotEnrolled,
        Enrolment::Enrolled { passkey: true },
        Enrolment::Enrolled { passkey: false },
    ] {
        let facts = Facts {
            enrolment,
            frictionless_today: 1,
            known_browser: false,
        };
        let decision = acs::decide(&rules, areq, facts);
        let outcome = Outcome {
            acs_trans_id: "0ed1ec93-9e85-4114-87ba-120c50c6a7e7".into(),
            eci: Some("05".into()),
            authentication_value: Some("AAABBZEEBgAAAAAAAAQGAAAAAAA=".into()),
        };
        let Ok(ares) = acs::ares::build(areq, &profile, &decision, outcome) else {
            continue;
        };
        let spc = matches!(decision, acs::Decision::Challenge { .. })
            && areq.message_version >= shonin_3ds::MessageVersion::V2_3_1;
        let spc_ares = spc.then(|| {
            let purchase = acs::Purchase {
                merchant_name: "M".into(),
                amount: areq.purchase_amount.clone().unwrap_or_else(|| "1".into()),
                currency: "978".into(),
                exponent: "2".into(),
            };
            let instrument = acs::spc::Instrument {
                display_name: "Card".into(),
                icon: "https://bank.example/card.png".into(),
            };
            let ids = ["AQID".to_owned()];
            let offer = acs::spc::Offer {
                challenge: "Zm9v",
                purchase: &purchase,
                payee_origin: "https://shop.example",
                instrument: &instrument,
                credential_ids: &ids,
                rp_id: "bank.example",
            };
            offer
                .elements()
                .map(|(data, list)| acs::ares::with_spc(ares.clone(), data, list))
        });
        for ares in std::iter::once(ares.clone()).chain(spc_ares.flatten()) {
            let bytes = serde_json::to_vec(&ares).expect("an ARes serialises");
            match check(&bytes, Versions::ALL) {
                Ok(Message::ARes(read)) => assert_eq!(read, ares),
                other => panic!("our ARes is not a valid ARes: {other:?}"),
            }
        }
    }
}
