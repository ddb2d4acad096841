//! Fuzzes the backchannel authentication request's validation (`shonin_oauth::ciba::validate`,
//! OpenID CIBA Core §7.1): arbitrary bytes are parsed with `FormParams::parse` and, if that
//! succeeds, validated for a poll client and a ping client with the shipped
//! `authorization_details` policy.
//!
//! Nothing may panic. An accepted request must name one user by `login_hint`, include `openid`,
//! hold only registered scopes once each, keep the binding message and expiry bounds, carry a
//! notification token exactly for the ping client, and never accept a signed request or a
//! `user_code`. A client without the grant is always refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_oauth::ciba::{self, ClientSide, DeliveryMode, MAX_BINDING_MESSAGE_CHARS};
use shonin_oauth::form::FormParams;
use shonin_oauth::rar::AuthorizationDetailsPolicy;
use std::sync::LazyLock;

static SCOPES: LazyLock<Vec<String>> = LazyLock::new(|| {
    ["openid", "accounts", "payments"]
        .map(str::to_owned)
        .to_vec()
});
static DETAIL_TYPES: LazyLock<Vec<String>> = LazyLock::new(|| {
    ["payment_initiation", "account_information"]
        .map(str::to_owned)
        .to_vec()
});
static POLICY: LazyLock<AuthorizationDetailsPolicy> =
    LazyLock::new(|| AuthorizationDetailsPolicy::shipped().expect("shipped schemas compile"));
const MAX_EXPIRY: time::Duration = time::Duration::seconds(300);

fn side(mode: DeliveryMode) -> ClientSide<'static> {
    ClientSide {
        scopes: &SCOPES,
        authorization_details_types: &DETAIL_TYPES,
        allows_ciba: true,
        mode: Some(mode),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = FormParams::parse(data) else {
        return;
    };
    for mode in [DeliveryMode::Poll, DeliveryMode::Ping] {
        match ciba::validate(&params, side(mode), &POLICY, MAX_EXPIRY) {
            Ok(req) => {
                assert!(!params.contains("request") && !params.contains("user_code"));
                assert_eq!(params.get("login_hint"), Some(req.login_hint.as_str()));
                assert!(!params.contains("login_hint_token") && !params.contains("id_token_hint"));
                assert!(req.scope.iter().any(|s| s == "openid"));
                for (i, s) in req.scope.iter().enumerate() {
                    assert!(SCOPES.contains(s), "scope {s:?} not registered");
                    assert!(!req.scope[..i].contains(s), "scope {s:?} repeated");
                }
                if let Some(m) = &req.binding_message {
                    let n = m.chars().count();
                    assert!((1..=MAX_BINDING_MESSAGE_CHARS).contains(&n));
                    assert!(shonin_types::text::is_displayable(m));
                }
                if let Some(e) = req.requested_expiry {
                    assert!((1..=MAX_EXPIRY.whole_seconds()).contains(&e));
                }
                assert_eq!(
                    req.client_notification_token.is_some(),
                    mode == DeliveryMode::Ping
                );
                for d in &req.authorization_details {
                    let t = d.get("type").and_then(|t| t.as_str()).unwrap_or_default();
                    assert!(DETAIL_TYPES.iter().any(|a| a == t), "detail type {t:?}");
                }
            }
            Err(e) => {
                let _ = (e.oauth_error(), e.to_string());
            }
        }
    }
    let without = ClientSide {
        allows_ciba: false,
        ..side(DeliveryMode::Poll)
    };
    assert!(ciba::validate(&params, without, &POLICY, MAX_EXPIRY).is_err());
});
