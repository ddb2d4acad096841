//! Cardholders of the ACS in tests: a user, and a card enrolled for a user as
//! `shonin 3ds cards enrol` does it (keyed fingerprint, masked number).
#![allow(dead_code, clippy::unwrap_used)]

use super::TestApp;
use shonin_3ds::Pan;
use shonin_3ds::acs::store::{AcsStore, EnrolledCard};
use shonin_3ds::acs::{RiskRules, Scheme};
use shonin_3ds::settings::{AcsSettings, RangeSettings};
use shonin_identity::UserStore;
use shonin_identity::user::{User, Username};

/// The test ACS: reference `ACSRefNum1234`, 2.2.0 and 2.3.1, the Visa range 4012000000006000 –
/// 6999, the DS's client certificate `ds_thumbprint`, 1,000.00 RUB without a challenge (above it
/// and in other currencies, a challenge); no RReq link, no SPC.
pub fn settings(ds_thumbprint: String) -> AcsSettings {
    AcsSettings {
        reference_number: "ACSRefNum1234".into(),
        operator_id: None,
        versions: vec!["2.2.0".into(), "2.3.1".into()],
        max_attempts: 3,
        transaction_retention_secs: 86_400,
        ds_certificate_thumbprints: vec![ds_thumbprint],
        card_ranges: vec![RangeSettings {
            start: "4012000000006000".into(),
            end: "4012000000006999".into(),
            scheme: Scheme::Visa,
        }],
        risk: RiskRules {
            frictionless_up_to: [("643".to_owned(), 100_000)].into(),
            ..RiskRules::default()
        },
        results_ca_file: None,
        results_certificate_file: None,
        results_key_file: None,
        schemes: Default::default(),
        spc: None,
    }
}

/// Enrols the Visa card `pan` for `user_id`.
pub async fn enrol_card(app: &TestApp, user_id: &str, pan: &str) {
    let acs = app.state.acs.as_ref().unwrap();
    let pan = Pan::parse(pan).unwrap();
    let card = EnrolledCard {
        fingerprint: shonin_3ds::acs::fingerprint(acs.fingerprint_key.as_ref(), &pan)
            .await
            .unwrap(),
        user_id: user_id.to_owned(),
        masked: pan.masked(),
        scheme: Scheme::Visa,
        created_at: app.state.clock.now(),
    };
    assert!(app.state.store.enrol_card(&card).await.unwrap());
}

/// A new user `name` (no password, no passkey) holding the card `pan`.
pub async fn cardholder(app: &TestApp, name: &str, pan: &str) -> User {
    let user = User::new(
        Username::new(name).unwrap(),
        None,
        None,
        app.state.clock.now(),
    )
    .unwrap();
    app.state.store.create_user(&user).await.unwrap();
    enrol_card(app, &user.id, pan).await;
    user
}
