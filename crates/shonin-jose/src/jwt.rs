//! JWT verification (RFC 7519 §7.2, RFC 8725) under the algorithm policy.

use crate::b64::decode_labelled;
use crate::compact::{Parts, decode_object, header_from_segment, split};
use crate::jwk::{VerifyingKey, select_key, verifying_key};
use crate::{Header, JoseError};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// How far in the future `iat`/`nbf` may lie by default. FAPI 2.0 Security Profile §5.3.2.1
/// (clock skew): accept 0–10 s in the future, reject more than 60 s.
pub const DEFAULT_LEEWAY_FUTURE: Duration = Duration::seconds(10);

/// What [`verify_jwt`] and [`verify_with_jwk`] check beyond the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The required `typ` header (RFC 8725 §3.11 explicit typing), e.g. `"dpop+jwt"`. Compared
    /// case-insensitively, with an optional `application/` prefix (RFC 7515 §4.1.9).
    pub expected_typ: Option<&'static str>,
    /// The current time.
    pub now: OffsetDateTime,
    /// How far in the future `iat` and `nbf` may be.
    pub leeway_future: Duration,
    /// Whether a token without `exp` is rejected.
    pub require_exp: bool,
}

impl VerifyOptions {
    /// Options for `now`: any `typ`, `exp` required, 10 s leeway for `iat`/`nbf` in the future.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            expected_typ: None,
            now,
            leeway_future: DEFAULT_LEEWAY_FUTURE,
            require_exp: true,
        }
    }

    /// Requires the `typ` header to be `typ`.
    pub fn with_typ(mut self, typ: &'static str) -> Self {
        self.expected_typ = Some(typ);
        self
    }

    /// Accepts tokens without `exp` (e.g. DPoP proofs, which are bounded by `iat` instead).
    pub fn exp_optional(mut self) -> Self {
        self.require_exp = false;
        self
    }
}

/// Verifies a compact JWT against a JWK set (`{"keys":[...]}`) and returns its claims.
///
/// The key is chosen by `kid` (see FAPI 2.0 §5.4 for duplicate `kid`s); the header's `alg` must be
/// in the policy and fit the key; any `jwk` embedded in the header is ignored.
pub fn verify_jwt(
    token: &str,
    jwks: &Value,
    opts: &VerifyOptions,
) -> Result<Map<String, Value>, JoseError> {
    verify(token, opts, |header| {
        let jwk = select_key(jwks, header)?;
        verifying_key(jwk, header.alg)
    })
}

/// Verifies a compact JWT against a single public JWK (e.g. the key embedded in a DPoP proof, or
/// a client's registered key) and returns its claims. If both the header and the key carry a
/// `kid`, they must be equal.
pub fn verify_with_jwk(
    token: &str,
    jwk: &Value,
    opts: &VerifyOptions,
) -> Result<Map<String, Value>, JoseError> {
    verify(token, opts, |header| single_key(jwk, header))
}

/// Verifies the signature of a compact JWS whose payload need not be a JWT claims set, against a
/// single public JWK, and returns the header and the payload bytes. Applies the same header and
/// key rules as [`verify_with_jwk`] but no claim or `typ` checks.
pub fn verify_jws_with_jwk(token: &str, jwk: &Value) -> Result<(Header, Vec<u8>), JoseError> {
    let parts = split(token)?;
    let header = header_from_segment(parts.header)?;
    let key = single_key(jwk, &header)?;
    check_signature(&key, &parts)?;
    let payload = decode_labelled(parts.payload, "payload")?;
    Ok((header, payload))
}

fn single_key(jwk: &Value, header: &Header) -> Result<VerifyingKey, JoseError> {
    let Value::Object(map) = jwk else {
        return Err(JoseError::NotAnObject("jwk"));
    };
    if let (Some(hk), Some(jk)) = (&header.kid, map.get("kid"))
        && jk.as_str() != Some(hk.as_str())
    {
        return Err(JoseError::UnknownKey);
    }
    verifying_key(map, header.alg)
}

fn check_signature(key: &VerifyingKey, parts: &Parts<'_>) -> Result<(), JoseError> {
    let signature = decode_labelled(parts.signature, "signature")?;
    key.verify(parts.signing_input.as_bytes(), &signature)
}

fn verify(
    token: &str,
    opts: &VerifyOptions,
    key_for: impl FnOnce(&Header) -> Result<VerifyingKey, JoseError>,
) -> Result<Map<String, Value>, JoseError> {
    let parts = split(token)?;
    let header = header_from_segment(parts.header)?;
    if let Some(expected) = opts.expected_typ
        && !typ_matches(header.typ.as_deref(), expected)
    {
        return Err(JoseError::TypMismatch { expected });
    }
    let key = key_for(&header)?;
    check_signature(&key, &parts)?;
    // Only now, with the signature checked, is the payload parsed.
    let claims = decode_object(parts.payload, "claims")?;
    check_times(&claims, opts)?;
    Ok(claims)
}

/// RFC 7515 §4.1.9: media type names compare case-insensitively and `application/` may be omitted.
fn typ_matches(actual: Option<&str>, expected: &str) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => {
                t.get(12..).unwrap_or("")
            }
            _ => t,
        }
    }
    actual.is_some_and(|a| strip(a).eq_ignore_ascii_case(strip(expected)))
}

/// Reads a NumericDate claim (RFC 7519 §2: seconds since the epoch, possibly fractional).
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, JoseError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(JoseError::InvalidClaim(name)),
        Some(_) => Err(JoseError::InvalidClaim(name)),
    }
}

fn check_times(claims: &Map<String, Value>, opts: &VerifyOptions) -> Result<(), JoseError> {
    let now = unix_seconds(opts.now);
    let latest_acceptable = now + opts.leeway_future.as_seconds_f64();
    // RFC 7519 §4.1.4: the current time must be before `exp`.
    match numeric_date(claims, "exp")? {
        Some(exp) if now >= exp => return Err(JoseError::Expired),
        Some(_) => {}
        None if opts.require_exp => return Err(JoseError::MissingClaim("exp")),
        None => {}
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| nbf > latest_acceptable) {
        return Err(JoseError::NotYetValid);
    }
    // FAPI 2.0 §5.3.2.1: iat more than the leeway in the future is refused.
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > latest_acceptable) {
        return Err(JoseError::IssuedInFuture);
    }
    Ok(())
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    // Nanosecond precision is not needed; f64 holds whole seconds of any plausible date exactly.
    t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_compares_case_insensitively_with_optional_application_prefix() {
        assert!(typ_matches(Some("dpop+jwt"), "dpop+jwt"));
        assert!(typ_matches(Some("application/DPoP+JWT"), "dpop+jwt"));
        assert!(typ_matches(Some("dpop+jwt"), "application/dpop+jwt"));
        assert!(!typ_matches(Some("JWT"), "dpop+jwt"));
        assert!(!typ_matches(None, "dpop+jwt"));
        assert!(!typ_matches(Some("applicatio"), "dpop+jwt"));
    }
}
