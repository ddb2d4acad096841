//! DPoP proof verification (RFC 9449), for the authorization server's PAR and token endpoints
//! and for resource servers that embed this crate.
//!
//! The HTTP layer must pass exactly one `DPoP` header value (§4.3 (1): more than one header is
//! refused before this code runs) and the endpoint's own public URL as an [`Htu`].

mod error;
mod htu;
mod nonce;

pub use error::{DpopError, NonceRejection};
pub use htu::Htu;
pub use nonce::NonceKey;

use crate::ConfigError;
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};
use shonin_jose::{
    Alg, MAX_JWS_LEN, VerifyOptions, b64url_encode, decode_header, jwk_thumbprint_sha256,
    validate_public_jwk, verify_with_jwk,
};
use shonin_types::constant_time_eq;
use shonin_types::unit::{OneTimeClaim, UnitOfWork};
use time::{Duration, OffsetDateTime};

/// The explicit type of a DPoP proof (RFC 9449 §4.2, RFC 8725 §3.11).
pub const DPOP_TYP: &str = "dpop+jwt";

/// Replay-store namespace of DPoP proof `jti`s.
pub const REPLAY_NAMESPACE: &str = "dpop";

/// The longest `jti` accepted. §11.1: refuse unnecessarily large `jti` values; 96 random bits
/// base64url-encoded are 16 characters and a UUID is 36.
pub const MAX_JTI_LEN: usize = 256;

/// Settings of a [`DpopVerifier`]; checked by [`DpopVerifier::new`].
#[derive(Debug)]
pub struct DpopConfig {
    /// Algorithms accepted for proofs, a subset of the JOSE policy (published as
    /// `dpop_signing_alg_values_supported`, §5.1).
    pub allowed_algs: Vec<Alg>,
    /// How long after its `iat` a proof is accepted (§11.1). 1 s to 300 s; default 60 s.
    pub max_age: Duration,
    /// How far in the future `iat` may be. FAPI 2.0 §5.3.2.1: accept 0–10 s, reject more than
    /// 60 s; so 0 s to 60 s; default 10 s.
    pub future_leeway: Duration,
    /// When set, every proof must carry a nonce issued under this key (§8).
    pub nonce: Option<NonceKey>,
    /// Longest proof accepted, in bytes; at most the JOSE limit. Default 8 KiB, which holds an
    /// RSA-8192 `jwk`.
    pub max_proof_len: usize,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            allowed_algs: vec![Alg::ES256, Alg::PS256, Alg::EdDSA],
            max_age: Duration::seconds(60),
            future_leeway: Duration::seconds(10),
            nonce: None,
            max_proof_len: 8 * 1024,
        }
    }
}

/// What the server knows about the request a proof came with.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method, compared case-sensitively with `htm` (RFC 9110 §9.1).
    pub method: &'a str,
    /// The endpoint's public URI.
    pub uri: &'a Htu,
    /// The access token presented with the request (resource access, §7); its hash must be the
    /// proof's `ath`. `None` at the authorization server, where `ath` is then ignored.
    pub access_token: Option<&'a str>,
    /// The RFC 7638 thumbprint the proof key must have: the code's `dpop_jkt` (§10, §10.1) or
    /// the access token's `cnf.jkt` (§6, §7.1).
    pub expected_jkt: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof key: the value to bind tokens and codes to.
    pub jkt: String,
    pub jti: String,
    /// The proof's `iat`, truncated to whole seconds.
    pub iat: OffsetDateTime,
    /// The proof's public key.
    pub jwk: Value,
}

/// Verifies DPoP proofs under one configuration.
#[derive(Debug)]
pub struct DpopVerifier {
    config: DpopConfig,
}

impl DpopVerifier {
    /// Checks `config` against the ranges documented on [`DpopConfig`].
    pub fn new(config: DpopConfig) -> Result<Self, ConfigError> {
        if config.allowed_algs.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if config.max_age < Duration::SECOND || config.max_age > Duration::seconds(300) {
            return Err(ConfigError::OutOfRange {
                setting: "DPoP max_age",
                rule: "1 s to 300 s",
            });
        }
        if config.future_leeway.is_negative() || config.future_leeway > Duration::seconds(60) {
            return Err(ConfigError::OutOfRange {
                setting: "DPoP future_leeway",
                rule: "0 s to 60 s (FAPI 2.0 clock skew rule)",
            });
        }
        if config.max_proof_len == 0 || config.max_proof_len > MAX_JWS_LEN {
            return Err(ConfigError::OutOfRange {
                setting: "DPoP max_proof_len",
                rule: "1 to 16384 bytes",
            });
        }
        Ok(Self { config })
    }

    /// The `dpop_signing_alg_values_supported` metadata value (RFC 9449 §5.1).
    pub fn signing_alg_values_supported(&self) -> Vec<&'static str> {
        self.config
            .allowed_algs
            .iter()
            .map(|a| a.as_str())
            .collect()
    }

    /// Whether proofs must carry a server nonce.
    pub fn requires_nonce(&self) -> bool {
        self.config.nonce.is_some()
    }

    /// A fresh nonce for the `DPoP-Nonce` response header (§8.2), if nonces are in use.
    pub fn issue_nonce(&self, now: OffsetDateTime) -> Option<String> {
        self.config.nonce.as_ref().map(|k| k.issue(now))
    }

    /// Verifies `proof` for `request` at `now` (RFC 9449 §4.3) and stages the claim of its `jti`
    /// in `unit`, so it is accepted only once (§11.1): the request's unit of work decides the
    /// claim when it commits, and a replay is refused with [`DpopError::Replayed`]. A proof that
    /// fails any other check stages nothing.
    pub async fn verify_proof(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        now: OffsetDateTime,
        unit: &mut UnitOfWork,
    ) -> Result<VerifiedProof, DpopError> {
        let cfg = &self.config;
        if proof.len() > cfg.max_proof_len {
            return Err(DpopError::TooLarge {
                max: cfg.max_proof_len,
            });
        }
        // §4.3 (2), (5): one compact JWS whose alg is in the JOSE policy (never none, HS*, RS*).
        let header = decode_header(proof).map_err(DpopError::from_header)?;
        // §4.3 (4): explicit typing.
        if !typ_is_dpop(header.typ.as_deref()) {
            return Err(DpopError::WrongTyp);
        }
        // §4.3 (5): and in this server's DPoP list.
        if !cfg.allowed_algs.contains(&header.alg) {
            return Err(DpopError::AlgNotAllowed);
        }
        // §4.2, §4.3 (7): a public key fitting the alg, no private members.
        let jwk = header.jwk.ok_or(DpopError::MissingJwk)?;
        validate_public_jwk(&jwk, header.alg).map_err(DpopError::from_jwk)?;
        // §4.3 (6): the signature verifies under that key; iat/nbf/exp sanity per RFC 7519.
        let opts = VerifyOptions {
            expected_typ: Some(DPOP_TYP),
            now,
            leeway_future: cfg.future_leeway,
            require_exp: false,
        };
        let claims = verify_with_jwk(proof, &jwk, &opts).map_err(DpopError::from_verify)?;

        // §4.3 (3): required claims.
        let jti = required_str(&claims, "jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(DpopError::InvalidClaim("jti"));
        }
        let htm = required_str(&claims, "htm")?;
        let htu = required_str(&claims, "htu")?;
        let iat = match claims.get("iat") {
            None => return Err(DpopError::MissingClaim("iat")),
            Some(v) => v.as_f64().ok_or(DpopError::InvalidClaim("iat"))?,
        };

        // §4.3 (8)
        if htm != request.method {
            return Err(DpopError::HtmMismatch);
        }
        // §4.3 (9): both sides normalised per RFC 3986 §6.2.2–6.2.3, query and fragment ignored.
        let claimed = Htu::parse(htu).map_err(|_| DpopError::InvalidClaim("htu"))?;
        if &claimed != request.uri {
            return Err(DpopError::HtuMismatch);
        }
        // §4.3 (11), §11.1; FAPI 2.0 §5.3.2.1 for the future side.
        let now_s = unix_seconds(now);
        if iat > now_s + cfg.future_leeway.as_seconds_f64() {
            return Err(DpopError::IatInFuture);
        }
        if now_s - iat > cfg.max_age.as_seconds_f64() {
            return Err(DpopError::IatTooOld);
        }
        // §4.3 (10), §8.
        if let Some(key) = &cfg.nonce {
            let nonce = match claims.get("nonce") {
                None => return Err(DpopError::UseNonce(NonceRejection::Missing)),
                Some(Value::String(n)) => n,
                Some(_) => return Err(DpopError::UseNonce(NonceRejection::Invalid)),
            };
            key.classify(nonce, now).map_err(DpopError::UseNonce)?;
        }
        // §4.3 (12), §7: with an access token, ath is required and must match. Without one (the
        // token endpoint, PAR) RFC 9449 defines no meaning for ath, so it is ignored.
        if let Some(token) = request.access_token {
            let ath = match claims.get("ath") {
                None => return Err(DpopError::MissingAth),
                Some(Value::String(a)) => a,
                Some(_) => return Err(DpopError::InvalidClaim("ath")),
            };
            if !constant_time_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
                return Err(DpopError::AthMismatch);
            }
        }
        let jkt = jwk_thumbprint_sha256(&jwk).map_err(DpopError::InvalidJwk)?;
        // §4.3 (12), §6, §10, §10.1: the key the token or code is bound to.
        if let Some(expected) = request.expected_jkt
            && !constant_time_eq(expected.as_bytes(), jkt.as_bytes())
        {
            return Err(DpopError::KeyMismatch);
        }

        // §11.1: remember the jti for as long as the proof could be accepted. The key holds a
        // hash of the jti so its length is fixed (§11.1 memory exhaustion).
        let iat_time = OffsetDateTime::from_unix_timestamp(iat.floor() as i64)
            .map_err(|_| DpopError::InvalidClaim("iat"))?;
        let expires_at = iat_time + Duration::SECOND + cfg.max_age;
        unit.claim(OneTimeClaim {
            namespace: REPLAY_NAMESPACE,
            key: format!("{jkt}:{}", sha256_b64url(jti.as_bytes())),
            expires_at,
        });
        Ok(VerifiedProof {
            jkt,
            jti: jti.to_owned(),
            iat: iat_time,
            jwk,
        })
    }
}

/// The `ath` value for `access_token`: base64url of SHA-256 of its ASCII bytes (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    sha256_b64url(access_token.as_bytes())
}

fn sha256_b64url(bytes: &[u8]) -> String {
    b64url_encode(digest(&SHA256, bytes).as_ref())
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively and may carry the `application/` prefix.
fn typ_is_dpop(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case(DPOP_TYP) || t.eq_ignore_ascii_case("application/dpop+jwt")
    })
}

fn required_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, DpopError> {
    match claims.get(name) {
        None => Err(DpopError::MissingClaim(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(DpopError::InvalidClaim(name)),
    }
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9449_figure_14_ath_matches_figure_13_token() {
        // RFC 9449 §7.1, Figures 13 and 14.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn typ_accepts_only_dpop_jwt_spellings() {
        assert!(typ_is_dpop(Some("dpop+jwt")));
        assert!(typ_is_dpop(Some("DPoP+JWT")));
        assert!(typ_is_dpop(Some("application/dpop+jwt")));
        for bad in [None, Some("JWT"), Some("at+jwt"), Some("dpop"), Some("")] {
            assert!(!typ_is_dpop(bad), "{bad:?}");
        }
    }

    #[test]
    fn default_config_is_valid() {
        let v = DpopVerifier::new(DpopConfig::default()).unwrap();
        assert_eq!(
            v.signing_alg_values_supported(),
            vec!["ES256", "PS256", "EdDSA"]
        );
        assert!(!v.requires_nonce());
        assert_eq!(v.issue_nonce(OffsetDateTime::UNIX_EPOCH), None);
    }

    #[test]
    fn config_outside_the_allowed_ranges_is_refused() {
        let bad = [
            DpopConfig {
                allowed_algs: vec![],
                ..DpopConfig::default()
            },
            DpopConfig {
                max_age: Duration::ZERO,
                ..DpopConfig::default()
            },
            DpopConfig {
                max_age: Duration::seconds(301),
                ..DpopConfig::default()
            },
            DpopConfig {
                future_leeway: Duration::seconds(61),
                ..DpopConfig::default()
            },
            DpopConfig {
                future_leeway: Duration::seconds(-1),
                ..DpopConfig::default()
            },
            DpopConfig {
                max_proof_len: 0,
                ..DpopConfig::default()
            },
            DpopConfig {
                max_proof_len: MAX_JWS_LEN + 1,
                ..DpopConfig::default()
            },
        ];
        for c in bad {
            let shown = format!("{c:?}");
            assert!(DpopVerifier::new(c).is_err(), "{shown}");
        }
    }

    #[test]
    fn oauth_error_codes_follow_rfc9449() {
        assert_eq!(
            DpopError::UseNonce(NonceRejection::Missing).oauth_error(),
            "use_dpop_nonce"
        );
        assert_eq!(DpopError::HtuMismatch.oauth_error(), "invalid_dpop_proof");
        assert_eq!(DpopError::KeyMismatch.oauth_error(), "invalid_dpop_proof");
        assert_eq!(
            DpopError::Storage(shonin_types::StorageError::Unavailable("x".into())).oauth_error(),
            "temporarily_unavailable"
        );
        assert_eq!(
            DpopError::Storage(shonin_types::StorageError::Corrupt("x".into())).oauth_error(),
            "temporarily_unavailable"
        );
    }
}
