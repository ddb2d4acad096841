#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The discovery document (RFC 8414 §2, OIDC Discovery §3): registered names only, every URL
//! under the issuer, and the values FAPI 2.0 fixes.

use serde_json::{Value, json};
use shonin_jose::Alg;
use shonin_oauth::metadata::{
    AUTHORIZATION_ENDPOINT_PATH, INTROSPECTION_ENDPOINT_PATH, JWKS_PATH, MetadataOptions,
    OAUTH_AUTHORIZATION_SERVER_PATH, OPENID_CONFIGURATION_PATH, PAR_ENDPOINT_PATH,
    REVOCATION_ENDPOINT_PATH, TOKEN_ENDPOINT_PATH, USERINFO_ENDPOINT_PATH, discovery_document,
    endpoint_url,
};
use shonin_oauth::rar::AuthorizationDetailsPolicy;

const ISSUER: &str = "https://as.bank.example";

/// Metadata names as registered, by defining document. Copied from the specifications'
/// metadata sections (IANA "OAuth Authorization Server Metadata" registry).
const REGISTERED: &[(&str, &[&str])] = &[
    (
        "RFC 8414 §2",
        &[
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "registration_endpoint",
            "scopes_supported",
            "response_types_supported",
            "response_modes_supported",
            "grant_types_supported",
            "token_endpoint_auth_methods_supported",
            "token_endpoint_auth_signing_alg_values_supported",
            "service_documentation",
            "ui_locales_supported",
            "op_policy_uri",
            "op_tos_uri",
            "revocation_endpoint",
            "revocation_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_signing_alg_values_supported",
            "introspection_endpoint",
            "introspection_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_signing_alg_values_supported",
            "code_challenge_methods_supported",
        ],
    ),
    (
        "OIDC Discovery §3",
        &[
            "userinfo_endpoint",
            "acr_values_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "claims_supported",
            "claims_parameter_supported",
            "request_parameter_supported",
            "request_uri_parameter_supported",
        ],
    ),
    (
        "RFC 9126 §5",
        &[
            "pushed_authorization_request_endpoint",
            "require_pushed_authorization_requests",
        ],
    ),
    ("RFC 9449 §5.1", &["dpop_signing_alg_values_supported"]),
    ("RFC 9396 §10", &["authorization_details_types_supported"]),
    (
        "RFC 9207 §3",
        &["authorization_response_iss_parameter_supported"],
    ),
    ("RFC 9701", &["introspection_signing_alg_values_supported"]),
    (
        "OpenID CIBA Core §4",
        &[
            "backchannel_authentication_endpoint",
            "backchannel_token_delivery_modes_supported",
            "backchannel_authentication_request_signing_alg_values_supported",
            "backchannel_user_code_parameter_supported",
        ],
    ),
    (
        "RFC 8705 §3.3",
        &[
            "tls_client_certificate_bound_access_tokens",
            "mtls_endpoint_aliases",
        ],
    ),
];

fn full_options() -> MetadataOptions {
    let mut opts = MetadataOptions::new(Alg::ES256);
    opts.scopes = vec!["openid".into(), "accounts".into(), "payments".into()];
    opts.acr_values = vec!["urn:shonin:acr:pwd".into()];
    opts.authorization_details_types = AuthorizationDetailsPolicy::shipped()
        .unwrap()
        .supported_types();
    opts
}

fn doc() -> Value {
    discovery_document(ISSUER, &full_options())
}

fn is_registered(name: &str) -> bool {
    REGISTERED.iter().any(|(_, names)| names.contains(&name))
}

#[test]
fn every_member_name_is_a_registered_metadata_name() {
    let doc = doc();
    for name in doc.as_object().unwrap().keys() {
        assert!(
            is_registered(name),
            "{name} is not a registered metadata name"
        );
    }
}

#[test]
fn every_url_lies_under_the_issuer() {
    let doc = doc();
    let mut urls = 0;
    for (name, value) in doc.as_object().unwrap() {
        if name.ends_with("_endpoint") || name.ends_with("_uri") {
            let url = value.as_str().unwrap();
            assert!(url.starts_with(&format!("{ISSUER}/")), "{name}: {url}");
            urls += 1;
        }
    }
    assert_eq!(urls, 8);
}

#[test]
fn endpoints_use_the_exported_paths() {
    let doc = doc();
    for (name, path) in [
        ("authorization_endpoint", AUTHORIZATION_ENDPOINT_PATH),
        ("token_endpoint", TOKEN_ENDPOINT_PATH),
        ("pushed_authorization_request_endpoint", PAR_ENDPOINT_PATH),
        ("userinfo_endpoint", USERINFO_ENDPOINT_PATH),
        ("introspection_endpoint", INTROSPECTION_ENDPOINT_PATH),
        ("revocation_endpoint", REVOCATION_ENDPOINT_PATH),
        ("jwks_uri", JWKS_PATH),
    ] {
        assert_eq!(doc[name], endpoint_url(ISSUER, path), "{name}");
    }
    assert_eq!(doc["jwks_uri"], "https://as.bank.example/jwks");
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        "https://as.bank.example/par"
    );
    assert_eq!(
        OPENID_CONFIGURATION_PATH,
        "/.well-known/openid-configuration"
    );
    assert_eq!(
        OAUTH_AUTHORIZATION_SERVER_PATH,
        "/.well-known/oauth-authorization-server"
    );
}

#[test]
fn issuer_is_echoed_exactly_as_both_well_known_documents_require() {
    // RFC 8414 §3.3 and OIDC Discovery §4.3: the issuer in the document must be identical to
    // the one the client used, trailing slash included.
    for issuer in [
        "https://as.bank.example",
        "https://as.bank.example/tenant-a/",
    ] {
        let doc = discovery_document(issuer, &full_options());
        assert_eq!(doc["issuer"], issuer);
        let token = doc["token_endpoint"].as_str().unwrap();
        assert!(!token.contains("//token"), "{token}");
        assert!(token.starts_with(issuer.trim_end_matches('/')));
    }
}

#[test]
fn oidc_discovery_required_members_are_present() {
    let doc = doc();
    for name in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(doc.get(name).is_some(), "{name}");
    }
}

#[test]
fn fapi2_fixed_values_are_advertised() {
    let doc = doc();
    let expect = [
        ("require_pushed_authorization_requests", json!(true)),
        ("response_types_supported", json!(["code"])),
        ("response_modes_supported", json!(["query"])),
        (
            "grant_types_supported",
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:openid:params:grant-type:ciba"
            ]),
        ),
        (
            "backchannel_token_delivery_modes_supported",
            json!(["poll", "ping"]),
        ),
        ("backchannel_user_code_parameter_supported", json!(false)),
        ("code_challenge_methods_supported", json!(["S256"])),
        (
            "token_endpoint_auth_methods_supported",
            json!(["private_key_jwt"]),
        ),
        (
            "introspection_endpoint_auth_methods_supported",
            json!(["private_key_jwt"]),
        ),
        (
            "revocation_endpoint_auth_methods_supported",
            json!(["private_key_jwt"]),
        ),
        (
            "token_endpoint_auth_signing_alg_values_supported",
            json!(["PS256", "ES256", "EdDSA"]),
        ),
        (
            "dpop_signing_alg_values_supported",
            json!(["PS256", "ES256", "EdDSA"]),
        ),
        (
            "authorization_response_iss_parameter_supported",
            json!(true),
        ),
        ("tls_client_certificate_bound_access_tokens", json!(false)),
        ("subject_types_supported", json!(["public"])),
        (
            "scopes_supported",
            json!(["openid", "accounts", "payments"]),
        ),
        (
            "authorization_details_types_supported",
            json!(["account_information", "payment_initiation"]),
        ),
        ("acr_values_supported", json!(["urn:shonin:acr:pwd"])),
    ];
    for (name, value) in expect {
        assert_eq!(doc[name], value, "{name}");
    }
}

#[test]
fn signing_algorithms_follow_the_keyring_and_never_include_weak_ones() {
    let doc = discovery_document(ISSUER, &MetadataOptions::new(Alg::EdDSA));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(
        doc["introspection_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    let text = doc.to_string();
    for weak in ["\"none\"", "HS256", "RS256", "client_secret"] {
        assert!(!text.contains(weak), "{weak}");
    }
}

#[test]
fn optional_lists_are_omitted_when_empty() {
    let doc = discovery_document(ISSUER, &MetadataOptions::new(Alg::PS256));
    assert!(doc.get("acr_values_supported").is_none());
    assert!(doc.get("authorization_details_types_supported").is_none());
    assert!(doc.get("scopes_supported").is_none());
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("auth_time"))
    );
}
