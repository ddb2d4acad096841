//! Fuzzes pushed authorization request validation (`shonin_oauth::par::validate`, RFC 9126 under
//! FAPI 2.0): arbitrary bytes are parsed with `FormParams::parse` and, if that succeeds,
//! validated for a fixed client with the shipped `authorization_details` policy, once without and
//! once with a DPoP proof key (`proof_jkt`).
//!
//! The client is `client-1`, redirect URI `https://client.example/cb`, scopes `openid accounts
//! payments`, both shipped detail types, authorization code grant allowed.
//!
//! Nothing may panic. An accepted request must only hold what the client is registered for, keep
//! every bound and rule `validate` documents, bind to the proof key when there is one, and
//! survive the JSON round trip it is stored with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_oauth::form::FormParams;
use shonin_oauth::par::{self, ClientPolicy, ParError, PushedRequest};
use shonin_oauth::pkce::CodeChallenge;
use shonin_oauth::rar::AuthorizationDetailsPolicy;
use std::sync::LazyLock;

const CLIENT_ID: &str = "client-1";
/// RFC 8037 A.3 thumbprint, standing for the key of a DPoP proof sent with the request.
const PROOF_JKT: &str = shonin_fuzz::ED25519_JKT;

static REDIRECT_URIS: LazyLock<Vec<String>> =
    LazyLock::new(|| vec!["https://client.example/cb".to_owned()]);
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

fn client() -> ClientPolicy<'static> {
    ClientPolicy {
        client_id: CLIENT_ID,
        redirect_uris: &REDIRECT_URIS,
        scopes: &SCOPES,
        authorization_details_types: &DETAIL_TYPES,
        allows_authorization_code: true,
    }
}

fn check_accepted(params: &FormParams, req: &PushedRequest, proof_jkt: Option<&str>) {
    assert_eq!(req.client_id, CLIENT_ID);
    assert!(REDIRECT_URIS.contains(&req.redirect_uri));
    assert!(!params.contains("request_uri") && !params.contains("request"));
    assert_eq!(params.get("response_type"), Some("code"));
    for (i, s) in req.scope.iter().enumerate() {
        assert!(SCOPES.contains(s), "scope {s:?} not registered");
        assert!(!req.scope[..i].contains(s), "scope {s:?} repeated");
    }
    assert!(CodeChallenge::from_s256(&req.code_challenge).is_ok());
    for d in &req.authorization_details {
        let t = d.get("type").and_then(|t| t.as_str()).unwrap_or_default();
        assert!(DETAIL_TYPES.iter().any(|a| a == t), "detail type {t:?}");
    }
    assert!(
        req.state
            .as_ref()
            .is_none_or(|s| !s.is_empty() && s.len() <= 1024)
    );
    assert!(
        req.nonce
            .as_ref()
            .is_none_or(|n| n.len() <= 255 && !n.chars().any(char::is_control))
    );
    if let Some(p) = &req.prompt {
        assert!(p.split(' ').all(|v| matches!(v, "login" | "consent")));
    }
    if let Some(h) = proof_jkt {
        assert_eq!(
            req.dpop_jkt.as_deref(),
            Some(h),
            "code not bound to the proof key"
        );
    }
    if let Some(jkt) = &req.dpop_jkt {
        assert_eq!(jkt.len(), 43);
    }
    assert!(
        req.acr_values
            .iter()
            .all(|v| !v.is_empty() && !v.contains(' '))
    );
    // Stored as JSON between PAR and /authorize.
    let stored = serde_json::to_string(req).expect("serialises");
    let loaded: PushedRequest = serde_json::from_str(&stored).expect("deserialises");
    assert_eq!(
        &loaded, req,
        "PushedRequest does not survive its JSON round trip"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = FormParams::parse(data) else {
        return;
    };
    let policy = client();
    for proof_jkt in [None, Some(PROOF_JKT)] {
        match par::validate(&params, policy, &POLICY, proof_jkt) {
            Ok(req) => check_accepted(&params, &req, proof_jkt),
            Err(e) => {
                let _ = (e.oauth_error(), e.to_string());
                if let (Some(_), ParError::DpopJktMismatch) = (proof_jkt, &e) {
                    assert_ne!(params.get("dpop_jkt"), Some(PROOF_JKT));
                }
            }
        }
    }
    // A client without the authorization code grant never gets a pushed request.
    let no_code = ClientPolicy {
        allows_authorization_code: false,
        ..policy
    };
    assert!(par::validate(&params, no_code, &POLICY, None).is_err());
});
