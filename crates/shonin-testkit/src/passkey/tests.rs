use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde_json::{Value, json};

use super::*;

const ORIGIN: &str = "https://example.com";

fn creation(user: &str) -> Value {
    json!({"publicKey": {
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": user, "name": "alice", "displayName": "Alice"},
        "challenge": "Y3JlYXRl",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "extensions": {"credProps": true, "credentialProtectionPolicy": "userVerificationRequired"}
    }})
}

fn request(allow: &[&str]) -> Value {
    let allow: Vec<Value> = allow
        .iter()
        .map(|id| json!({"type": "public-key", "id": id}))
        .collect();
    json!({"publicKey": {
        "challenge": "Z2V0",
        "rpId": "example.com",
        "allowCredentials": allow,
        "userVerification": "required"
    }})
}

fn b64(value: &Value) -> Vec<u8> {
    base64url::decode(value.as_str().unwrap()).unwrap()
}

#[test]
fn registration_json_has_the_shape_of_to_json() {
    let mut authenticator = Authenticator::new([7; 16]);
    let response = authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    assert_eq!(response["id"], response["rawId"]);
    assert_eq!(b64(&response["rawId"]).len(), 32);
    assert!(!response["id"].as_str().unwrap().contains('='));
    assert_eq!(response["type"], "public-key");
    assert_eq!(response["authenticatorAttachment"], "platform");
    assert_eq!(
        response["clientExtensionResults"],
        json!({"credProps": {"rk": true}})
    );
    assert_eq!(response["response"]["transports"], json!(["internal"]));
    assert_eq!(response["response"]["publicKeyAlgorithm"], -7);
    assert_eq!(
        String::from_utf8(b64(&response["response"]["clientDataJSON"])).unwrap(),
        r#"{"type":"webauthn.create","challenge":"Y3JlYXRl","origin":"https://example.com","crossOrigin":false}"#
    );
    let auth_data = b64(&response["response"]["authenticatorData"]);
    let attestation_object = b64(&response["response"]["attestationObject"]);
    assert!(attestation_object.ends_with(&auth_data));
    assert_eq!(auth_data[32], UP | UV | 0x40);
    assert_eq!(&auth_data[33..37], &[0, 0, 0, 0]);
    assert_eq!(&auth_data[37..53], &[7; 16]);
    let spki = b64(&response["response"]["publicKey"]);
    assert_eq!(&spki[26..], authenticator.credentials()[0].public_key());
}

#[test]
fn assertion_signature_verifies_over_auth_data_and_client_data_hash() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let response = authenticator.authenticate(&request(&[]), ORIGIN).unwrap();
    let auth_data = b64(&response["response"]["authenticatorData"]);
    let client_data = b64(&response["response"]["clientDataJSON"]);
    let mut signed = auth_data.clone();
    signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
    let public_key = authenticator.credentials()[0].public_key();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(&signed, &b64(&response["response"]["signature"]))
        .unwrap();
    assert_eq!(auth_data.len(), 37);
    assert_eq!(auth_data[32], UP | UV);
    assert_eq!(b64(&response["response"]["userHandle"]), [1, 2, 3]);
    assert!(
        String::from_utf8(client_data)
            .unwrap()
            .starts_with(r#"{"type":"webauthn.get","challenge":"Z2V0""#)
    );
}

#[test]
fn counter_grows_by_the_step_and_can_be_set_back() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let count = |response: &Value| {
        let data = b64(&response["response"]["authenticatorData"]);
        u32::from_be_bytes(data[33..37].try_into().unwrap())
    };
    assert_eq!(
        count(&authenticator.authenticate(&request(&[]), ORIGIN).unwrap()),
        1
    );
    authenticator.counter_step = 5;
    assert_eq!(
        count(&authenticator.authenticate(&request(&[]), ORIGIN).unwrap()),
        6
    );
    let id = authenticator.credential_ids()[0].clone();
    authenticator.set_counter(&id, 2).unwrap();
    assert_eq!(
        count(&authenticator.authenticate(&request(&[]), ORIGIN).unwrap()),
        7
    );
    authenticator.counter_step = 0;
    authenticator.set_counter(&id, 0).unwrap();
    assert_eq!(
        count(&authenticator.authenticate(&request(&[]), ORIGIN).unwrap()),
        0
    );
    assert!(matches!(
        authenticator.set_counter("AAAA", 1),
        Err(Error::UnknownCredential(_))
    ));
}

#[test]
fn flags_follow_the_knobs() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.user_present = false;
    authenticator.user_verified = false;
    authenticator.backup_eligible = true;
    authenticator.backup_state = true;
    authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let response = authenticator.authenticate(&request(&[]), ORIGIN).unwrap();
    assert_eq!(b64(&response["response"]["authenticatorData"])[32], BE | BS);
}

#[test]
fn credential_choice_follows_allow_list_then_user_choice() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.register(&creation("AQ"), ORIGIN).unwrap();
    authenticator.register(&creation("Ag"), ORIGIN).unwrap();
    authenticator.register(&creation("Aw"), ORIGIN).unwrap();
    let ids = authenticator.credential_ids();
    let used = |authenticator: &mut Authenticator, allow: &[&str]| {
        let response = authenticator.authenticate(&request(allow), ORIGIN).unwrap();
        response["id"].as_str().unwrap().to_owned()
    };

    assert_eq!(used(&mut authenticator, &[]), ids[0]);
    assert_eq!(
        used(
            &mut authenticator,
            &["AAAA", ids[2].as_str(), ids[1].as_str()]
        ),
        ids[2]
    );
    authenticator.use_credential(Some(ids[1].as_str())).unwrap();
    assert_eq!(used(&mut authenticator, &[]), ids[1]);
    assert_eq!(
        used(&mut authenticator, &[ids[2].as_str(), ids[1].as_str()]),
        ids[1]
    );
    // The chosen credential is not offered: the first listed one is used.
    assert_eq!(used(&mut authenticator, &[ids[0].as_str()]), ids[0]);
    authenticator.use_credential(None).unwrap();
    assert_eq!(used(&mut authenticator, &[]), ids[0]);
    assert!(matches!(
        authenticator.authenticate(&request(&["AAAA"]), ORIGIN),
        Err(Error::NoCredential(_))
    ));
}

#[test]
fn credentials_of_another_rp_are_never_used() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let mut options = request(&[]);
    options["publicKey"]["rpId"] = json!("other.example");
    assert!(matches!(
        authenticator.authenticate(&options, "https://other.example"),
        Err(Error::NoCredential(rp)) if rp == "other.example"
    ));
}

#[test]
fn registering_the_same_user_again_replaces_the_credential() {
    let mut authenticator = Authenticator::new([0; 16]);
    let first = authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    authenticator.register(&creation("BAUG"), ORIGIN).unwrap();
    let third = authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let ids = authenticator.credential_ids();
    assert_eq!(ids.len(), 2);
    assert!(!ids.iter().any(|id| first["id"] == *id.as_str()));
    assert_eq!(third["id"], ids[1].as_str());
}

#[test]
fn debug_output_leaves_out_the_private_key() {
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.register(&creation("AQID"), ORIGIN).unwrap();
    let debug = format!("{:?}", authenticator.credentials()[0]);
    assert!(debug.starts_with("SoftPasskey { credential_id: "));
    assert!(!debug.contains("key_pair"));
}
