//! `private_key_jwt` client authentication: RFC 7523 §2.2 and §3, OIDC Core §9, RFC 9126 §2
//! and FAPI 2.0 Security Profile Final §5.3.2.1 (items 5, 8 and 11).
//!
//! The caller finds the client's registered JWK set (by the `client_id` parameter or, without
//! one, by [`ClientAssertionParams::claimed_client_id`]) and hands it in as [`ClientJwks`]; this
//! module never fetches keys.
//!
//! Decisions where the specifications leave room:
//! - Clock skew (FAPI 2.0 §5.3.2.1 item 11): `iat`/`nbf` up to 10 s in the future are accepted,
//!   anything later is refused. The 10–60 s band, where FAPI allows either, is refused by
//!   default; [`ClientAssertionVerifier::with_future_leeway`] can widen it to at most 60 s.
//! - Lifetime: `exp − iat` (or `exp − now` without `iat`) may be at most 5 minutes by default
//!   (RFC 7523 §3 item 4 lets the server bound it; item 6 lets it refuse old `iat`s). This bounds
//!   the window a leaked assertion is usable and how long its `jti` must be remembered.
//! - `jti` is required (OIDC Core §9) and remembered until `exp` (RFC 7523 §3 item 7).
//! - `aud` must be the issuer identifier as a JSON string, at every endpoint (FAPI 2.0 Security
//!   Profile Final §5.3.2.1 item 8: "shall only accept its issuer identifier value as a string").
//!   An array is refused even when it holds the issuer, and so are the token endpoint URL and the
//!   URL that received the assertion, which RFC 7523 §3 and RFC 9126 §2 once allowed: accepting
//!   them let an assertion made for one server be replayed to another (the 2025 audience
//!   injection attack). This rule is for client authentication only; signed request objects
//!   keep RFC 7519's string-or-array `aud`.
//! - `typ` is not checked: RFC 7523 defines none and deployed clients send `JWT` or nothing.

mod error;

pub use error::ClientAuthError;

use crate::ConfigError;
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};
use shonin_jose::{JoseError, VerifyOptions, b64url_decode, b64url_encode, verify_jwt};
use shonin_types::unit::{OneTimeClaim, UnitOfWork};
use time::{Duration, OffsetDateTime};

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Replay-store namespace of client assertion `jti`s.
pub const REPLAY_NAMESPACE: &str = "client_assertion";

/// The longest `jti` accepted.
pub const MAX_JTI_LEN: usize = 256;

/// The client-authentication form parameters of a token, PAR, introspection or revocation
/// request (RFC 7521 §4.2).
#[derive(Debug, Clone, Copy)]
pub struct ClientAssertionParams<'a> {
    pub client_assertion: &'a str,
    pub client_assertion_type: &'a str,
    /// The optional `client_id` form parameter.
    pub client_id: Option<&'a str>,
}

impl ClientAssertionParams<'_> {
    /// The client the request claims to be from, **unverified**, for finding its keys: the
    /// `client_id` parameter if sent, else the assertion's `iss` (which must equal its `sub`).
    /// [`ClientAssertionVerifier::verify`] then proves the claim.
    pub fn claimed_client_id(&self) -> Result<String, ClientAuthError> {
        if let Some(id) = self.client_id {
            return Ok(id.to_owned());
        }
        let claims = unverified_claims(self.client_assertion)?;
        let iss = claim_str(&claims, "iss")?;
        if claim_str(&claims, "sub")? != iss {
            return Err(ClientAuthError::IssuerSubjectMismatch);
        }
        Ok(iss.to_owned())
    }
}

/// A registered client's identifier and its public JWK set (`{"keys":[...]}`), as stored at
/// registration (or fetched from its `jwks_uri` by the caller).
#[derive(Debug, Clone, Copy)]
pub struct ClientJwks<'a> {
    pub client_id: &'a str,
    pub jwks: &'a Value,
}

/// A client identifier proven by a verified client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClientId(String);

impl AuthenticatedClientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Verifies `private_key_jwt` client assertions for one authorization server.
#[derive(Debug, Clone)]
pub struct ClientAssertionVerifier {
    issuer: String,
    future_leeway: Duration,
    max_lifetime: Duration,
}

impl ClientAssertionVerifier {
    /// Default allowance for `iat`/`nbf` in the future (FAPI 2.0 §5.3.2.1 item 11).
    pub const DEFAULT_FUTURE_LEEWAY: Duration = Duration::seconds(10);
    /// FAPI 2.0 §5.3.2.1 item 11: more than 60 s in the future must be refused.
    pub const MAX_FUTURE_LEEWAY: Duration = Duration::seconds(60);
    /// Default longest `exp − iat`.
    pub const DEFAULT_MAX_LIFETIME: Duration = Duration::minutes(5);

    /// A verifier for the server with issuer identifier `issuer` (RFC 8414), the only `aud` it
    /// accepts.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            future_leeway: Self::DEFAULT_FUTURE_LEEWAY,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
        }
    }

    /// Accepts `iat`/`nbf` up to `leeway` in the future; 0 s to 60 s.
    pub fn with_future_leeway(mut self, leeway: Duration) -> Result<Self, ConfigError> {
        if leeway.is_negative() || leeway > Self::MAX_FUTURE_LEEWAY {
            return Err(ConfigError::OutOfRange {
                setting: "client assertion future_leeway",
                rule: "0 s to 60 s (FAPI 2.0 clock skew rule)",
            });
        }
        self.future_leeway = leeway;
        Ok(self)
    }

    /// Accepts assertions valid for at most `lifetime`; 1 s to 1 h.
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Result<Self, ConfigError> {
        if lifetime < Duration::SECOND || lifetime > Duration::HOUR {
            return Err(ConfigError::OutOfRange {
                setting: "client assertion max_lifetime",
                rule: "1 s to 1 h",
            });
        }
        self.max_lifetime = lifetime;
        Ok(self)
    }

    /// Authenticates the client: checks the assertion against `client`'s keys and the rules in
    /// the module documentation, then stages the claim of its `jti` in `unit`. The request's
    /// unit of work decides the claim when it commits; a replay is then refused with
    /// [`ClientAuthError::Replayed`] (RFC 7523 §3 item 7).
    pub async fn verify(
        &self,
        params: &ClientAssertionParams<'_>,
        client: ClientJwks<'_>,
        now: OffsetDateTime,
        unit: &mut UnitOfWork,
    ) -> Result<AuthenticatedClientId, ClientAuthError> {
        // RFC 7521 §4.2, RFC 7523 §2.2.
        if params.client_assertion_type != JWT_BEARER_ASSERTION_TYPE {
            return Err(ClientAuthError::UnsupportedAssertionType);
        }
        // RFC 7521 §4.2: a client_id parameter must name the client the assertion is for.
        if params.client_id.is_some_and(|id| id != client.client_id) {
            return Err(ClientAuthError::ClientIdMismatch);
        }
        // Signature, alg policy, key selection by kid, exp/nbf/iat bounds (RFC 7523 §3 items
        // 4, 5, 9, 10; FAPI 2.0 §5.3.2.1 item 11).
        let opts = VerifyOptions {
            expected_typ: None,
            now,
            leeway_future: self.future_leeway,
            require_exp: true,
        };
        let claims = verify_jwt(params.client_assertion, client.jwks, &opts)
            .map_err(ClientAuthError::from_jose)?;

        // RFC 7523 §3 items 1–2, OIDC Core §9: iss = sub = client_id.
        let iss = claim_str(&claims, "iss")?;
        let sub = claim_str(&claims, "sub")?;
        if iss != sub {
            return Err(ClientAuthError::IssuerSubjectMismatch);
        }
        if iss != client.client_id {
            return Err(ClientAuthError::ClientIdMismatch);
        }
        // RFC 7523 §3 item 3, narrowed by FAPI 2.0 Security Profile Final §5.3.2.1 item 8.
        check_audience(claims.get("aud"), &self.issuer)?;
        // Lifetime bound, measured from iat if present, else from now.
        let exp = numeric(&claims, "exp")?.ok_or(ClientAuthError::MissingClaim("exp"))?;
        let start = numeric(&claims, "iat")?.unwrap_or_else(|| unix_seconds(now));
        if exp - start > self.max_lifetime.as_seconds_f64() {
            return Err(ClientAuthError::LifetimeTooLong);
        }
        // OIDC Core §9: jti required.
        let jti = claim_str(&claims, "jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(ClientAuthError::InvalidClaim("jti"));
        }
        // RFC 7523 §3 item 7: remember (client, jti) until exp. Hashes keep the key short and
        // unambiguous whatever characters the client_id and jti contain.
        let expires_at = OffsetDateTime::from_unix_timestamp(exp.ceil() as i64)
            .map_err(|_| ClientAuthError::InvalidClaim("exp"))?;
        let key = format!(
            "{}.{}",
            sha256_b64url(client.client_id.as_bytes()),
            sha256_b64url(jti.as_bytes())
        );
        unit.claim(OneTimeClaim {
            namespace: REPLAY_NAMESPACE,
            key,
            expires_at,
        });
        Ok(AuthenticatedClientId(client.client_id.to_owned()))
    }
}

/// FAPI 2.0 Security Profile Final §5.3.2.1 item 8: `aud` is exactly `issuer`, as a string. An
/// empty issuer accepts nothing, so a misconfiguration cannot open the check.
fn check_audience(aud: Option<&Value>, issuer: &str) -> Result<(), ClientAuthError> {
    match aud {
        None => Err(ClientAuthError::MissingClaim("aud")),
        Some(Value::String(a)) if !issuer.is_empty() && a == issuer => Ok(()),
        Some(Value::String(_)) => Err(ClientAuthError::WrongAudience),
        Some(Value::Array(_)) => Err(ClientAuthError::AudienceNotAString),
        Some(_) => Err(ClientAuthError::InvalidClaim("aud")),
    }
}

fn claim_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, ClientAuthError> {
    match claims.get(name) {
        None => Err(ClientAuthError::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(ClientAuthError::InvalidClaim(name)),
    }
}

fn numeric(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<f64>, ClientAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or(ClientAuthError::InvalidClaim(name)),
    }
}

/// The claims of a compact JWS without verifying anything, for key lookup only.
fn unverified_claims(token: &str) -> Result<Map<String, Value>, ClientAuthError> {
    if token.len() > shonin_jose::MAX_JWS_LEN {
        return Err(ClientAuthError::Malformed(JoseError::TooLarge {
            max: shonin_jose::MAX_JWS_LEN,
        }));
    }
    let mut segments = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(ClientAuthError::Malformed(JoseError::Malformed(
            "expected three dot-separated segments",
        )));
    };
    let bytes = b64url_decode(payload).map_err(ClientAuthError::Malformed)?;
    // serde_json's recursion limit (128) bounds nesting; the size is bounded above. Duplicate
    // names are refused here as the verifier refuses them (`shonin_jose::decode_object`).
    match shonin_types::json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ClientAuthError::Malformed(JoseError::NotAnObject("claims"))),
        Err(shonin_types::json::JsonError::DuplicateName(_)) => Err(ClientAuthError::Malformed(
            JoseError::DuplicateName("claims"),
        )),
        Err(_) => Err(ClientAuthError::Malformed(JoseError::Json("claims"))),
    }
}

fn sha256_b64url(bytes: &[u8]) -> String {
    b64url_encode(digest(&SHA256, bytes).as_ref())
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shonin_types::StorageError;

    fn jws_with_claims(claims: &Value) -> String {
        format!(
            "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
            b64url_encode(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn claimed_client_id_prefers_the_form_parameter() {
        let p = ClientAssertionParams {
            client_assertion: "not even a jwt",
            client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
            client_id: Some("c1"),
        };
        assert_eq!(p.claimed_client_id().unwrap(), "c1");
    }

    #[test]
    fn claimed_client_id_falls_back_to_iss_equal_to_sub() {
        let token = jws_with_claims(&json!({"iss":"c2","sub":"c2"}));
        let p = ClientAssertionParams {
            client_assertion: &token,
            client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
            client_id: None,
        };
        assert_eq!(p.claimed_client_id().unwrap(), "c2");

        let token = jws_with_claims(&json!({"iss":"c2","sub":"c3"}));
        let p = ClientAssertionParams {
            client_assertion: &token,
            ..p
        };
        assert!(matches!(
            p.claimed_client_id(),
            Err(ClientAuthError::IssuerSubjectMismatch)
        ));
    }

    #[test]
    fn claimed_client_id_refuses_garbage() {
        let huge = "a".repeat(shonin_jose::MAX_JWS_LEN + 1);
        let no_iss = jws_with_claims(&json!({"sub":"c"}));
        let array = format!("e30.{}.c2ln", b64url_encode(b"[1]"));
        for bad in ["", "a.b", "a.b.c.d", "e30.!!!.c2ln", &array, &huge, &no_iss] {
            let p = ClientAssertionParams {
                client_assertion: bad,
                client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
                client_id: None,
            };
            assert!(p.claimed_client_id().is_err(), "{bad:.40}");
        }
    }

    #[test]
    fn audience_is_the_issuer_as_a_string_and_nothing_else() {
        let iss = "https://as.example";
        let c = |v: Value| check_audience(Some(&v), iss);
        assert!(c(json!("https://as.example")).is_ok());
        for wrong in [
            "https://as.example/",
            "https://as.example/token",
            "https://as.example/par",
            "https://AS.example",
            "https://other-as.example",
            "",
        ] {
            assert!(
                matches!(c(json!(wrong)), Err(ClientAuthError::WrongAudience)),
                "{wrong}"
            );
        }
        for array in [
            json!(["https://as.example"]),
            json!(["https://as.example", "https://other-as.example"]),
            json!([]),
        ] {
            assert!(
                matches!(c(array.clone()), Err(ClientAuthError::AudienceNotAString)),
                "{array}"
            );
        }
        for other in [json!(7), json!(null), json!({"aud": iss}), json!(true)] {
            assert!(
                matches!(c(other.clone()), Err(ClientAuthError::InvalidClaim("aud"))),
                "{other}"
            );
        }
        assert!(matches!(
            check_audience(None, iss),
            Err(ClientAuthError::MissingClaim("aud"))
        ));
    }

    #[test]
    fn an_empty_issuer_accepts_no_audience_even_if_misconfigured() {
        assert!(matches!(
            check_audience(Some(&json!("")), ""),
            Err(ClientAuthError::WrongAudience)
        ));
    }

    #[test]
    fn configuration_limits_follow_fapi_clock_skew_rule() {
        let v = ClientAssertionVerifier::new("https://as.example");
        assert!(v.clone().with_future_leeway(Duration::seconds(60)).is_ok());
        assert!(v.clone().with_future_leeway(Duration::seconds(61)).is_err());
        assert!(v.clone().with_future_leeway(Duration::seconds(-1)).is_err());
        assert!(v.clone().with_max_lifetime(Duration::ZERO).is_err());
        assert!(v.clone().with_max_lifetime(Duration::hours(2)).is_err());
        assert!(v.with_max_lifetime(Duration::minutes(1)).is_ok());
    }

    #[test]
    fn every_failure_but_storage_is_invalid_client() {
        assert_eq!(ClientAuthError::Replayed.oauth_error(), "invalid_client");
        assert_eq!(
            ClientAuthError::UnsupportedAssertionType.oauth_error(),
            "invalid_client"
        );
        assert_eq!(
            ClientAuthError::Storage(StorageError::Unavailable("db".into())).oauth_error(),
            "temporarily_unavailable"
        );
        assert_eq!(
            ClientAuthError::Storage(StorageError::Corrupt("db".into())).oauth_error(),
            "temporarily_unavailable"
        );
    }
}
