//! Client registration rules (RFC 7591 metadata; FAPI 2.0 Security Profile §5.3.2.1–§5.3.2.2,
//! §5.4; RFC 8252 §7.3): each rule accepted and refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{Value, json};
use shonin_jose::{Alg, b64url_decode, b64url_encode};
use shonin_keys::{LocalSigner, RsaBits, Signer};
use shonin_oauth::client::{
    ClientError, ClientJwks, ClientRegistration, GrantType, TokenEndpointAuthMethod, validate,
};
use std::sync::LazyLock;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

static ES256: LazyLock<LocalSigner> = LazyLock::new(|| LocalSigner::generate(Alg::ES256).unwrap());
static EDDSA: LazyLock<LocalSigner> = LazyLock::new(|| LocalSigner::generate(Alg::EdDSA).unwrap());
static PS256: LazyLock<LocalSigner> =
    LazyLock::new(|| LocalSigner::generate_ps256(RsaBits::Rsa2048).unwrap());

fn jwk(signer: &LocalSigner) -> Value {
    signer.public_jwk().clone()
}

/// A valid code-flow registration with one ES256 key.
fn reg() -> ClientRegistration {
    let mut r = ClientRegistration::new("bank-app", "Bank App");
    r.redirect_uris = vec!["https://app.example/cb".into()];
    r.jwks = Some(json!({ "keys": [jwk(&ES256)] }));
    r.scope = vec!["openid".into(), "accounts".into()];
    r
}

fn refused(r: ClientRegistration) -> ClientError {
    match validate(r, NOW) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e,
    }
}

fn with_redirect(uri: &str, native: bool) -> ClientRegistration {
    let mut r = reg();
    r.redirect_uris = vec![uri.into()];
    r.native_loopback_redirects = native;
    r
}

fn with_keys(keys: Vec<Value>) -> ClientRegistration {
    let mut r = reg();
    r.jwks = Some(json!({ "keys": keys }));
    r
}

fn with_grants(grants: &[&str]) -> ClientRegistration {
    let mut r = reg();
    r.grant_types = grants.iter().map(|g| (*g).to_owned()).collect();
    r
}

// ---- the whole registration ----------------------------------------------------------------

#[test]
fn valid_registration_becomes_a_client_with_fapi_defaults() {
    let mut r = reg();
    r.redirect_uris.push("https://app.example/cb".into()); // duplicate, dropped
    r.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    r.authorization_details_types = vec!["payment_initiation".into()];
    r.require_dpop_nonce = true;
    let c = validate(r, NOW).unwrap();
    assert_eq!(c.client_id.as_str(), "bank-app");
    assert_eq!(c.client_name, "Bank App");
    assert_eq!(c.redirect_uris, ["https://app.example/cb"]);
    assert_eq!(
        c.token_endpoint_auth_method,
        TokenEndpointAuthMethod::PrivateKeyJwt
    );
    assert!(c.dpop_bound_access_tokens && c.require_dpop_nonce);
    assert!(!c.native_loopback_redirects);
    assert_eq!(
        c.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
    assert!(
        c.allows_grant(GrantType::RefreshToken) && !c.allows_grant(GrantType::ClientCredentials)
    );
    assert!(c.has_redirect_uri("https://app.example/cb"));
    assert!(!c.has_redirect_uri("https://app.example/cb/"));
    assert!(c.allows_scope("accounts") && !c.allows_scope("payments"));
    assert!(c.allows_authorization_details_type("payment_initiation"));
    assert!(matches!(c.jwks, ClientJwks::Inline(_)));
    assert_eq!((c.created_at, c.updated_at), (NOW, NOW));
}

#[test]
fn a_client_survives_json_and_its_own_registration() {
    let c = validate(reg(), NOW).unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        serde_json::from_str::<shonin_oauth::Client>(&json).unwrap(),
        c
    );
    assert_eq!(validate(c.registration(), NOW).unwrap(), c);
}

#[test]
fn registration_reads_rfc_7591_json() {
    let r: ClientRegistration = serde_json::from_value(json!({
        "client_id": "tpp-1",
        "client_name": "Third Party",
        "redirect_uris": ["https://tpp.example/cb"],
        "jwks_uri": "https://tpp.example/jwks.json",
        "scope": "openid accounts",
        "grant_types": ["authorization_code", "client_credentials"],
    }))
    .unwrap();
    let c = validate(r, NOW).unwrap();
    assert_eq!(
        c.jwks,
        ClientJwks::Uri("https://tpp.example/jwks.json".into())
    );
    assert_eq!(c.scope, ["openid", "accounts"]);
}

#[test]
fn invalid_client_id_is_refused() {
    for bad in ["", "has space", "slash/id", "ünï"] {
        let mut r = reg();
        r.client_id = bad.into();
        assert_eq!(refused(r), ClientError::InvalidClientId, "{bad:?}");
    }
}

// ---- client_name ------------------------------------------------------------------------------

#[test]
fn client_name_up_to_200_characters_is_accepted() {
    let mut r = reg();
    r.client_name = "銀".repeat(200);
    assert!(validate(r, NOW).is_ok());
}

#[test]
fn too_long_client_name_is_refused() {
    let mut r = reg();
    r.client_name = "x".repeat(201);
    assert_eq!(refused(r), ClientError::ClientNameTooLong { max: 200 });
}

#[test]
fn empty_client_name_is_refused() {
    let mut r = reg();
    r.client_name = String::new();
    assert_eq!(refused(r), ClientError::ClientNameEmpty);
}

#[test]
fn control_and_bidi_characters_in_client_name_are_refused() {
    for bad in ["Bank\nApp", "Bank\u{7}", "Bank\u{202E}ppA", "\u{2066}Bank"] {
        let mut r = reg();
        r.client_name = bad.into();
        assert_eq!(
            refused(r),
            ClientError::ClientNameControlCharacter,
            "{bad:?}"
        );
    }
}

// ---- redirect_uris ------------------------------------------------------------------------------

#[test]
fn loopback_ip_http_redirects_are_accepted_for_flagged_native_clients() {
    for uri in [
        "http://127.0.0.1:53012/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/oauth",
    ] {
        let c = validate(with_redirect(uri, true), NOW).unwrap();
        assert_eq!(c.redirect_uris, [uri]);
        assert!(c.native_loopback_redirects);
    }
}

#[test]
fn http_loopback_redirect_without_the_native_flag_is_refused() {
    let uri = "http://127.0.0.1:53012/cb";
    assert_eq!(
        refused(with_redirect(uri, false)),
        ClientError::LoopbackRedirectNotAllowed { uri: uri.into() }
    );
}

#[test]
fn http_localhost_by_name_is_refused_even_for_native_clients() {
    let uri = "http://localhost:53012/cb";
    assert_eq!(
        refused(with_redirect(uri, true)),
        ClientError::RedirectUriNotHttps { uri: uri.into() }
    );
}

#[test]
fn other_http_and_custom_scheme_redirects_are_refused() {
    for uri in [
        "http://app.example/cb",
        "http://127.0.0.2/cb",
        "http://0x7f.0.0.1/cb",
        "com.example.app://cb",
        "javascript://app.example/%0aalert(1)",
    ] {
        assert_eq!(
            refused(with_redirect(uri, true)),
            ClientError::RedirectUriNotHttps { uri: uri.into() },
            "{uri}"
        );
    }
}

#[test]
fn redirect_with_fragment_is_refused() {
    for uri in ["https://app.example/cb#frag", "https://app.example/cb#"] {
        assert_eq!(
            refused(with_redirect(uri, false)),
            ClientError::RedirectUriFragment { uri: uri.into() }
        );
    }
}

#[test]
fn wildcard_redirect_is_refused() {
    for uri in ["https://*.app.example/cb", "https://app.example/*"] {
        assert_eq!(
            refused(with_redirect(uri, false)),
            ClientError::RedirectUriWildcard { uri: uri.into() }
        );
    }
}

#[test]
fn relative_or_malformed_redirect_is_refused() {
    for uri in [
        "/cb",
        "app.example/cb",
        "https:app.example/cb",
        "https://app.example/c b",
        "https://",
    ] {
        assert_eq!(
            refused(with_redirect(uri, false)),
            ClientError::RedirectUriNotAbsolute { uri: uri.into() },
            "{uri}"
        );
    }
}

#[test]
fn overlong_redirect_is_refused() {
    let uri = format!("https://app.example/{}", "a".repeat(2048));
    assert_eq!(
        refused(with_redirect(&uri, false)),
        ClientError::RedirectUriTooLong {
            index: 0,
            max: 2048
        }
    );
}

#[test]
fn code_flow_without_redirect_uris_is_refused() {
    let mut r = reg();
    r.redirect_uris.clear();
    assert_eq!(refused(r), ClientError::NoRedirectUris);
}

#[test]
fn client_credentials_only_needs_no_redirect_uri() {
    let mut r = with_grants(&["client_credentials"]);
    r.redirect_uris.clear();
    let c = validate(r, NOW).unwrap();
    assert_eq!(c.grant_types, [GrantType::ClientCredentials]);
}

// ---- grant_types --------------------------------------------------------------------------------

#[test]
fn password_and_implicit_grants_are_forbidden() {
    for g in ["password", "implicit"] {
        assert_eq!(
            refused(with_grants(&["authorization_code", g])),
            ClientError::ForbiddenGrantType { grant: g.into() }
        );
    }
}

#[test]
fn unknown_grant_type_is_refused() {
    let g = "urn:ietf:params:oauth:grant-type:device_code";
    assert_eq!(
        refused(with_grants(&[g])),
        ClientError::UnsupportedGrantType { grant: g.into() }
    );
}

#[test]
fn empty_grant_types_are_refused() {
    assert_eq!(refused(with_grants(&[])), ClientError::NoGrantTypes);
}

#[test]
fn refresh_token_without_code_flow_is_refused() {
    assert_eq!(
        refused(with_grants(&["client_credentials", "refresh_token"])),
        ClientError::RefreshTokenWithoutAuthorizationCode
    );
}

// ---- authentication and sender constraint -------------------------------------------------------

#[test]
fn secret_based_and_public_client_auth_methods_are_refused() {
    for m in [
        "none",
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
    ] {
        let mut r = reg();
        r.token_endpoint_auth_method = m.into();
        assert_eq!(
            refused(r),
            ClientError::UnsupportedAuthMethod { method: m.into() }
        );
    }
}

#[test]
fn unbound_access_tokens_are_refused() {
    let mut r = reg();
    r.dpop_bound_access_tokens = false;
    assert_eq!(refused(r), ClientError::SenderConstraintRequired);
}

// ---- mTLS (RFC 8705) ------------------------------------------------------------------------

fn tls_client() -> ClientRegistration {
    let mut r = reg();
    r.token_endpoint_auth_method = "tls_client_auth".into();
    r.tls_client_auth_subject_dn = Some("CN=tpp,O=Bank AG,C=DE".into());
    r.jwks = None;
    r
}

#[test]
fn tls_client_auth_needs_exactly_one_subject_and_no_jwks() {
    let c = validate(tls_client(), NOW).unwrap();
    assert_eq!(
        c.token_endpoint_auth_method,
        TokenEndpointAuthMethod::TlsClientAuth
    );
    assert_eq!(c.jwks, ClientJwks::None);
    assert_eq!(
        c.tls_client_auth_subject,
        Some(shonin_oauth::mtls::TlsClientAuthSubject::SubjectDn(
            "CN=tpp,O=Bank AG,C=DE".into()
        ))
    );
    // The registration round-trips.
    assert_eq!(validate(c.registration(), NOW).unwrap(), c);

    let mut none = tls_client();
    none.tls_client_auth_subject_dn = None;
    assert_eq!(refused(none), ClientError::TlsSubjectRequired);
    let mut two = tls_client();
    two.tls_client_auth_san_dns = Some("tpp.example".into());
    assert_eq!(
        refused(two),
        ClientError::TlsSubjectAmbiguous {
            field: "tls_client_auth_san_dns"
        }
    );
    let mut bad_dn = tls_client();
    bad_dn.tls_client_auth_subject_dn = Some("not a dn".into());
    assert!(matches!(
        refused(bad_dn),
        ClientError::TlsSubjectInvalid {
            field: "tls_client_auth_subject_dn",
            ..
        }
    ));
    let mut bad_ip = tls_client();
    bad_ip.tls_client_auth_subject_dn = None;
    bad_ip.tls_client_auth_san_ip = Some("300.1.1.1".into());
    assert!(matches!(
        refused(bad_ip),
        ClientError::TlsSubjectInvalid {
            field: "tls_client_auth_san_ip",
            ..
        }
    ));
}

#[test]
fn subject_values_belong_to_tls_client_auth_only() {
    let mut r = reg();
    r.tls_client_auth_san_dns = Some("tpp.example".into());
    assert_eq!(
        refused(r),
        ClientError::TlsSubjectWithoutTlsClientAuth {
            field: "tls_client_auth_san_dns"
        }
    );
}

#[test]
fn self_signed_tls_client_auth_needs_keys() {
    let mut r = reg();
    r.token_endpoint_auth_method = "self_signed_tls_client_auth".into();
    assert!(validate(r.clone(), NOW).is_ok());
    r.jwks = None;
    assert_eq!(refused(r), ClientError::MissingJwks);
}

#[test]
fn certificate_bound_tokens_satisfy_the_sender_constraint_rule() {
    let mut r = reg();
    r.dpop_bound_access_tokens = false;
    r.tls_client_certificate_bound_access_tokens = true;
    let c = validate(r, NOW).unwrap();
    assert!(!c.dpop_bound_access_tokens && c.tls_client_certificate_bound_access_tokens);
}

#[test]
fn pins_and_revocations_must_be_thumbprints() {
    let mut r = reg();
    r.pinned_certificates = vec!["ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0".into()];
    assert!(validate(r.clone(), NOW).is_ok());
    r.revoked_certificates = vec!["AB:CD".into()];
    assert!(matches!(
        refused(r),
        ClientError::InvalidCertificateThumbprint {
            field: "revoked_certificates",
            ..
        }
    ));
}

#[test]
fn clients_stored_before_mtls_still_decode() {
    let mut v = serde_json::to_value(validate(reg(), NOW).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in [
        "tls_client_certificate_bound_access_tokens",
        "tls_client_auth_subject",
        "pinned_certificates",
        "revoked_certificates",
    ] {
        o.remove(k);
    }
    let c: shonin_oauth::Client = serde_json::from_value(v).unwrap();
    assert!(!c.tls_client_certificate_bound_access_tokens && c.pinned_certificates.is_empty());
}

// ---- jwks / jwks_uri ----------------------------------------------------------------------------

#[test]
fn public_es256_eddsa_and_ps256_keys_are_accepted() {
    let r = with_keys(vec![jwk(&ES256), jwk(&EDDSA), jwk(&PS256)]);
    assert!(validate(r, NOW).is_ok());
    // A lone key needs no kid, and no alg: the key type implies it.
    let mut bare = jwk(&EDDSA);
    let map = bare.as_object_mut().unwrap();
    map.remove("kid");
    map.remove("alg");
    assert!(validate(with_keys(vec![bare]), NOW).is_ok());
}

#[test]
fn jwks_with_a_private_key_is_refused() {
    let mut private = jwk(&ES256);
    private["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    assert_eq!(
        refused(with_keys(vec![jwk(&EDDSA), private])),
        ClientError::JwksPrivateKey { index: 1 }
    );
    // A symmetric key is all secret.
    let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
    assert_eq!(
        refused(with_keys(vec![oct])),
        ClientError::JwksPrivateKey { index: 0 }
    );
}

#[test]
fn rs256_only_jwks_is_refused() {
    let mut rsa = jwk(&PS256);
    rsa["alg"] = json!("RS256");
    let e = refused(with_keys(vec![rsa]));
    assert_eq!(
        e,
        ClientError::JwksKeyAlgNotAllowed {
            index: 0,
            alg: "RS256".into()
        }
    );
    assert!(e.to_string().contains("jwks.keys[0]"), "{e}");
}

#[test]
fn short_rsa_key_is_refused() {
    let mut rsa = jwk(&PS256);
    let n = b64url_decode(rsa["n"].as_str().unwrap()).unwrap();
    rsa["n"] = json!(b64url_encode(&n[..128])); // 1024 bits
    assert!(matches!(
        refused(with_keys(vec![rsa])),
        ClientError::JwksKeyUnusable { index: 0, .. }
    ));
}

#[test]
fn unusable_keys_are_refused() {
    let mut p384 = jwk(&ES256);
    p384["crv"] = json!("P-384");
    let mut enc = jwk(&ES256);
    enc["use"] = json!("enc");
    let ed448 = json!({"kty": "OKP", "crv": "Ed448", "x": "AAAA", "kid": "x"});
    for key in [p384, enc, ed448, json!({"kid": "no-kty"})] {
        assert!(
            matches!(
                refused(with_keys(vec![key.clone()])),
                ClientError::JwksKeyUnusable { index: 0, .. }
            ),
            "{key}"
        );
    }
}

#[test]
fn duplicate_kids_are_refused() {
    let mut second = jwk(&EDDSA);
    second["kid"] = jwk(&ES256)["kid"].clone();
    let kid = second["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        refused(with_keys(vec![jwk(&ES256), second])),
        ClientError::JwksDuplicateKid { kid }
    );
}

#[test]
fn several_keys_each_need_a_kid() {
    let mut no_kid = jwk(&EDDSA);
    no_kid.as_object_mut().unwrap().remove("kid");
    assert_eq!(
        refused(with_keys(vec![jwk(&ES256), no_kid])),
        ClientError::JwksKidMissing { index: 1 }
    );
}

#[test]
fn malformed_jwk_sets_are_refused() {
    let mut r = reg();
    r.jwks = Some(json!([jwk(&ES256)]));
    assert_eq!(refused(r), ClientError::JwksNotASet);
    let mut r = reg();
    r.jwks = Some(json!({"keys": ["not an object"]}));
    assert_eq!(refused(r), ClientError::JwksNotASet);
    assert_eq!(refused(with_keys(vec![])), ClientError::JwksEmpty);
    let many = (0..33)
        .map(|i| {
            let mut k = jwk(&ES256);
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    assert_eq!(
        refused(with_keys(many)),
        ClientError::JwksTooManyKeys { max: 32 }
    );
}

#[test]
fn jwks_and_jwks_uri_together_or_neither_are_refused() {
    let mut both = reg();
    both.jwks_uri = Some("https://app.example/jwks".into());
    assert_eq!(refused(both), ClientError::JwksAndJwksUri);
    let mut neither = reg();
    neither.jwks = None;
    assert_eq!(refused(neither), ClientError::MissingJwks);
}

fn with_jwks_uri(uri: &str) -> ClientRegistration {
    let mut r = reg();
    r.jwks = None;
    r.jwks_uri = Some(uri.into());
    r
}

#[test]
fn https_jwks_uri_is_accepted() {
    let c = validate(
        with_jwks_uri("https://app.example/.well-known/jwks.json"),
        NOW,
    )
    .unwrap();
    assert!(matches!(c.jwks, ClientJwks::Uri(_)));
}

#[test]
fn http_jwks_uri_is_refused() {
    let uri = "http://app.example/jwks";
    assert_eq!(
        refused(with_jwks_uri(uri)),
        ClientError::JwksUriNotHttps { uri: uri.into() }
    );
}

#[test]
fn jwks_uri_with_fragment_or_not_absolute_is_refused() {
    let uri = "https://app.example/jwks#k1";
    assert_eq!(
        refused(with_jwks_uri(uri)),
        ClientError::JwksUriFragment { uri: uri.into() }
    );
    assert_eq!(
        refused(with_jwks_uri("/jwks")),
        ClientError::JwksUriNotAbsolute {
            uri: "/jwks".into()
        }
    );
}

// ---- scope and authorization_details_types -----------------------------------------------------

#[test]
fn scope_tokens_outside_rfc_6749_are_refused() {
    for bad in ["two words", "quote\"", "back\\slash", "", "naïve"] {
        let mut r = reg();
        r.scope = vec!["openid".into(), bad.into()];
        assert_eq!(
            refused(r),
            ClientError::InvalidScope { scope: bad.into() },
            "{bad:?}"
        );
    }
}

#[test]
fn authorization_details_types_must_be_visible_ascii() {
    let mut ok = reg();
    ok.authorization_details_types = vec!["https://scheme.example/payment".into()];
    assert!(validate(ok, NOW).is_ok());
    for bad in ["", "with space", "tab\t"] {
        let mut r = reg();
        r.authorization_details_types = vec![bad.into()];
        assert_eq!(
            refused(r),
            ClientError::InvalidAuthorizationDetailsType { ty: bad.into() }
        );
    }
}

// ---- messages -----------------------------------------------------------------------------------

#[test]
fn every_message_names_its_field() {
    let cases: Vec<(ClientRegistration, &str)> = vec![
        (
            with_redirect("http://app.example/cb", false),
            "redirect_uris",
        ),
        (with_grants(&["password"]), "grant_types"),
        (with_jwks_uri("http://x.example/j"), "jwks_uri"),
        (
            {
                let mut r = reg();
                r.token_endpoint_auth_method = "none".into();
                r
            },
            "token_endpoint_auth_method",
        ),
        (
            {
                let mut r = reg();
                r.dpop_bound_access_tokens = false;
                r
            },
            "dpop_bound_access_tokens",
        ),
        (
            {
                let mut r = reg();
                r.client_name = "a\u{0}".into();
                r
            },
            "client_name",
        ),
        (
            {
                let mut r = reg();
                r.scope = vec!["a b".into()];
                r
            },
            "scope",
        ),
    ];
    for (r, field) in cases {
        let msg = refused(r).to_string();
        assert!(msg.contains(field), "{msg:?} should name {field}");
    }
}
