//! Cardholders of the ACS in tests: a user, and a card enrolled for a user as
//! `shonin 3ds cards enrol` does it (keyed fingerprint, masked number).
#![allow(dead_code, clippy::unwrap_used)]

use super::TestApp;
use shonin_3ds::Pan;
use shonin_3ds::acs::Scheme;
use shonin_3ds::acs::store::{AcsStore, EnrolledCard};
use shonin_identity::UserStore;
use shonin_identity::user::{User, Username};

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
