//! Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (OIDC Discovery
//! 1.0 §3), one document for both well-known locations.
//!
//! RFC 8414 §3 and OIDC Discovery §4 both require the `issuer` in the document to equal the
//! issuer the document was requested for, so one function serves
//! [`OPENID_CONFIGURATION_PATH`] and [`OAUTH_AUTHORIZATION_SERVER_PATH`]. The endpoint paths are
//! constants here so the server's router mounts exactly what the document advertises.
//!
//! The caller validates the issuer once at configuration time (an `https` URL without query or
//! fragment, RFC 8414 §2); this module only joins paths to it.

use serde_json::{Map, Value, json};
use shonin_jose::Alg;

/// OIDC Discovery §4: `/.well-known/openid-configuration`, appended to the issuer.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// RFC 8414 §3: `/.well-known/oauth-authorization-server`, inserted between the issuer's host
/// and its path component (the same as appending when the issuer has no path).
pub const OAUTH_AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
/// The authorization endpoint (RFC 6749 §3.1).
pub const AUTHORIZATION_ENDPOINT_PATH: &str = "/authorize";
/// The token endpoint (RFC 6749 §3.2).
pub const TOKEN_ENDPOINT_PATH: &str = "/token";
/// The pushed authorization request endpoint (RFC 9126 §2).
pub const PAR_ENDPOINT_PATH: &str = "/par";
/// The UserInfo endpoint (OIDC Core §5.3).
pub const USERINFO_ENDPOINT_PATH: &str = "/userinfo";
/// The introspection endpoint (RFC 7662 §2).
pub const INTROSPECTION_ENDPOINT_PATH: &str = "/introspect";
/// The revocation endpoint (RFC 7009 §2).
pub const REVOCATION_ENDPOINT_PATH: &str = "/revoke";
/// The backchannel authentication endpoint (OpenID CIBA Core §7).
pub const BACKCHANNEL_AUTHENTICATION_PATH: &str = "/bc-authorize";
/// The JWK set with the keyring's public keys (RFC 8414 §2 `jwks_uri`).
pub const JWKS_PATH: &str = "/jwks";

/// The client authentication method FAPI 2.0 §5.3.2.1 allows besides mTLS.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";
/// RFC 8705 §2.1.1 and §2.2.1: the two mTLS client authentication methods.
pub const TLS_CLIENT_AUTH: &str = "tls_client_auth";
pub const SELF_SIGNED_TLS_CLIENT_AUTH: &str = "self_signed_tls_client_auth";

/// Claims an ID token or UserInfo response can carry today.
pub const DEFAULT_CLAIMS_SUPPORTED: [&str; 9] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
];

/// What varies between deployments. Everything FAPI 2.0 fixes (PAR required, `code` only, S256,
/// `iss` in responses) is not an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataOptions {
    /// Algorithms the keyring signs ID tokens and introspection responses with: the current
    /// key's, plus the next key's while an algorithm change rolls out.
    pub signing_algs: Vec<Alg>,
    /// Scopes besides `openid`, which is always listed first.
    pub scopes: Vec<String>,
    /// `claims_supported` (OIDC Discovery §3).
    pub claims_supported: Vec<String>,
    /// `acr_values_supported`; omitted when empty.
    pub acr_values: Vec<String>,
    /// `authorization_details_types_supported` (RFC 9396 §10), e.g. from
    /// `AuthorizationDetailsPolicy::supported_types`; omitted when empty.
    pub authorization_details_types: Vec<String>,
    /// Client authentication methods at the token, introspection and revocation endpoints.
    pub client_auth_methods: Vec<String>,
    /// Algorithms accepted for `private_key_jwt` client assertions.
    pub client_auth_signing_algs: Vec<Alg>,
    /// Algorithms accepted for DPoP proofs (RFC 9449 §5.1).
    pub dpop_signing_algs: Vec<Alg>,
    /// RFC 8705 §3.3 `tls_client_certificate_bound_access_tokens`: the server asks TLS clients
    /// for a certificate and can bind tokens to it.
    pub mtls: bool,
    /// RFC 8705 §5 `mtls_endpoint_aliases`: the base URL of a separate listener that asks for
    /// client certificates; the endpoints that take client authentication or certificate-bound
    /// tokens are advertised there too.
    pub mtls_base_url: Option<String>,
}

impl MetadataOptions {
    /// The FAPI 2.0 defaults for a keyring signing with `signing_alg`: `private_key_jwt` with
    /// PS256, ES256 and EdDSA, DPoP with the same three, the default claims, no extra scopes, no
    /// acr values, no authorization details types.
    pub fn new(signing_alg: Alg) -> Self {
        let all = vec![Alg::PS256, Alg::ES256, Alg::EdDSA];
        Self {
            signing_algs: vec![signing_alg],
            scopes: Vec::new(),
            claims_supported: DEFAULT_CLAIMS_SUPPORTED.map(String::from).to_vec(),
            acr_values: Vec::new(),
            authorization_details_types: Vec::new(),
            client_auth_methods: vec![PRIVATE_KEY_JWT.to_owned()],
            client_auth_signing_algs: all.clone(),
            dpop_signing_algs: all,
            mtls: false,
            mtls_base_url: None,
        }
    }
}

/// The absolute URL of `path` (one of the `*_PATH` constants) under `issuer`. A trailing `/` on
/// the issuer is not doubled.
pub fn endpoint_url(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// The metadata document served at both well-known locations. Member names are those of the IANA
/// "OAuth Authorization Server Metadata" registry (RFC 8414 §7.1) and OIDC Discovery §3.
pub fn discovery_document(issuer: &str, opts: &MetadataOptions) -> Value {
    let url = |path| endpoint_url(issuer, path);
    let algs = |algs: &[Alg]| Value::from(algs.iter().map(|a| a.as_str()).collect::<Vec<_>>());
    // The operator's scopes (`oauth.scopes`), `openid` first when it is one of them.
    let mut scopes: Vec<String> = opts
        .scopes
        .iter()
        .filter(|s| *s == "openid")
        .take(1)
        .cloned()
        .collect();
    scopes.extend(opts.scopes.iter().filter(|s| *s != "openid").cloned());

    let mut doc = Map::new();
    let mut put = |name: &str, value: Value| {
        doc.insert(name.to_owned(), value);
    };
    // RFC 8414 §2 / OIDC Discovery §3: issuer and endpoints.
    put("issuer", json!(issuer));
    put(
        "authorization_endpoint",
        json!(url(AUTHORIZATION_ENDPOINT_PATH)),
    );
    put("token_endpoint", json!(url(TOKEN_ENDPOINT_PATH)));
    put("jwks_uri", json!(url(JWKS_PATH)));
    put("userinfo_endpoint", json!(url(USERINFO_ENDPOINT_PATH)));
    put(
        "introspection_endpoint",
        json!(url(INTROSPECTION_ENDPOINT_PATH)),
    );
    put("revocation_endpoint", json!(url(REVOCATION_ENDPOINT_PATH)));
    // RFC 9126 §5: PAR, and FAPI 2.0 §5.3.2.2 item 2: only PAR.
    put(
        "pushed_authorization_request_endpoint",
        json!(url(PAR_ENDPOINT_PATH)),
    );
    put("require_pushed_authorization_requests", json!(true));
    // FAPI 2.0 §5.3.2.2 items 1 and 3: code flow with PKCE S256 only.
    put("response_types_supported", json!(["code"]));
    put("response_modes_supported", json!(["query"]));
    put(
        "grant_types_supported",
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            crate::ciba::CIBA_GRANT_TYPE
        ]),
    );
    // OpenID CIBA Core §4: poll and ping (push is forbidden by FAPI-CIBA), signed requests with
    // the client authentication algorithms, no user_code.
    put(
        "backchannel_authentication_endpoint",
        json!(url(BACKCHANNEL_AUTHENTICATION_PATH)),
    );
    put(
        "backchannel_token_delivery_modes_supported",
        json!(["poll", "ping"]),
    );
    put("backchannel_user_code_parameter_supported", json!(false));
    put(
        "backchannel_authentication_request_signing_alg_values_supported",
        algs(&opts.client_auth_signing_algs),
    );
    put("code_challenge_methods_supported", json!(["S256"]));
    // Client authentication (FAPI 2.0 §5.3.2.1 item 5), the same at every endpoint.
    let methods = json!(opts.client_auth_methods);
    let client_algs = algs(&opts.client_auth_signing_algs);
    put("token_endpoint_auth_methods_supported", methods.clone());
    put(
        "token_endpoint_auth_signing_alg_values_supported",
        client_algs.clone(),
    );
    put(
        "introspection_endpoint_auth_methods_supported",
        methods.clone(),
    );
    put(
        "introspection_endpoint_auth_signing_alg_values_supported",
        client_algs.clone(),
    );
    put("revocation_endpoint_auth_methods_supported", methods);
    put(
        "revocation_endpoint_auth_signing_alg_values_supported",
        client_algs,
    );
    // Sender-constrained tokens: DPoP (RFC 9449 §5.1) and mTLS (RFC 8705 §3.3).
    put(
        "dpop_signing_alg_values_supported",
        algs(&opts.dpop_signing_algs),
    );
    put(
        "tls_client_certificate_bound_access_tokens",
        json!(opts.mtls),
    );
    if let Some(base) = &opts.mtls_base_url {
        let alias = |path| endpoint_url(base, path);
        put(
            "mtls_endpoint_aliases",
            json!({
                "token_endpoint": alias(TOKEN_ENDPOINT_PATH),
                "pushed_authorization_request_endpoint": alias(PAR_ENDPOINT_PATH),
                "userinfo_endpoint": alias(USERINFO_ENDPOINT_PATH),
                "introspection_endpoint": alias(INTROSPECTION_ENDPOINT_PATH),
                "revocation_endpoint": alias(REVOCATION_ENDPOINT_PATH),
                "backchannel_authentication_endpoint": alias(BACKCHANNEL_AUTHENTICATION_PATH),
            }),
        );
    }
    // RFC 9207 §3, required by FAPI 2.0 §5.3.2.2 item 5.
    put(
        "authorization_response_iss_parameter_supported",
        json!(true),
    );
    // RFC 9396 §10.
    if !opts.authorization_details_types.is_empty() {
        put(
            "authorization_details_types_supported",
            json!(opts.authorization_details_types),
        );
    }
    // OIDC Discovery §3.
    if !scopes.is_empty() {
        put("scopes_supported", json!(scopes));
    }
    put("subject_types_supported", json!(["public"]));
    put(
        "id_token_signing_alg_values_supported",
        algs(&opts.signing_algs),
    );
    put("claims_supported", json!(opts.claims_supported));
    // Deliberately absent: `userinfo_signing_alg_values_supported` (OIDC Discovery §3). Userinfo
    // answers plain JSON only, and advertising algorithms would invite clients to register
    // `userinfo_signed_response_alg`, which this server would not honour. Likewise
    // `request_object_signing_alg_values_supported`: signed request objects are not accepted.
    if !opts.acr_values.is_empty() {
        put("acr_values_supported", json!(opts.acr_values));
    }
    // RFC 9701 authorization server metadata (signed introspection responses, FAPI 2.0 Message
    // Signing).
    put(
        "introspection_signing_alg_values_supported",
        algs(&opts.signing_algs),
    );
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_url_does_not_double_a_trailing_slash() {
        assert_eq!(
            endpoint_url("https://as.example/", TOKEN_ENDPOINT_PATH),
            "https://as.example/token"
        );
        assert_eq!(
            endpoint_url("https://as.example/tenant", PAR_ENDPOINT_PATH),
            "https://as.example/tenant/par"
        );
    }

    #[test]
    fn scopes_are_the_configured_ones_and_openid_only_if_configured() {
        let mut opts = MetadataOptions::new(Alg::ES256);
        opts.scopes = vec!["accounts".into(), "payments".into()];
        let doc = discovery_document("https://as.example", &opts);
        assert_eq!(doc["scopes_supported"], json!(["accounts", "payments"]));
    }

    #[test]
    fn nothing_is_advertised_that_the_server_cannot_do() {
        let doc = discovery_document("https://as.example", &MetadataOptions::new(Alg::ES256));
        for absent in [
            "userinfo_signing_alg_values_supported",
            "userinfo_encryption_alg_values_supported",
            "request_object_signing_alg_values_supported",
            "id_token_encryption_alg_values_supported",
            "claims_parameter_supported",
        ] {
            assert!(doc.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn openid_is_listed_once_and_first() {
        let mut opts = MetadataOptions::new(Alg::ES256);
        opts.scopes = vec!["accounts".into(), "openid".into(), "payments".into()];
        let doc = discovery_document("https://as.example", &opts);
        assert_eq!(
            doc["scopes_supported"],
            json!(["openid", "accounts", "payments"])
        );
    }
}
