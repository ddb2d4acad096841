#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The software passkey against a real relying-party library: webauthn-rs 0.6 must accept what
//! it produces, through serde exactly as a server receives a browser's JSON, and must still
//! refuse it when a check it makes should fail.

use serde_json::Value;
use shonin_testkit::Authenticator;
use webauthn_rs::prelude::*;

const RP_ID: &str = "localhost";
const ORIGIN: &str = "https://localhost:8443";

fn webauthn() -> Webauthn {
    let origin = Url::parse(ORIGIN).unwrap();
    WebauthnBuilder::new(RP_ID, &origin)
        .unwrap()
        .rp_name("Shonin")
        .build()
        .unwrap()
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The JSON round trip a server does: the browser's output parsed with webauthn-rs's own types.
fn registration(json: Value) -> RegisterPublicKeyCredential {
    serde_json::from_value(json).unwrap()
}

fn assertion(json: Value) -> PublicKeyCredential {
    serde_json::from_value(json).unwrap()
}

/// Registers a new passkey for a new user and returns both.
fn enrol(webauthn: &Webauthn, authenticator: &mut Authenticator) -> (Uuid, Passkey) {
    let user = Uuid::new_v4();
    let (options, state) = webauthn
        .start_passkey_registration(user, "alice", "Alice", None)
        .unwrap();
    let response = authenticator.register(&to_json(&options), ORIGIN).unwrap();
    let passkey = webauthn
        .finish_passkey_registration(&registration(response), &state)
        .unwrap();
    (user, passkey)
}

/// One discoverable (usernameless) sign-in with `passkey` as the stored credential.
fn discoverable_sign_in(
    webauthn: &Webauthn,
    authenticator: &mut Authenticator,
    passkey: &Passkey,
) -> Result<AuthenticationResult, WebauthnError> {
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let response = authenticator
        .authenticate(&to_json(&options), ORIGIN)
        .unwrap();
    webauthn.finish_discoverable_authentication_v2(&assertion(response), state, passkey)
}

#[test]
fn registration_then_discoverable_authentication_succeeds() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new(*b"shonin-testkit!!");
    let (user, passkey) = enrol(&webauthn, &mut authenticator);
    assert_eq!(
        authenticator.credential_ids(),
        [authenticator.credentials()[0].credential_id_b64()]
    );
    assert_eq!(
        passkey.cred_id().as_slice(),
        authenticator.credentials()[0].credential_id()
    );

    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let options = to_json(&options);
    assert_eq!(options["mediation"], "conditional");
    let response = assertion(authenticator.authenticate(&options, ORIGIN).unwrap());

    let (identified_user, credential_id) = webauthn
        .identify_discoverable_authentication(&response)
        .unwrap();
    assert_eq!(identified_user, user);
    assert_eq!(credential_id, passkey.cred_id().as_slice());

    let result = webauthn
        .finish_discoverable_authentication_v2(&response, state, &passkey)
        .unwrap();
    assert!(result.user_verified());
    assert!(!result.backup_eligible());
    assert_eq!(result.counter(), 1);
    assert_eq!(result.cred_id(), passkey.cred_id());
}

#[test]
fn authentication_with_allow_credentials_succeeds() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, first) = enrol(&webauthn, &mut authenticator);
    let (_, second) = enrol(&webauthn, &mut authenticator);

    // Only the second is allowed: the authenticator must pick it although it holds the first.
    let (options, state) = webauthn
        .start_passkey_authentication(std::slice::from_ref(&second))
        .unwrap();
    let options = to_json(&options);
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let response = assertion(authenticator.authenticate(&options, ORIGIN).unwrap());
    let result = webauthn
        .finish_passkey_authentication(&response, &state)
        .unwrap();
    assert_eq!(result.cred_id(), second.cred_id());
    assert_ne!(result.cred_id(), first.cred_id());
}

#[test]
fn registration_from_another_origin_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (options, state) = webauthn
        .start_passkey_registration(Uuid::new_v4(), "alice", "Alice", None)
        .unwrap();
    let response = authenticator
        .register(&to_json(&options), "https://evil.example")
        .unwrap();
    let err = webauthn
        .finish_passkey_registration(&registration(response), &state)
        .unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");
}

#[test]
fn authentication_from_another_origin_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let response = authenticator
        .authenticate(&to_json(&options), "https://localhost:9443")
        .unwrap();
    let err = webauthn
        .finish_discoverable_authentication_v2(&assertion(response), state, &passkey)
        .unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");
}

#[test]
fn registration_without_user_verification_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.user_verified = false;
    let (options, state) = webauthn
        .start_passkey_registration(Uuid::new_v4(), "alice", "Alice", None)
        .unwrap();
    let response = authenticator.register(&to_json(&options), ORIGIN).unwrap();
    let err = webauthn
        .finish_passkey_registration(&registration(response), &state)
        .unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");
}

#[test]
fn authentication_without_user_verification_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    authenticator.user_verified = false;
    let err = discoverable_sign_in(&webauthn, &mut authenticator, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");
}

#[test]
fn sign_count_regression_is_reported_as_possible_compromise() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, mut passkey) = enrol(&webauthn, &mut authenticator);

    let result = discoverable_sign_in(&webauthn, &mut authenticator, &passkey).unwrap();
    assert_eq!(result.counter(), 1);
    // The server must store the counter it saw, or it has nothing to compare against.
    assert_eq!(passkey.update_credential(&result), Some(true));

    let id = authenticator.credential_ids()[0].clone();
    authenticator.set_counter(&id, 0).unwrap(); // a clone that next says 1 again
    let err = discoverable_sign_in(&webauthn, &mut authenticator, &passkey).unwrap_err();
    assert!(
        matches!(err, WebauthnError::CredentialPossibleCompromise),
        "{err:?}"
    );
}

#[test]
fn a_counter_that_stays_zero_is_accepted_like_a_synced_passkey() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    authenticator.counter_step = 0;
    authenticator.backup_eligible = true;
    authenticator.backup_state = true;
    let (_, mut passkey) = enrol(&webauthn, &mut authenticator);
    for _ in 0..2 {
        let result = discoverable_sign_in(&webauthn, &mut authenticator, &passkey).unwrap();
        assert_eq!(result.counter(), 0);
        assert!(result.backup_eligible() && result.backup_state());
        passkey.update_credential(&result);
    }
}

#[test]
fn tampered_client_data_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let mut response = assertion(
        authenticator
            .authenticate(&to_json(&options), ORIGIN)
            .unwrap(),
    );

    // One flipped bit turns "crossOrigin" into "crossOrigiN": still JSON with the right type,
    // challenge and origin, so only the signature over its hash can catch it.
    let client_data = &mut response.response.client_data_json;
    let at = String::from_utf8_lossy(client_data)
        .find("crossOrigin")
        .unwrap()
        + 10;
    assert_eq!(client_data[at], b'n');
    client_data[at] ^= 0x20;

    let err = webauthn
        .finish_discoverable_authentication_v2(&response, state, &passkey)
        .unwrap_err();
    assert!(
        matches!(err, WebauthnError::AuthenticationFailure),
        "{err:?}"
    );
}

#[test]
fn client_data_that_is_no_longer_json_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let mut response = assertion(
        authenticator
            .authenticate(&to_json(&options), ORIGIN)
            .unwrap(),
    );
    let last = response.response.client_data_json.len() - 1;
    response.response.client_data_json[last] ^= 0x01; // '}' becomes '|'
    assert!(
        webauthn
            .finish_discoverable_authentication_v2(&response, state, &passkey)
            .is_err()
    );
}

#[test]
fn a_flipped_signature_byte_is_rejected() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    let (options, state) = webauthn.start_discoverable_authentication().unwrap();
    let mut response = assertion(
        authenticator
            .authenticate(&to_json(&options), ORIGIN)
            .unwrap(),
    );
    let last = response.response.signature.len() - 1;
    response.response.signature[last] ^= 0x01;
    let err = webauthn
        .finish_discoverable_authentication_v2(&response, state, &passkey)
        .unwrap_err();
    assert!(
        matches!(err, WebauthnError::AuthenticationFailure),
        "{err:?}"
    );
}

#[test]
fn an_excluded_credential_is_not_registered_twice() {
    let webauthn = webauthn();
    let mut authenticator = Authenticator::new([0; 16]);
    let (_, passkey) = enrol(&webauthn, &mut authenticator);
    let (options, _) = webauthn
        .start_passkey_registration(
            Uuid::new_v4(),
            "alice",
            "Alice",
            Some(vec![passkey.cred_id().clone()]),
        )
        .unwrap();
    let err = authenticator
        .register(&to_json(&options), ORIGIN)
        .unwrap_err();
    assert!(
        matches!(err, shonin_testkit::Error::CredentialExcluded),
        "{err:?}"
    );
}
