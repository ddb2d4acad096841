//! The ACS's decisions and answers, on the schemes' sample AReq: every rule of `acs::risk` in
//! its order, and every ARes built is itself a valid ARes of the AReq's version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::{Value, json};
use shonin_3ds::acs::auth_value::{self, AuthValueInput};
use shonin_3ds::acs::{
    self, AcsProfile, ChallengeMethod, ChallengeReason, Decision, Enrolment, Facts, NotEnrolled,
    Outcome, RiskRules, Scheme,
};
use shonin_3ds::{AReq, ErrorCode, Message, TransStatus, Versions, check};
use shonin_keys::{KeyPurpose, LocalMacKey, MasterKey};

const ACS_TRANS_ID: &str = "0ed1ec93-9e85-4114-87ba-120c50c6a7e7";

/// The Visa 2.2.0 browser payment sample as it reaches the ACS: the DS has added its IDs, and the
/// requestor states no preference. 635.51 RUB (643), MCC 8968, merchant in Russia (643).
fn areq_json() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/visa/3DSS-220-101/areq.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let m = v.as_object_mut().unwrap();
    m.insert(
        "dsTransID".into(),
        json!("897e20c5-76b7-4ee4-9e43-f2ba9dd90044"),
    );
    m.insert("dsReferenceNumber".into(), json!("DSServerRef123456"));
    m.insert("threeDSRequestorChallengeInd".into(), json!("01"));
    v
}

fn areq_from(v: &Value) -> AReq {
    match check(v.to_string().as_bytes(), Versions::ALL) {
        Ok(Message::AReq(a)) => a,
        other => panic!("{other:?}"),
    }
}

fn areq() -> AReq {
    areq_from(&areq_json())
}

fn rules() -> RiskRules {
    RiskRules {
        frictionless_up_to: [("643".to_owned(), 100_000)].into(),
        ..RiskRules::default()
    }
}

const ENROLLED: Facts = Facts {
    enrolment: Enrolment::Enrolled { passkey: true },
    frictionless_today: 0,
    known_browser: true,
};

fn profile() -> AcsProfile {
    AcsProfile {
        reference_number: "ACSRefNum1234".into(),
        operator_id: Some("00000014".into()),
        challenge_url: "https://acs.bank.example/3ds/challenge".into(),
    }
}

/// Runs a MAC key's computation (async: an HSM answers from its own thread) in a sync test.
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Builds the ARes the way the server does, and checks it as the 3DS Server would.
fn answer(areq: &AReq, decision: &Decision) -> shonin_3ds::ARes {
    let key = LocalMacKey::derived(
        &MasterKey::generate().unwrap(),
        KeyPurpose::ThreeDsAuthenticationValue,
    );
    const CARD: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let ds_trans_id = areq.ds_trans_id.as_deref().unwrap();
    let outcome = block_on(Outcome::of(
        decision,
        &key,
        Scheme::Visa,
        areq,
        ds_trans_id,
        ACS_TRANS_ID.into(),
        CARD,
    ))
    .unwrap();
    if let Some(value) = &outcome.authentication_value {
        // The issuer's authorisation system recomputes it from the same inputs.
        let input = AuthValueInput {
            status: decision.status(),
            eci: outcome.eci.as_deref().unwrap(),
            ds_trans_id,
            acs_trans_id: ACS_TRANS_ID,
            card: CARD,
            purchase_amount: areq.purchase_amount.as_deref(),
            purchase_currency: areq.purchase_currency.as_deref(),
        };
        assert!(block_on(auth_value::verify(&key, &input, value)));
    }
    let ares = acs::ares::build(areq, &profile(), decision, outcome).unwrap();
    let bytes = serde_json::to_vec(&ares).unwrap();
    match check(&bytes, Versions::ALL) {
        Ok(Message::ARes(read)) => assert_eq!(read, ares),
        other => panic!(
            "our ARes is not a valid ARes: {other:?}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
    ares
}

#[test]
fn under_the_threshold_an_enrolled_card_is_authenticated_without_a_challenge() {
    let areq = areq();
    let decision = acs::decide(&rules(), &areq, ENROLLED);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::Y,
            reason: None
        }
    );
    let ares = answer(&areq, &decision);
    assert_eq!(ares.trans_status, Some(TransStatus::Y));
    assert_eq!(ares.eci.as_deref(), Some("05"));
    assert_eq!(
        ares.authentication_value.as_ref().map(String::len),
        Some(28)
    );
    assert_eq!(ares.acs_url, None);
    assert_eq!(ares.three_ds_server_trans_id, areq.three_ds_server_trans_id);
    assert_eq!(ares.other.0["dsReferenceNumber"], "DSServerRef123456");
}

#[test]
fn above_the_threshold_or_in_a_currency_without_one_the_cardholder_is_challenged() {
    let above = RiskRules {
        frictionless_up_to: [("643".to_owned(), 63_550)].into(),
        ..RiskRules::default()
    };
    let areq = areq();
    let decision = acs::decide(&above, &areq, ENROLLED);
    assert_eq!(
        decision,
        Decision::Challenge {
            method: ChallengeMethod::Passkey,
            mandated: true,
            reasons: vec![ChallengeReason::Amount]
        }
    );
    let ares = answer(&areq, &decision);
    assert_eq!(ares.trans_status, Some(TransStatus::C));
    assert_eq!(
        ares.acs_url.as_deref(),
        Some("https://acs.bank.example/3ds/challenge")
    );
    assert_eq!(ares.other.0["acsChallengeMandated"], "Y");
    assert_eq!(ares.other.0["authenticationType"], "02");
    assert_eq!((ares.eci, ares.authentication_value), (None, None));

    // Default deny: a currency the rules do not name is always challenged.
    let decision = acs::decide(&RiskRules::default(), &areq, ENROLLED);
    assert!(
        matches!(decision, Decision::Challenge { .. }),
        "{decision:?}"
    );
    // Without a passkey the challenge is a one-time code.
    let no_passkey = Facts {
        enrolment: Enrolment::Enrolled { passkey: false },
        ..ENROLLED
    };
    let Decision::Challenge { method, .. } = acs::decide(&above, &areq, no_passkey) else {
        panic!()
    };
    assert_eq!(method, ChallengeMethod::OneTimeCode);
}

#[test]
fn cards_without_a_record_or_not_enrolled() {
    let areq = areq();
    let none = Facts {
        enrolment: Enrolment::NoCardRecord,
        ..ENROLLED
    };
    let decision = acs::decide(&rules(), &areq, none);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::N,
            reason: Some("08")
        }
    );
    assert_eq!(
        answer(&areq, &decision).trans_status_reason.as_deref(),
        Some("08")
    );

    let not_enrolled = Facts {
        enrolment: Enrolment::NotEnrolled,
        ..ENROLLED
    };
    assert_eq!(
        acs::decide(&rules(), &areq, not_enrolled),
        Decision::Frictionless {
            status: TransStatus::N,
            reason: Some("13")
        },
        "deny by default"
    );
    let attempts = RiskRules {
        not_enrolled: NotEnrolled::Attempts,
        ..rules()
    };
    let decision = acs::decide(&attempts, &areq, not_enrolled);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::A,
            reason: None
        }
    );
    let ares = answer(&areq, &decision);
    assert_eq!(ares.eci.as_deref(), Some("06"), "attempts");
    let unavailable = RiskRules {
        not_enrolled: NotEnrolled::Unavailable,
        ..rules()
    };
    assert_eq!(
        acs::decide(&unavailable, &areq, not_enrolled),
        Decision::Frictionless {
            status: TransStatus::U,
            reason: Some("13")
        }
    );
}

#[test]
fn refused_merchants_are_rejected_before_any_challenge() {
    let areq = areq();
    let mcc = RiskRules {
        refused_mcc: ["8968".to_owned()].into(),
        ..rules()
    };
    let country = RiskRules {
        refused_merchant_countries: ["643".to_owned()].into(),
        ..rules()
    };
    for rules in [mcc, country] {
        let decision = acs::decide(&rules, &areq, ENROLLED);
        assert_eq!(
            decision,
            Decision::Frictionless {
                status: TransStatus::R,
                reason: Some("12")
            }
        );
        answer(&areq, &decision);
    }
}

#[test]
fn the_requestors_indicator_asks_for_a_challenge_or_for_data_only() {
    for (indicator, expected) in [
        ("03", true),
        ("04", true),
        ("09", true),
        ("02", false),
        ("05", false),
    ] {
        let areq = areq_from(&{
            let mut v = areq_json();
            v["threeDSRequestorChallengeInd"] = json!(indicator);
            v
        });
        let decision = acs::decide(&rules(), &areq, ENROLLED);
        assert_eq!(
            matches!(decision, Decision::Challenge { .. }),
            expected,
            "{indicator}: {decision:?}"
        );
        if let Decision::Challenge {
            reasons, mandated, ..
        } = decision
        {
            assert_eq!(
                (reasons, mandated),
                (vec![ChallengeReason::RequestorAsked], false)
            );
        }
    }
    let mut v = areq_json();
    v["threeDSRequestorChallengeInd"] = json!("06");
    let areq = areq_from(&v);
    let decision = acs::decide(&rules(), &areq, ENROLLED);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::I,
            reason: None
        }
    );
    answer(&areq, &decision);
    // 06 and I do not exist in 2.1.0: there the indicator is refused before any decision.
    v["messageVersion"] = json!("2.1.0");
    v.as_object_mut()
        .unwrap()
        .remove("browserJavascriptEnabled");
    let refused = check(v.to_string().as_bytes(), Versions::ALL).unwrap_err();
    assert_eq!(
        refused.rejection.element.as_deref(),
        Some("threeDSRequestorChallengeInd")
    );
}

#[test]
fn velocity_and_an_unknown_browser_are_reasons_to_challenge() {
    let areq = areq();
    let limited = RiskRules {
        frictionless_per_day: Some(3),
        challenge_new_browser: true,
        ..rules()
    };
    assert!(matches!(
        acs::decide(
            &limited,
            &areq,
            Facts {
                frictionless_today: 2,
                ..ENROLLED
            }
        ),
        Decision::Frictionless { .. }
    ));
    let Decision::Challenge {
        reasons, mandated, ..
    } = acs::decide(
        &limited,
        &areq,
        Facts {
            frictionless_today: 3,
            known_browser: false,
            ..ENROLLED
        },
    )
    else {
        panic!()
    };
    assert_eq!(
        reasons,
        vec![ChallengeReason::Velocity, ChallengeReason::NewBrowser]
    );
    assert!(!mandated);
}

#[test]
fn a_challenge_this_acs_cannot_run_is_refused_with_its_reason() {
    let strict = RiskRules::default();
    let mut app = areq_json();
    app["deviceChannel"] = json!("01");
    for (k, v) in [
        ("sdkAppID", json!("38aeecf2-2114-4e8e-98d3-d0f7477b5f2e")),
        ("sdkEncData", json!("x.y.z")),
        (
            "sdkEphemPubKey",
            json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}),
        ),
        ("sdkMaxTimeout", json!("05")),
        ("sdkReferenceNumber", json!("3DS_LOA_SDK_PPFU_020100_00007")),
        ("sdkTransID", json!("a8fc0876-e83b-4a9a-b52a-a3550491258d")),
        (
            "deviceRenderOptions",
            json!({"sdkInterface": "03", "sdkUiType": ["01"]}),
        ),
    ] {
        app[k] = v;
    }
    let app = areq_from(&app);
    let decision = acs::decide(&strict, &app, ENROLLED);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::N,
            reason: Some("03")
        }
    );
    assert_eq!(
        answer(&app, &decision).other.0["sdkTransID"],
        "a8fc0876-e83b-4a9a-b52a-a3550491258d"
    );

    let mut three_ri = areq_json();
    three_ri["deviceChannel"] = json!("03");
    three_ri["threeRIInd"] = json!("01");
    let three_ri = areq_from(&three_ri);
    assert_eq!(
        acs::decide(&strict, &three_ri, ENROLLED),
        Decision::Frictionless {
            status: TransStatus::N,
            reason: Some("21")
        }
    );
}

#[test]
fn a_non_payment_has_no_amount_to_challenge() {
    let mut v = areq_json();
    v["messageCategory"] = json!("02");
    for k in [
        "purchaseAmount",
        "purchaseCurrency",
        "purchaseExponent",
        "purchaseDate",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    let areq = areq_from(&v);
    let decision = acs::decide(&RiskRules::default(), &areq, ENROLLED);
    assert_eq!(
        decision,
        Decision::Frictionless {
            status: TransStatus::Y,
            reason: None
        }
    );
    answer(&areq, &decision);
}

#[test]
fn an_areq_without_the_ds_ids_is_refused_naming_them() {
    let mut v = areq_json();
    v.as_object_mut().unwrap().remove("dsTransID");
    v.as_object_mut().unwrap().remove("dsReferenceNumber");
    let areq = areq_from(&v);
    let decision = acs::decide(&rules(), &areq, ENROLLED);
    let e = acs::ares::build(
        &areq,
        &profile(),
        &decision,
        Outcome {
            acs_trans_id: ACS_TRANS_ID.into(),
            eci: None,
            authentication_value: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::RequiredElementMissing);
    assert_eq!(e.element.as_deref(), Some("dsTransID,dsReferenceNumber"));
}

#[test]
fn a_2_3_1_challenge_ares_is_valid_2_3_1() {
    let mut v = areq_json();
    let m = v.as_object_mut().unwrap();
    m.insert("messageVersion".into(), json!("2.3.1"));
    m.insert("threeDSRequestorChallengeInd".into(), json!(["04"]));
    m.insert("acceptLanguage".into(), json!(["en"]));
    m.insert("acquirerCountryCode".into(), json!("643"));
    m.insert("acquirerCountryCodeSource".into(), json!("01"));
    m.insert(
        "threeDSRequestorURL".into(),
        json!("https://merchant.example/"),
    );
    m.remove("threeDSRequestorAuthenticationInfo");
    m.remove("threeDSRequestorPriorAuthenticationInfo");
    let areq = areq_from(&v);
    let decision = acs::decide(&rules(), &areq, ENROLLED);
    assert!(matches!(decision, Decision::Challenge { .. }));
    let ares = answer(&areq, &decision);
    assert_eq!(ares.message_version, shonin_3ds::MessageVersion::V2_3_1);
    assert!(
        !ares.other.0.contains_key("authenticationType"),
        "2.3.1 has authenticationMethod instead"
    );
}

/// A challenge through to its messages: the RReq and the final CRes are valid messages of the
/// AReq's version, carry Y with ECI and value only when verified, and name a timeout.
#[test]
fn a_completed_challenge_sends_a_valid_rreq_and_final_cres() {
    use shonin_3ds::acs::{Challenge, TransactionIds, final_cres, rreq};
    use time::macros::datetime;
    let t0 = datetime!(2026-12-06 12:00 UTC);
    let areq = areq();
    let ids = TransactionIds::of(&areq, areq.ds_trans_id.as_deref().unwrap(), ACS_TRANS_ID);
    let challenging = Challenge::new(ChallengeMethod::Passkey, 3, t0)
        .creq(
            shonin_3ds::acs::Page {
                nonce: "bm9uY2U".into(),
                token_sha256: "00".repeat(32),
                session_data: None,
                ..shonin_3ds::acs::Page::default()
            },
            t0,
        )
        .unwrap();

    let verified = challenging
        .answer(true, t0 + time::Duration::seconds(20))
        .unwrap();
    let result = verified.result.clone().unwrap();
    let r = rreq(
        &ids,
        &result,
        verified.interaction_counter,
        Some("05".into()),
        Some("AAABBZEEBgAAAAAAAAQGAAAAAAA=".into()),
    );
    let sent = serde_json::to_vec(&r).unwrap();
    let Ok(Message::RReq(read)) = check(&sent, Versions::ALL) else {
        panic!("{}", String::from_utf8_lossy(&sent))
    };
    assert_eq!(read, r);
    assert_eq!(
        (
            r.trans_status,
            r.interaction_counter.as_deref(),
            r.eci.as_deref()
        ),
        (Some(TransStatus::Y), Some("01"), Some("05"))
    );
    assert_eq!(r.three_ds_server_trans_id, areq.three_ds_server_trans_id);
    let cres = final_cres(&ids, &result);
    let Ok(Message::CRes(read)) = check(&serde_json::to_vec(&cres).unwrap(), Versions::ALL) else {
        panic!()
    };
    assert_eq!(
        (read.trans_status, read.challenge_completion_ind.as_deref()),
        (Some(TransStatus::Y), Some("Y"))
    );

    let timed_out = challenging.expire(challenging.due_at).unwrap();
    let result = timed_out.result.clone().unwrap();
    let r = rreq(
        &ids,
        &result,
        timed_out.interaction_counter,
        Some("05".into()),
        Some("x".into()),
    );
    assert_eq!(
        (r.eci.as_deref(), r.authentication_value.as_deref()),
        (None, None),
        "no ECI or value for N"
    );
    assert_eq!(
        (
            r.trans_status_reason.as_deref(),
            r.challenge_cancel.as_deref()
        ),
        (Some("14"), Some("04"))
    );
    assert!(matches!(
        check(&serde_json::to_vec(&r).unwrap(), Versions::ALL),
        Ok(Message::RReq(_))
    ));
    assert_eq!(final_cres(&ids, &result).trans_status, Some(TransStatus::N));
}
