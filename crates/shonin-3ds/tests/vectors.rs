//! Every sample message in `tests/vectors/` parses, checks, and serialises back to the same JSON;
//! and each mutation the specification names answers its Erro code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use shonin_3ds::{
    ErrorCode, ErrorComponent, Message, MessageType, MessageVersion, Versions, check,
};

fn vectors() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
        &mut out,
    );
    out.sort();
    assert!(
        out.len() >= 90,
        "the sample messages are missing: {}",
        out.len()
    );
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn code(value: &Value) -> Result<Message, (ErrorCode, Option<String>)> {
    check(value.to_string().as_bytes(), Versions::ALL)
        .map_err(|r| (r.rejection.code, r.rejection.element))
}

#[test]
fn every_sample_checks_and_round_trips_without_losing_an_element() {
    let mut failures = Vec::new();
    for path in vectors() {
        let original = read(&path);
        match check(&std::fs::read(&path).unwrap(), Versions::ALL) {
            Ok(message) => {
                let name = path.file_stem().unwrap().to_str().unwrap();
                let expected = name.split('-').next().unwrap();
                assert_eq!(
                    message.message_type().as_str().to_lowercase(),
                    expected,
                    "{}",
                    path.display()
                );
                assert_eq!(
                    message.to_json(),
                    original,
                    "{} does not round-trip",
                    path.display()
                );
            }
            Err(refused) => failures.push(format!("{}: {}", path.display(), refused.rejection)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} samples refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn sample(rel: &str) -> Value {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(rel),
    )
}

fn without(mut v: Value, element: &str) -> Value {
    v.as_object_mut()
        .unwrap()
        .remove(element)
        .unwrap_or_else(|| panic!("no {element}"));
    v
}

fn with(mut v: Value, element: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(element.into(), value);
    v
}

const BROWSER_AREQ: &str = "visa/3DSS-220-101/areq.json";
const ARES: &str = "visa/3DSS-220-101/ares.json";

#[test]
fn each_sample_without_its_transaction_id_or_type_is_refused() {
    for path in vectors() {
        let v = read(&path);
        assert_eq!(
            code(&without(v.clone(), "messageType")).unwrap_err().0,
            ErrorCode::MessageReceivedInvalid,
            "{path:?}"
        );
        assert_eq!(
            code(&without(v.clone(), "messageVersion")).unwrap_err(),
            (
                ErrorCode::RequiredElementMissing,
                Some("messageVersion".into())
            ),
            "{path:?}"
        );
        if v.get("threeDSServerTransID").is_some() && v["messageType"] != "Erro" {
            assert_eq!(
                code(&without(v.clone(), "threeDSServerTransID")).unwrap_err(),
                (
                    ErrorCode::RequiredElementMissing,
                    Some("threeDSServerTransID".into())
                ),
                "{path:?}"
            );
            assert_eq!(
                code(&with(v, "threeDSServerTransID", json!("not-a-uuid"))).unwrap_err(),
                (
                    ErrorCode::InvalidFormat,
                    Some("threeDSServerTransID".into())
                ),
                "{path:?}"
            );
        }
    }
}

#[test]
fn message_type_and_version_decide_101_and_102() {
    let areq = sample(BROWSER_AREQ);
    assert_eq!(
        code(&with(areq.clone(), "messageType", json!("AReqX")))
            .unwrap_err()
            .0,
        ErrorCode::MessageReceivedInvalid
    );
    assert_eq!(
        code(&with(areq.clone(), "messageType", json!(1)))
            .unwrap_err()
            .0,
        ErrorCode::MessageReceivedInvalid
    );
    for version in [json!("2.4.0"), json!("2.2"), json!(2.2), json!("")] {
        assert_eq!(
            code(&with(areq.clone(), "messageVersion", version.clone()))
                .unwrap_err()
                .0,
            ErrorCode::MessageVersionNotSupported,
            "{version}"
        );
    }
    // Which versions are accepted is configuration: 2.1.0 refused when only 2.2.0 and 2.3.1 are.
    let modern = Versions::only(&[MessageVersion::V2_2_0, MessageVersion::V2_3_1]);
    let old = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/visa/3DSS-210-101/areq.json"),
    )
    .unwrap();
    assert!(check(&old, Versions::ALL).is_ok());
    let refused = check(&old, modern).unwrap_err();
    assert_eq!(
        refused.rejection.code,
        ErrorCode::MessageVersionNotSupported
    );
    // The Erro answers in a version the component accepts, naming the refused message.
    let erro = refused.erro(ErrorComponent::Acs, modern);
    assert_eq!(erro.message_version, MessageVersion::V2_3_1);
    assert_eq!(erro.error_message_type.as_deref(), Some("AReq"));
}

#[test]
fn a_browser_payment_areq_needs_its_browser_and_purchase_elements() {
    let areq = sample(BROWSER_AREQ);
    assert_eq!(areq["deviceChannel"], "02");
    assert_eq!(areq["messageCategory"], "01");
    for element in [
        "notificationURL",
        "browserUserAgent",
        "threeDSCompInd",
        "purchaseAmount",
        "purchaseCurrency",
        "acctNumber",
    ] {
        assert_eq!(
            code(&without(areq.clone(), element)).unwrap_err(),
            (ErrorCode::RequiredElementMissing, Some(element.into())),
            "{element}"
        );
    }
    // Every missing element is named, comma-separated.
    let both = without(without(areq.clone(), "purchaseAmount"), "notificationURL");
    assert_eq!(
        code(&both).unwrap_err().1.as_deref(),
        Some("notificationURL,purchaseAmount")
    );
    // A non-payment AReq has no purchase to describe.
    let npa = without(
        with(areq.clone(), "messageCategory", json!("02")),
        "purchaseAmount",
    );
    assert!(code(&npa).is_ok());
    // An app AReq needs no browser elements but its SDK ones.
    let app = without(with(areq, "deviceChannel", json!("01")), "browserUserAgent");
    let (c, element) = code(&app).unwrap_err();
    assert_eq!(c, ErrorCode::RequiredElementMissing);
    assert!(element.unwrap().contains("sdkAppID"));
}

#[test]
fn malformed_values_are_203_and_named_without_their_value() {
    let areq = sample(BROWSER_AREQ);
    for (element, bad) in [
        ("purchaseAmount", json!("12.34")),
        ("purchaseAmount", json!(1234)),
        ("purchaseCurrency", json!("EUR")),
        ("purchaseDate", json!("20261332000000")),
        ("acctNumber", json!("4111-1111-1111-1111")),
        ("notificationURL", json!("javascript:alert(1)")),
        ("threeDSCompInd", json!("X")),
        ("deviceChannel", json!("04")),
        ("browserJavaEnabled", json!("true")),
        ("merchantName", json!("M".repeat(41))),
        ("cardholderName", json!("")),
        ("email", Value::Null),
    ] {
        let refused = check(
            with(areq.clone(), element, bad.clone())
                .to_string()
                .as_bytes(),
            Versions::ALL,
        )
        .unwrap_err();
        assert_eq!(
            refused.rejection.code,
            ErrorCode::InvalidFormat,
            "{element} = {bad}"
        );
        assert_eq!(
            refused.rejection.element.as_deref(),
            Some(element),
            "{element} = {bad}"
        );
        if let Some(s) = bad.as_str().filter(|s| s.len() > 3) {
            assert!(
                !refused.rejection.detail.contains(s),
                "the detail repeats the value: {}",
                refused.rejection.detail
            );
        }
    }
}

#[test]
fn trans_status_values_follow_message_and_version() {
    let ares = sample(ARES);
    assert!(
        code(&with(ares.clone(), "transStatus", json!("I"))).is_ok(),
        "I is 2.2.0"
    );
    assert_eq!(
        code(&with(ares.clone(), "transStatus", json!("S")))
            .unwrap_err()
            .0,
        ErrorCode::InvalidFormat,
        "S is 2.3.1 only"
    );
    let v231 = with(ares.clone(), "messageVersion", json!("2.3.1"));
    assert!(code(&with(v231, "transStatus", json!("S"))).is_ok());
    let v210 = with(ares, "messageVersion", json!("2.1.0"));
    assert_eq!(
        code(&with(v210, "transStatus", json!("I"))).unwrap_err().0,
        ErrorCode::InvalidFormat,
        "I is not 2.1.0"
    );
    // The final CRes carries Y or N only.
    let cres = sample("visa/3DSS-220-107/cres.json");
    assert_eq!(
        code(&with(cres, "transStatus", json!("C"))).unwrap_err().0,
        ErrorCode::InvalidFormat
    );
}

#[test]
fn extensions_pass_unless_critical_and_unknown_elements_pass() {
    let ares = sample(ARES);
    let extension = |critical| json!([{"name": "x", "id": "A000000802-001", "criticalityIndicator": critical, "data": {"k": 1}}]);
    let plain = with(
        with(ares.clone(), "messageExtension", extension(false)),
        "someFutureElement",
        json!({"a": [1]}),
    );
    let Ok(message) = code(&plain) else {
        panic!("non-critical extensions and unknown elements pass")
    };
    assert_eq!(message.to_json(), plain, "and are written back");
    assert_eq!(
        code(&with(ares.clone(), "messageExtension", extension(true))).unwrap_err(),
        (
            ErrorCode::CriticalExtensionNotRecognised,
            Some("messageExtension[0]".into())
        )
    );
    let broken = json!([{"name": "x", "criticalityIndicator": false, "data": {}}]);
    assert_eq!(
        code(&with(ares, "messageExtension", broken)).unwrap_err(),
        (
            ErrorCode::RequiredElementMissing,
            Some("messageExtension[0].id".into())
        )
    );
}

#[test]
fn a_duplicate_element_is_204() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(ARES),
    )
    .unwrap();
    let doubled = text.replacen("\"eci\"", "\"eci\": \"07\", \"eci\"", 1);
    let refused = check(doubled.as_bytes(), Versions::ALL).unwrap_err();
    assert_eq!(refused.rejection.code, ErrorCode::DuplicateElement);
    assert_eq!(refused.rejection.element.as_deref(), Some("eci"));
}

#[test]
fn the_erro_answer_is_itself_a_valid_erro_carrying_the_ids() {
    let ares = sample(ARES);
    let refused = check(
        without(ares.clone(), "acsReferenceNumber")
            .to_string()
            .as_bytes(),
        Versions::ALL,
    )
    .unwrap_err();
    let erro = refused.erro(MessageType::ARes.receiver(), Versions::ALL);
    assert_eq!(erro.error_code, "201");
    assert_eq!(erro.error_component, "S");
    assert_eq!(
        erro.error_detail,
        "acsReferenceNumber: required and missing"
    );
    assert_eq!(
        erro.three_ds_server_trans_id.as_deref(),
        ares["threeDSServerTransID"].as_str()
    );
    assert_eq!(erro.acs_trans_id.as_deref(), ares["acsTransID"].as_str());
    assert_eq!(
        erro.message_version,
        MessageVersion::V2_2_0,
        "answers in the message's version"
    );
    let Ok(Message::Erro(read_back)) = check(&serde_json::to_vec(&erro).unwrap(), Versions::ALL)
    else {
        panic!("our Erro is not a valid Erro")
    };
    assert_eq!(read_back, erro);
    // A transaction ID that is not a UUID is not echoed.
    let refused = check(
        with(ares, "acsTransID", json!("<script>"))
            .to_string()
            .as_bytes(),
        Versions::ALL,
    )
    .unwrap_err();
    assert_eq!(
        refused
            .erro(ErrorComponent::ThreeDsServer, Versions::ALL)
            .acs_trans_id,
        None
    );
}

#[test]
fn the_card_number_never_appears_in_debug_output() {
    let areq = sample(BROWSER_AREQ);
    let pan = areq["acctNumber"].as_str().unwrap().to_owned();
    let Ok(Message::AReq(parsed)) = code(&areq) else {
        panic!()
    };
    let printed = format!("{parsed:?}");
    assert!(!printed.contains(&pan), "{printed}");
    assert!(!printed.contains(areq["cardholderName"].as_str().unwrap_or("-")));
    assert_eq!(parsed.acct_number.expose(), pan);
}

/// No public 2.3.1 samples exist; this one is the 2.2.0 browser AReq rewritten as the 2.3.1 changes
/// say (single values turned into arrays, white list renamed trust list, SPC support offered).
fn areq_231() -> Value {
    let mut v = sample(BROWSER_AREQ);
    let m = v.as_object_mut().unwrap();
    m.insert("messageVersion".into(), json!("2.3.1"));
    m.insert("threeDSRequestorChallengeInd".into(), json!(["01", "03"]));
    m.insert("threeDSRequestorSpcSupport".into(), json!("Y"));
    m.insert("acceptLanguage".into(), json!(["en-GB", "ja"]));
    m.insert("acquirerCountryCode".into(), json!("392"));
    m.insert("acquirerCountryCodeSource".into(), json!("01"));
    m.remove("threeDSRequestorAuthenticationInfo");
    m.remove("threeDSRequestorPriorAuthenticationInfo");
    m.insert(
        "threeDSRequestorURL".into(),
        json!("https://merchant.example/"),
    );
    if let Some(status) = m.remove("whiteListStatus") {
        m.insert("trustListStatus".into(), status);
    }
    v
}

#[test]
fn version_2_3_1_takes_arrays_where_2_2_0_took_single_values() {
    let areq = areq_231();
    assert!(code(&areq).is_ok(), "{:?}", code(&areq).err());
    assert_eq!(
        code(&with(
            areq.clone(),
            "threeDSRequestorChallengeInd",
            json!("01")
        ))
        .unwrap_err(),
        (
            ErrorCode::InvalidFormat,
            Some("threeDSRequestorChallengeInd".into())
        ),
        "a single value where 2.3.1 wants an array"
    );
    assert_eq!(
        code(&with(
            areq.clone(),
            "threeDSRequestorChallengeInd",
            json!(["01", "77"])
        ))
        .unwrap_err()
        .0,
        ErrorCode::InvalidFormat,
        "each entry is checked"
    );
    // 2.2.0 wants the single value.
    let v220 = with(areq, "messageVersion", json!("2.2.0"));
    assert_eq!(
        code(&v220).unwrap_err().1.as_deref(),
        Some("threeDSRequestorChallengeInd")
    );
}

#[test]
fn a_long_error_detail_is_cut_to_the_erro_limit() {
    let ares = sample(ARES);
    let broken: Vec<Value> = (0..500)
        .map(|_| json!({"name": "x", "criticalityIndicator": false, "data": {}}))
        .collect();
    let refused = check(
        with(ares, "messageExtension", json!(broken))
            .to_string()
            .as_bytes(),
        Versions::ALL,
    )
    .unwrap_err();
    assert_eq!(refused.rejection.code, ErrorCode::RequiredElementMissing);
    let erro = refused.erro(ErrorComponent::ThreeDsServer, Versions::ALL);
    assert_eq!(erro.error_detail.chars().count(), 2048);
    assert!(matches!(
        check(&serde_json::to_vec(&erro).unwrap(), Versions::ALL),
        Ok(Message::Erro(_))
    ));
}
