//! The 3DS Server's pure side: AReqs built per version pass the checks of their own version, a
//! merchant's bad value is refused naming its element, and the ARes, RReq and final CRes are
//! read against the transaction they answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{Value, json};
use shonin_3ds::server::flow::{PurchaseSummary, ServerData};
use shonin_3ds::server::{
    Authenticate, MethodCompletion, ServerProfile, ServerState, ServerTransaction, read_ares,
    read_cres, read_rreq, rres,
};
use shonin_3ds::{ErrorCode, Message, MessageVersion, TransStatus, Versions, check};
use time::OffsetDateTime;

const ID: &str = "8a880dc0-d2d2-4067-bcb1-b08d1690b26e";
const DS_ID: &str = "6a00d179-bcdd-4eb4-a7e9-40eb30023b05";
const ACS_ID: &str = "f888079d-dae8-4a18-81b0-be6e77355e71";

fn profile() -> ServerProfile {
    ServerProfile {
        reference_number: "SHONIN-3DSS".into(),
        operator_id: None,
        results_url: "https://psp.example/3ds/server/rreq".into(),
        notification_url: "https://psp.example/3ds/server/notification".into(),
        requestor_id: "PSP-0001".into(),
        requestor_name: "Example PSP".into(),
        requestor_url: "https://psp.example/".into(),
    }
}

fn input(tweak: impl FnOnce(&mut Value)) -> Authenticate {
    let mut v = json!({
        "card": {"number": "4012 0000 0000 6013", "expiry": "3012"},
        "purchase": {"amount": "12345", "currency": "978", "exponent": 2},
        "merchant": {"name": "Tea Shop", "mcc": "5812", "country": "276",
                     "acquirer_bin": "400551", "acquirer_merchant_id": "M-1"},
        "browser": {"accept_header": "text/html", "user_agent": "Mozilla/5.0",
                    "language": "de-DE", "javascript_enabled": true, "color_depth": 24,
                    "screen_height": 900, "screen_width": 1440, "tz": -60,
                    "ip": "192.0.2.7"},
    });
    tweak(&mut v);
    serde_json::from_value(v).unwrap()
}

fn build(
    version: MessageVersion,
    input: &Authenticate,
) -> Result<shonin_3ds::AReq, shonin_3ds::Rejection> {
    let pan = input.pan()?;
    shonin_3ds::server::areq::build(
        version,
        &profile(),
        input,
        &pan,
        ID,
        MethodCompletion::Unavailable,
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap(),
    )
}

#[test]
fn an_areq_is_valid_in_each_version_it_is_built_for() {
    for version in [MessageVersion::V2_2_0, MessageVersion::V2_3_1] {
        let areq = build(version, &input(|_| {})).unwrap();
        let bytes = serde_json::to_vec(&areq).unwrap();
        let Message::AReq(read) = check(&bytes, Versions::only(&[version])).unwrap() else {
            panic!("not an AReq");
        };
        assert_eq!(read.message_version, version);
        assert_eq!(read.acct_number.expose(), "4012000000006013");
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["threeDSCompInd"], "U");
        assert_eq!(json["purchaseDate"], "20260528202640");
        assert_eq!(json["browserTZ"], "-60");
        assert!(json.get("dsTransID").is_none());
        if version == MessageVersion::V2_3_1 {
            assert_eq!(json["threeDSRequestorChallengeInd"], json!(["01"]));
            assert_eq!(json["acceptLanguage"], json!(["de-DE"]));
            assert_eq!(json["acquirerCountryCode"], "276");
        } else {
            assert_eq!(json["threeDSRequestorChallengeInd"], "01");
            assert!(json.get("acceptLanguage").is_none());
        }
    }
}

#[test]
fn a_bad_value_is_refused_naming_its_element_and_never_its_value() {
    type Tweak = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Tweak, &str)> = vec![
        (
            Box::new(|v| v["card"]["number"] = json!("4012000000006014")),
            "card.number",
        ),
        (
            Box::new(|v| v["purchase"]["currency"] = json!("EUR")),
            "purchaseCurrency",
        ),
        (
            Box::new(|v| v["purchase"]["amount"] = json!("12.50")),
            "purchaseAmount",
        ),
        (Box::new(|v| v["merchant"]["mcc"] = json!("58123")), "mcc"),
        (
            Box::new(|v| v["merchant"]["name"] = json!("x".repeat(41))),
            "merchantName",
        ),
        (
            Box::new(|v| v["card"]["expiry"] = json!("3013")),
            "cardExpiryDate",
        ),
        (
            Box::new(|v| v["challenge_window_size"] = json!("06")),
            "challenge_window_size",
        ),
        (
            Box::new(|v| v["session_data"] = json!("not base64!")),
            "threeDSSessionData",
        ),
    ];
    for (tweak, element) in cases {
        let refused = build(MessageVersion::V2_2_0, &input(tweak)).unwrap_err();
        assert_eq!(refused.element.as_deref(), Some(element), "{refused:?}");
        assert!(!refused.error_detail().contains("4012000000006014"));
    }
    let unknown =
        serde_json::from_value::<Authenticate>(json!({"card": {"number": "1", "cvv": "1"}}));
    assert!(unknown.is_err(), "unknown members are refused");
}

fn sent() -> shonin_3ds::AReq {
    build(MessageVersion::V2_2_0, &input(|_| {})).unwrap()
}

fn ares(status: &str, tweak: impl FnOnce(&mut Value)) -> Message {
    let mut v = json!({
        "messageType": "ARes", "messageVersion": "2.2.0",
        "threeDSServerTransID": ID, "dsTransID": DS_ID, "acsTransID": ACS_ID,
        "acsReferenceNumber": "ACSRefNum1234", "dsReferenceNumber": "DS-SIM-1",
        "transStatus": status,
    });
    if matches!(status, "Y" | "A") {
        v["eci"] = json!("05");
        v["authenticationValue"] = json!("AAABBZEEBgAAAAAAAAQGAAAAAAA=");
    }
    if status == "C" {
        v["acsURL"] = json!("https://acs.example/3ds/acs/challenge");
        v["acsChallengeMandated"] = json!("Y");
        v["authenticationType"] = json!("02");
    }
    tweak(&mut v);
    serde_json::from_value::<shonin_3ds::ARes>(v)
        .map(Message::ARes)
        .unwrap()
}

#[test]
fn an_ares_completes_challenges_or_fails_the_transaction() {
    let y = read_ares(&sent(), ares("Y", |_| {}), "05", None);
    assert_eq!(y.state, ServerState::Completed);
    let result = y.result.unwrap();
    assert_eq!(
        (result.trans_status, result.eci.as_deref()),
        (TransStatus::Y, Some("05"))
    );
    assert_eq!(y.acs_trans_id.as_deref(), Some(ACS_ID));

    let c = read_ares(&sent(), ares("C", |_| {}), "03", Some("c2Vzc2lvbg".into()));
    assert_eq!(c.state, ServerState::Challenge);
    let challenge = c.challenge.unwrap();
    assert_eq!(challenge.acs_url, "https://acs.example/3ds/acs/challenge");
    let creq = shonin_3ds::acs::creq::read(&challenge.creq, Versions::ALL).unwrap();
    assert_eq!(
        (
            creq.acs_trans_id.as_str(),
            creq.challenge_window_size.as_deref()
        ),
        (ACS_ID, Some("03"))
    );
    assert!(!challenge.creq.contains('='), "base64url without padding");

    let problem = |m| read_ares(&sent(), m, "05", None).problem.unwrap();
    assert_eq!(
        problem(ares("Y", |v| v["threeDSServerTransID"] = json!(DS_ID))).error_code,
        "301"
    );
    assert_eq!(
        problem(ares("Y", |v| v["messageVersion"] = json!("2.3.1"))).error_code,
        "203"
    );
    assert_eq!(
        problem(ares("Y", |v| {
            v.as_object_mut().unwrap().remove("authenticationValue");
        }))
        .error_code,
        "201"
    );
    assert_eq!(
        problem(ares("C", |v| {
            v.as_object_mut().unwrap().remove("acsURL");
        }))
        .error_code,
        "201"
    );
    assert_eq!(problem(ares("D", |_| {})).error_code, "203");
    let erro = serde_json::from_value(json!({
        "messageType": "Erro", "messageVersion": "2.2.0", "errorCode": "305",
        "errorComponent": "D", "errorDescription": "Transaction data not valid",
        "errorDetail": "acctNumber"}))
    .unwrap();
    let failed = read_ares(&sent(), Message::Erro(erro), "05", None);
    assert_eq!(failed.state, ServerState::Failed);
    let p = failed.problem.unwrap();
    assert_eq!(
        (p.error_code.as_str(), p.error_component.as_str()),
        ("305", "D")
    );
}

fn challenged() -> ServerTransaction {
    let now = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    ServerTransaction {
        three_ds_server_trans_id: ID.into(),
        client_id: "psp".into(),
        state: ServerState::Challenge,
        data: ServerData {
            message_version: Some(MessageVersion::V2_2_0),
            ds_trans_id: Some(DS_ID.into()),
            acs_trans_id: Some(ACS_ID.into()),
            masked_pan: "401200******6013".into(),
            method: None,
            purchase: Some(PurchaseSummary {
                merchant_name: "Tea Shop".into(),
                amount: "12345".into(),
                currency: "978".into(),
                exponent: 2,
            }),
            result: None,
            challenge: None,
            problem: None,
            final_cres: None,
        },
        created_at: now,
        expires_at: now + time::Duration::hours(1),
        version: 1,
    }
}

fn rreq(tweak: impl FnOnce(&mut Value)) -> shonin_3ds::RReq {
    let mut v = json!({
        "messageType": "RReq", "messageVersion": "2.2.0", "messageCategory": "01",
        "threeDSServerTransID": ID, "dsTransID": DS_ID, "acsTransID": ACS_ID,
        "transStatus": "N", "transStatusReason": "01", "challengeCancel": "01",
        "interactionCounter": "01"
    });
    tweak(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn an_rreq_ends_a_challenge_of_its_own_ids_once() {
    let txn = challenged();
    let result = read_rreq(&txn, &rreq(|_| {})).unwrap();
    assert_eq!(result.trans_status, TransStatus::N);
    assert_eq!(result.challenge_cancel.as_deref(), Some("01"));
    let answer = rres(&rreq(|_| {}));
    let bytes = serde_json::to_vec(&answer).unwrap();
    assert!(
        matches!(check(&bytes, Versions::ALL).unwrap(), Message::RRes(r) if r.results_status == "01")
    );

    let code = |txn: &ServerTransaction, r| read_rreq(txn, &r).unwrap_err().code;
    assert_eq!(
        code(&txn, rreq(|v| v["acsTransID"] = json!(DS_ID))),
        ErrorCode::TransactionIdNotRecognised
    );
    assert_eq!(
        code(&txn, rreq(|v| v["dsTransID"] = json!(ACS_ID))),
        ErrorCode::TransactionIdNotRecognised
    );
    assert_eq!(
        code(&txn, rreq(|v| v["messageVersion"] = json!("2.3.1"))),
        ErrorCode::InvalidFormat
    );
    assert_eq!(
        code(&txn, rreq(|v| v["transStatus"] = json!("C"))),
        ErrorCode::InvalidFormat
    );
    assert_eq!(
        code(&txn, rreq(|v| v["transStatus"] = json!("Y"))),
        ErrorCode::RequiredElementMissing
    );
    let done = ServerTransaction {
        state: ServerState::Completed,
        ..challenged()
    };
    assert_eq!(
        code(&done, rreq(|_| {})),
        ErrorCode::TransactionDataNotValid
    );
}

#[test]
fn a_final_cres_says_y_or_n_for_its_own_transaction() {
    let txn = challenged();
    let cres = |status: &str, acs: &str| -> shonin_3ds::CRes {
        serde_json::from_value(json!({
            "messageType": "CRes", "messageVersion": "2.2.0", "threeDSServerTransID": ID,
            "acsTransID": acs, "challengeCompletionInd": "Y", "transStatus": status}))
        .unwrap()
    };
    assert_eq!(read_cres(&txn, &cres("Y", ACS_ID)).unwrap(), TransStatus::Y);
    assert_eq!(
        read_cres(&txn, &cres("A", ACS_ID)).unwrap_err().code,
        ErrorCode::InvalidFormat
    );
    assert_eq!(
        read_cres(&txn, &cres("N", DS_ID)).unwrap_err().code,
        ErrorCode::TransactionIdNotRecognised
    );
}

#[test]
fn method_data_round_trips_and_refuses_what_names_no_transaction() {
    use shonin_3ds::server::areq::{method_data, read_method_data};
    let data = method_data(ID, "https://psp.example/3ds/server/method-notification");
    assert!(!data.contains('='), "base64url without padding");
    assert_eq!(
        read_method_data(&data),
        Some((
            ID.to_owned(),
            "https://psp.example/3ds/server/method-notification".to_owned()
        ))
    );
    let encode = |v: Value| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, v.to_string())
    };
    // Padding is tolerated.
    let padded = encode(
        json!({"threeDSServerTransID": ID, "threeDSMethodNotificationURL": "https://a.example/n"}),
    );
    assert!(read_method_data(&padded).is_some());
    for bad in [
        "not base64!".to_owned(),
        encode(
            json!({"threeDSServerTransID": "1", "threeDSMethodNotificationURL": "https://a.example/n"}),
        ),
        encode(json!({"threeDSServerTransID": ID})),
        encode(json!([ID])),
        "A".repeat(2049),
    ] {
        assert_eq!(read_method_data(&bad), None, "{bad}");
    }
}
