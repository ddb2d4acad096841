#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! RFC 9396 `authorization_details`: the shipped schemas and every limit, through the public API.

use serde_json::{Value, json};
use shonin_oauth::rar::{
    ACCOUNT_INFORMATION, AuthorizationDetail, AuthorizationDetailsPolicy, PAYMENT_INITIATION,
    RarError, canonical_sha256, details_to_json,
};

const BOTH: &[&str] = &[PAYMENT_INITIATION, ACCOUNT_INFORMATION];

fn policy() -> AuthorizationDetailsPolicy {
    AuthorizationDetailsPolicy::shipped().unwrap()
}

fn payment() -> Value {
    json!({
        "type": "payment_initiation",
        "actions": ["initiate", "status", "cancel"],
        "locations": ["https://example.com/payments"],
        "instructedAmount": {"currency": "EUR", "amount": "123.50"},
        "creditorName": "Merchant A",
        "creditorAccount": {"iban": "DE02100100109307118603"},
        "remittanceInformation": "Ref Number Merchant"
    })
}

fn parse(details: &Value) -> Result<Vec<AuthorizationDetail>, RarError> {
    policy().parse(details.to_string(), BOTH)
}

/// Parses `[entry]` and expects a schema violation reported at JSON Pointer `at` (`""` is the
/// entry itself, e.g. for a missing or unexpected member).
fn assert_schema_violation(entry: Value, at: &str) {
    match parse(&json!([entry])) {
        Err(RarError::SchemaViolation {
            index: 0,
            type_name,
            path,
            ..
        }) => {
            assert_eq!(type_name, "payment_initiation");
            assert_eq!(path, at);
        }
        other => panic!("expected a schema violation at {at:?}, got {other:?}"),
    }
}

fn with(mut entry: Value, pointer: &str, value: Value) -> Value {
    *entry.pointer_mut(pointer).unwrap() = value;
    entry
}

#[test]
fn valid_payment_with_iban_is_accepted_verbatim() {
    let details = parse(&json!([payment()])).unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].type_name(), "payment_initiation");
    assert_eq!(details[0].as_value(), &payment());
    assert_eq!(details_to_json(&details), json!([payment()]));
}

#[test]
fn valid_payment_with_other_scheme_and_only_required_fields_is_accepted() {
    let entry = json!({
        "type": "payment_initiation",
        "instructedAmount": {"currency": "JPY", "amount": "5000"},
        "creditorName": "Example Shop K.K.",
        "creditorAccount": {"other": {"identification": "0001-123-4567890",
                                       "schemeName": "JP.ZENGIN"}}
    });
    assert!(parse(&json!([entry])).is_ok());
}

#[test]
fn valid_account_information_and_payment_together() {
    let ais = json!({
        "type": "account_information",
        "actions": ["list_accounts", "read_balances", "read_transactions"],
        "locations": ["https://example.com/accounts"]
    });
    let details = parse(&json!([ais, payment()])).unwrap();
    assert_eq!(details[0].type_name(), "account_information");
    assert_eq!(details[1].type_name(), "payment_initiation");
}

#[test]
fn currency_must_be_three_upper_case_letters() {
    for bad in ["eur", "Eur", "EU", "EURO", "E1R", ""] {
        assert_schema_violation(
            with(payment(), "/instructedAmount/currency", json!(bad)),
            "/instructedAmount/currency",
        );
    }
}

#[test]
fn amount_must_be_a_positive_decimal_string_with_at_most_two_fraction_digits() {
    for ok in [
        "1",
        "0.01",
        "0.1",
        "0.50",
        "10.5",
        "123.45",
        "999999999999999.99",
    ] {
        let entry = with(payment(), "/instructedAmount/amount", json!(ok));
        assert!(parse(&json!([entry])).is_ok(), "{ok}");
    }
    for bad in [
        json!("0"),
        json!("0.0"),
        json!("0.00"),
        json!("1.234"),
        json!("-1"),
        json!("-0.01"),
        json!("+1"),
        json!("01"),
        json!("1."),
        json!(".5"),
        json!("1e3"),
        json!("1,00"),
        json!(" 1"),
        json!("1000000000000000"),
        json!(123.45),
        json!(null),
    ] {
        assert_schema_violation(
            with(payment(), "/instructedAmount/amount", bad),
            "/instructedAmount/amount",
        );
    }
}

#[test]
fn creditor_name_is_required_and_bounded() {
    let mut missing = payment();
    missing.as_object_mut().unwrap().remove("creditorName");
    assert_schema_violation(missing, "");
    for bad in [json!(""), json!("   "), json!("x".repeat(141)), json!(42)] {
        assert_schema_violation(with(payment(), "/creditorName", bad), "/creditorName");
    }
    // 140 characters, counted as characters not bytes.
    let long = with(payment(), "/creditorName", json!("é".repeat(140)));
    assert!(parse(&json!([long])).is_ok());
}

#[test]
fn creditor_account_needs_exactly_one_of_iban_or_other() {
    let both = json!({"iban": "DE02100100109307118603",
                      "other": {"identification": "1", "schemeName": "X"}});
    assert_schema_violation(
        with(payment(), "/creditorAccount", both),
        "/creditorAccount",
    );
    assert_schema_violation(
        with(payment(), "/creditorAccount", json!({})),
        "/creditorAccount",
    );
    let incomplete = json!({"other": {"identification": "1"}});
    assert_schema_violation(
        with(payment(), "/creditorAccount", incomplete),
        "/creditorAccount/other",
    );
    for bad_iban in [
        "de02100100109307118603",
        "DE02 1001 0010",
        "D002100100109307118603",
    ] {
        assert_schema_violation(
            with(payment(), "/creditorAccount/iban", json!(bad_iban)),
            "/creditorAccount/iban",
        );
    }
}

#[test]
fn iban_with_a_wrong_check_digit_is_refused_after_the_schema_passes() {
    let entry = with(
        payment(),
        "/creditorAccount/iban",
        json!("DE02100100109307118604"),
    );
    let err = parse(&json!([entry])).unwrap_err();
    assert_eq!(err, RarError::IbanChecksum { index: 0 });
    assert_eq!(err.oauth_error(), "invalid_authorization_details");
}

#[test]
fn unknown_members_are_refused_but_rfc9396_common_fields_are_allowed() {
    let mut extra = payment();
    extra["debtorAccount"] = json!({"iban": "DE02100100109307118603"});
    assert_schema_violation(extra, "");
    let mut nested = payment();
    nested["instructedAmount"]["fx"] = json!("1.1");
    assert_schema_violation(nested, "/instructedAmount");
    let mut common = payment();
    common["datatypes"] = json!(["transactions"]);
    common["identifier"] = json!("order-42");
    common["privileges"] = json!(["admin"]);
    assert!(parse(&json!([common])).is_ok());
    let mut ais_extra = json!({"type": "account_information", "actions": ["read_balances"]});
    ais_extra["identifier"] = json!("acc-1");
    assert!(matches!(
        parse(&json!([ais_extra])),
        Err(RarError::SchemaViolation { .. })
    ));
}

#[test]
fn account_information_actions_and_locations_are_constrained() {
    let ok = json!({"type": "account_information", "actions": ["read_balances"]});
    assert!(parse(&json!([ok])).is_ok());
    for bad in [
        json!({"type": "account_information"}),
        json!({"type": "account_information", "actions": []}),
        json!({"type": "account_information", "actions": ["transfer_funds"]}),
        json!({"type": "account_information", "actions": ["read_balances", "read_balances"]}),
        json!({"type": "account_information", "actions": ["read_balances"],
               "locations": ["http://example.com/accounts"]}),
        json!({"type": "account_information", "actions": ["read_balances"],
               "locations": ["https://user@example.com/accounts"]}),
        json!({"type": "account_information", "actions": ["read_balances"],
               "locations": ["javascript:alert(1)"]}),
    ] {
        assert!(
            matches!(parse(&json!([bad])), Err(RarError::SchemaViolation { .. })),
            "{bad}"
        );
    }
}

#[test]
fn unknown_type_is_invalid_authorization_details() {
    let err = parse(&json!([{"type": "crypto_transfer", "amount": "1"}])).unwrap_err();
    assert_eq!(
        err,
        RarError::UnknownType {
            index: 0,
            type_name: "crypto_transfer".into()
        }
    );
    assert_eq!(err.oauth_error(), "invalid_authorization_details");
}

#[test]
fn type_not_registered_for_the_client_is_refused() {
    let err = policy()
        .parse(json!([payment()]).to_string(), &[ACCOUNT_INFORMATION])
        .unwrap_err();
    assert_eq!(
        err,
        RarError::TypeNotAllowed {
            index: 0,
            type_name: "payment_initiation".into()
        }
    );
    assert_eq!(err.oauth_error(), "invalid_authorization_details");
    let none: &[&str] = &[];
    assert!(
        policy()
            .parse(json!([payment()]).to_string(), none)
            .is_err()
    );
}

#[test]
fn the_parameter_must_be_a_non_empty_array_of_objects_with_a_string_type() {
    assert_eq!(parse(&payment()), Err(RarError::NotAnArray));
    assert_eq!(
        parse(&json!("payment_initiation")),
        Err(RarError::NotAnArray)
    );
    assert_eq!(parse(&json!([])), Err(RarError::Empty));
    assert_eq!(
        parse(&json!([payment(), "x"])),
        Err(RarError::EntryNotAnObject { index: 1 })
    );
    assert_eq!(
        parse(&json!([{"creditorName": "x"}])),
        Err(RarError::MissingType { index: 0 })
    );
    assert_eq!(
        parse(&json!([{"type": 7}])),
        Err(RarError::MissingType { index: 0 })
    );
}

#[test]
fn oversized_parameter_is_refused_before_parsing() {
    let big = format!("[{}]", " ".repeat(16 * 1024));
    assert_eq!(
        policy().parse(&big, BOTH),
        Err(RarError::TooLarge { max: 16 * 1024 })
    );
    // Exactly at the limit is parsed (and then refused for its content only).
    let at_limit = format!("[{}]", " ".repeat(16 * 1024 - 2));
    assert_eq!(policy().parse(&at_limit, BOTH), Err(RarError::Empty));
}

#[test]
fn too_deep_nesting_is_refused_before_parsing() {
    let deep = format!("[{}{}]", "[".repeat(100_000 / 2), "]".repeat(100_000 / 2));
    let p = policy().with_limits(1 << 20, 8, 10);
    assert_eq!(p.parse(&deep, BOTH), Err(RarError::TooDeep { max: 8 }));
    // Depth 8 exactly is allowed by the scanner (the schema then refuses it).
    let eight =
        json!([{"type": "payment_initiation", "a": {"b": {"c": {"d": {"e": {"f": [1]}}}}}}]);
    assert!(matches!(
        parse(&eight),
        Err(RarError::SchemaViolation { .. })
    ));
    let nine =
        json!([{"type": "payment_initiation", "a": {"b": {"c": {"d": {"e": {"f": [[1]]}}}}}}]);
    assert_eq!(parse(&nine), Err(RarError::TooDeep { max: 8 }));
}

#[test]
fn more_than_ten_entries_are_refused() {
    let ais = json!({"type": "account_information", "actions": ["read_balances"]});
    let ten = Value::Array(vec![ais.clone(); 10]);
    assert_eq!(parse(&ten).unwrap().len(), 10);
    let eleven = Value::Array(vec![ais; 11]);
    assert_eq!(parse(&eleven), Err(RarError::TooManyEntries { max: 10 }));
}

#[test]
fn garbage_and_non_utf8_input_is_refused_cleanly() {
    let p = policy();
    assert_eq!(
        p.parse(b"[{\"type\":\"payment_initiation\xff\"}]", BOTH),
        Err(RarError::NotUtf8)
    );
    for garbage in [
        "",
        "[",
        "[{]",
        "[{\"type\":\"x\",}]",
        "[1,]",
        "NaN",
        "[] []",
        "\u{feff}[]",
        "[{'type':'x'}]",
    ] {
        assert_eq!(
            p.parse(garbage, BOTH),
            Err(RarError::MalformedJson),
            "{garbage:?}"
        );
    }
}

#[test]
fn html_and_sql_metacharacters_are_data() {
    let name = r#"<script>alert("x")</script> & '; DROP TABLE users; -- O'Brien"#;
    let mut entry = with(payment(), "/creditorName", json!(name));
    entry["remittanceInformation"] = json!("<b>invoice</b> 1=1 OR \"a\"='a'");
    let details = parse(&json!([entry])).unwrap();
    assert_eq!(details[0].as_value()["creditorName"], name);
}

#[test]
fn control_and_bidi_characters_are_refused_wherever_they_are() {
    for bad in [
        "Merchant\u{0}A",
        "Merchant\nA",
        "Merchant\tA",
        "Merchant\u{7f}",
        "Merchant\u{85}",
        "Merchant\u{202e}A",
        "Merchant\u{2066}A",
        "Merchant\u{2028}A",
    ] {
        let entry = with(payment(), "/creditorName", json!(bad));
        assert_eq!(
            parse(&json!([entry])),
            Err(RarError::ControlCharacter {
                index: 0,
                path: "/creditorName".into()
            }),
            "{bad:?}"
        );
    }
    let entry = with(
        payment(),
        "/creditorAccount",
        json!({"other": {"identification": "1\r2", "schemeName": "X"}}),
    );
    assert_eq!(
        parse(&json!([entry])),
        Err(RarError::ControlCharacter {
            index: 0,
            path: "/creditorAccount/other/identification".into()
        })
    );
    let mut key = payment();
    key["bad\u{1b}key"] = json!("x");
    assert_eq!(
        parse(&json!([key])),
        Err(RarError::ControlCharacter {
            index: 0,
            path: "/".into()
        })
    );
}

#[test]
fn error_messages_do_not_echo_submitted_values() {
    let secret = "DE02100100109307118604";
    let entry = with(payment(), "/creditorAccount/iban", json!(secret));
    let msg = parse(&json!([entry])).unwrap_err().to_string();
    assert!(!msg.contains(secret), "{msg}");
    let entry = with(
        payment(),
        "/creditorName",
        json!("Secret Person ".repeat(20)),
    );
    let err = parse(&json!([entry])).unwrap_err();
    let msg = err.to_string();
    assert!(!msg.contains("Secret Person"), "{msg}");
    let long_type = "t".repeat(500);
    let msg = parse(&json!([{"type": long_type}]))
        .unwrap_err()
        .to_string();
    assert!(msg.len() < 200, "{msg}");
}

#[test]
fn operators_can_add_a_type_with_its_own_schema() {
    let schema = r#"{
        "type": "object",
        "required": ["type", "limit"],
        "additionalProperties": false,
        "properties": {
            "type": {"const": "https://bank.example/card_limit"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 5000}
        }
    }"#;
    let p = policy()
        .with_schema("https://bank.example/card_limit", schema)
        .unwrap();
    assert!(
        p.supported_types()
            .contains(&"https://bank.example/card_limit".to_owned())
    );
    let allowed = ["https://bank.example/card_limit"];
    let ok = json!([{"type": "https://bank.example/card_limit", "limit": 100}]);
    assert!(p.parse(ok.to_string(), &allowed).is_ok());
    let bad = json!([{"type": "https://bank.example/card_limit", "limit": 100000}]);
    assert!(matches!(
        p.parse(bad.to_string(), &allowed),
        Err(RarError::SchemaViolation { .. })
    ));
}

#[test]
fn operator_schemas_are_checked_at_startup() {
    let err = policy()
        .with_schema("payment_initiation", "{}")
        .unwrap_err();
    assert_eq!(err, RarError::DuplicateType("payment_initiation".into()));
    assert_eq!(err.oauth_error(), "server_error");
    for bad_name in ["", "has space", "<x>"] {
        assert!(matches!(
            policy().with_schema(bad_name, "{}"),
            Err(RarError::InvalidTypeName(_))
        ));
    }
    for bad_schema in [
        "not json",
        r#"{"type": "no-such-type"}"#,
        r#"{"$ref": "https://schemas.example/remote.json"}"#,
        r#"{"$ref": "file:///etc/passwd"}"#,
        // Look-around needs a backtracking engine; the linear one refuses it.
        r#"{"type": "string", "pattern": "^(?=a)a$"}"#,
    ] {
        assert!(
            matches!(
                policy().with_schema("custom", bad_schema),
                Err(RarError::InvalidSchema { .. })
            ),
            "{bad_schema}"
        );
    }
}

#[test]
fn canonical_hash_is_stable_across_member_order_and_changes_with_content() {
    let a = parse(&json!([payment()])).unwrap();
    let reordered: Value = serde_json::from_str(
        r#"[{"creditorAccount":{"iban":"DE02100100109307118603"},"creditorName":"Merchant A",
            "remittanceInformation":"Ref Number Merchant",
            "instructedAmount":{"amount":"123.50","currency":"EUR"},
            "locations":["https://example.com/payments"],
            "actions":["initiate","status","cancel"],"type":"payment_initiation"}]"#,
    )
    .unwrap();
    let b = policy().parse(reordered.to_string(), BOTH).unwrap();
    assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
    let c = parse(&json!([with(
        payment(),
        "/instructedAmount/amount",
        json!("123.51")
    )]))
    .unwrap();
    assert_ne!(canonical_sha256(&a), canonical_sha256(&c));
    let values: Vec<Value> = a.iter().map(|d| d.as_value().clone()).collect();
    assert_eq!(canonical_sha256(&values), canonical_sha256(&a));
}

#[test]
fn schema_errors_stay_short_even_for_huge_member_names() {
    let mut entry = payment();
    entry["x".repeat(10_000)] = json!(1);
    match parse(&json!([entry])) {
        Err(RarError::SchemaViolation { reason, path, .. }) => {
            assert!(reason.chars().count() <= 201, "{}", reason.len());
            assert_eq!(path, "");
        }
        other => panic!("{other:?}"),
    }
}
