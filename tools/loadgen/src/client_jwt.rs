//! What a FAPI 2.0 client signs for one request: a `private_key_jwt` client assertion
//! (RFC 7523, OIDC Core §9) and a DPoP proof (RFC 9449 §4.2), built the way Shonin's own tests
//! build them (`shonin_jose::signing_input` + `assemble`, signed by a `shonin_keys::LocalSigner`).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use shonin_jose::{assemble, b64url_encode, signing_input};
use shonin_keys::{LocalSigner, Signer};
use std::sync::atomic::{AtomicU64, Ordering};

/// How long after `iat` a client assertion expires. Shonin accepts at most 5 minutes; two are
/// enough for a benchmark window and keep the replay rows short-lived.
pub const ASSERTION_LIFETIME_SECS: i64 = 120;

/// Hands out `jti` values that can never repeat within one source: a random 128-bit prefix
/// (so two sources, e.g. two `pregen` runs, do not collide either) and a counter.
#[derive(Debug)]
pub struct JtiSource {
    prefix: String,
    next: AtomicU64,
}

impl JtiSource {
    pub fn new() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        Ok(Self {
            prefix: b64url_encode(&bytes),
            next: AtomicU64::new(0),
        })
    }

    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.prefix)
    }
}

/// The seconds since the Unix epoch now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sign(signer: &LocalSigner, header: &Value, claims: &Value) -> anyhow::Result<String> {
    let input = signing_input(header, claims)?;
    let sig = signer.sign_now(input.as_bytes())?;
    Ok(assemble(&input, &sig))
}

/// A client assertion for `client_id` with audience `aud` (the issuer: FAPI 2.0 §5.3.2.1).
pub fn assertion(
    key: &LocalSigner,
    client_id: &str,
    aud: &str,
    iat: i64,
    jti: &str,
) -> anyhow::Result<String> {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"});
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": iat, "exp": iat + ASSERTION_LIFETIME_SECS, "jti": jti,
    });
    sign(key, &header, &claims)
}

/// A DPoP proof for `htm` `htu`, with the public key in the header (RFC 9449 §4.2).
pub fn dpop_proof(
    key: &LocalSigner,
    htm: &str,
    htu: &str,
    iat: i64,
    jti: &str,
) -> anyhow::Result<String> {
    dpop_proof_for_token(key, htm, htu, iat, jti, None)
}

/// A DPoP proof as [`dpop_proof`]; with `access_token`, also its hash in `ath`, as a request to
/// a protected resource needs (RFC 9449 §4.2, §7.1).
pub fn dpop_proof_for_token(
    key: &LocalSigner,
    htm: &str,
    htu: &str,
    iat: i64,
    jti: &str,
    access_token: Option<&str>,
) -> anyhow::Result<String> {
    let header = json!({"typ": "dpop+jwt", "alg": key.alg().as_str(), "jwk": key.public_jwk()});
    let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": iat});
    if let (Some(token), Some(map)) = (access_token, claims.as_object_mut()) {
        let ath = digest(&SHA256, token.as_bytes());
        map.insert("ath".to_owned(), Value::String(b64url_encode(ath.as_ref())));
    }
    sign(key, &header, &claims)
}

/// The form fields of `private_key_jwt` client authentication (RFC 7523 §2.2).
pub fn client_auth_fields(client_id: &str, assertion: String) -> [(&'static str, String); 3] {
    [
        ("client_id", client_id.to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion", assertion),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_jose::Alg;

    #[test]
    fn jti_source_never_repeats() {
        let s = JtiSource::new().unwrap();
        let a: std::collections::HashSet<String> = (0..10_000).map(|_| s.next()).collect();
        assert_eq!(a.len(), 10_000);
    }

    #[test]
    fn assertion_and_proof_verify_under_shonin_jose() {
        let key = LocalSigner::generate(Alg::ES256).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let iat = now.unix_timestamp();
        let a = assertion(&key, "c", "https://localhost:8443", iat, "j1").unwrap();
        let jwks = json!({"keys": [key.public_jwk()]});
        let claims = shonin_jose::verify_jwt(&a, &jwks, &shonin_jose::VerifyOptions::new(now));
        assert!(claims.is_ok(), "{claims:?}");
        let p = dpop_proof(&key, "POST", "https://localhost:8443/token", iat, "j2").unwrap();
        let opts = shonin_jose::VerifyOptions::new(now)
            .with_typ("dpop+jwt")
            .exp_optional();
        assert!(shonin_jose::verify_with_jwk(&p, key.public_jwk(), &opts).is_ok());
    }

    #[test]
    fn a_resource_proof_carries_the_access_token_hash() {
        let key = LocalSigner::generate(Alg::ES256).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let url = "https://localhost:8443/userinfo";
        let p =
            dpop_proof_for_token(&key, "GET", url, now.unix_timestamp(), "j", Some("at")).unwrap();
        let opts = shonin_jose::VerifyOptions::new(now)
            .with_typ("dpop+jwt")
            .exp_optional();
        let claims = shonin_jose::verify_with_jwk(&p, key.public_jwk(), &opts).unwrap();
        // RFC 9449 §4.2: base64url(SHA-256("at")).
        let want = b64url_encode(digest(&SHA256, b"at").as_ref());
        assert_eq!(
            claims.get("ath").and_then(Value::as_str),
            Some(want.as_str())
        );
        assert_eq!(claims.get("htm").and_then(Value::as_str), Some("GET"));
    }
}
