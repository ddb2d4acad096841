//! Test doubles and token builders shared by the integration tests.
#![allow(dead_code)]

use async_trait::async_trait;
use serde_json::Value;
use shonin_jose::{Alg, assemble, b64url_encode, signing_input};
use shonin_keys::{LocalSigner, RsaBits, Signer};
use shonin_oauth::{
    AuthenticatedClientId, ClientAssertionParams, ClientAssertionVerifier, ClientAuthError,
    ClientJwks, DpopError, DpopRequest, DpopVerifier, VerifiedProof,
};
use shonin_types::StorageError;
use shonin_types::ports::ReplayStore;
use shonin_types::unit::UnitOfWork;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The instant every test runs at.
pub const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// `NOW + offset_s` as a NumericDate.
pub fn ts(offset_s: i64) -> i64 {
    (NOW + Duration::seconds(offset_s)).unix_timestamp()
}

/// An in-memory [`ReplayStore`]: what `shonin-store` does with a table, with a `Mutex<HashMap>`.
/// Records expire relative to the store's own clock, like the real implementations.
#[derive(Debug)]
pub struct MemoryReplay {
    now: OffsetDateTime,
    seen: Mutex<HashMap<(String, String), OffsetDateTime>>,
}

impl MemoryReplay {
    /// A store whose clock reads [`NOW`].
    pub fn new() -> Self {
        Self::at(NOW)
    }

    /// A store whose clock reads `now`.
    pub fn at(now: OffsetDateTime) -> Self {
        Self {
            now,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Every recorded `(namespace, key, expires_at)`.
    pub fn entries(&self) -> Vec<(String, String, OffsetDateTime)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|((n, k), e)| (n.clone(), k.clone(), *e))
            .collect()
    }
}

#[async_trait]
impl ReplayStore for MemoryReplay {
    async fn first_use(
        &self,
        namespace: &str,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let mut seen = self.seen.lock().unwrap();
        let k = (namespace.to_owned(), key.to_owned());
        match seen.get(&k) {
            Some(existing) if *existing > self.now => Ok(false),
            _ => {
                seen.insert(k, expires_at);
                Ok(true)
            }
        }
    }

    async fn sweep_replays(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let mut seen = self.seen.lock().unwrap();
        let before = seen.len();
        seen.retain(|_, e| *e > now);
        Ok((before - seen.len()) as u64)
    }
}

/// What a request's commit does with the claims its verifiers staged: decides each in
/// `store`, in order; `false` at the first replayed one.
pub async fn settle(store: &dyn ReplayStore, unit: UnitOfWork) -> Result<bool, StorageError> {
    for c in unit.claims {
        if !store.first_use(c.namespace, &c.key, c.expires_at).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Verifies a DPoP proof and settles its staged claim in `store`, as a request would.
pub async fn verify_proof(
    v: &DpopVerifier,
    proof: &str,
    req: &DpopRequest<'_>,
    now: OffsetDateTime,
    store: &dyn ReplayStore,
) -> Result<VerifiedProof, DpopError> {
    let mut unit = UnitOfWork::new();
    let verified = v.verify_proof(proof, req, now, &mut unit).await?;
    assert_eq!(
        unit.claims.len(),
        1,
        "a verified proof stages exactly its jti"
    );
    if settle(store, unit).await? {
        Ok(verified)
    } else {
        Err(DpopError::Replayed)
    }
}

/// Verifies a client assertion and settles its staged claim in `store`, as a request would.
pub async fn verify_assertion(
    v: &ClientAssertionVerifier,
    params: &ClientAssertionParams<'_>,
    client: ClientJwks<'_>,
    now: OffsetDateTime,
    store: &dyn ReplayStore,
) -> Result<AuthenticatedClientId, ClientAuthError> {
    let mut unit = UnitOfWork::new();
    let verified = v.verify(params, client, now, &mut unit).await?;
    assert_eq!(
        unit.claims.len(),
        1,
        "a verified assertion stages exactly its jti"
    );
    if settle(store, unit).await? {
        Ok(verified)
    } else {
        Err(ClientAuthError::Replayed)
    }
}

static ES256_A: LazyLock<LocalSigner> =
    LazyLock::new(|| LocalSigner::generate(Alg::ES256).unwrap());
static ES256_B: LazyLock<LocalSigner> =
    LazyLock::new(|| LocalSigner::generate(Alg::ES256).unwrap());
static EDDSA: LazyLock<LocalSigner> = LazyLock::new(|| LocalSigner::generate(Alg::EdDSA).unwrap());
static PS256: LazyLock<LocalSigner> =
    LazyLock::new(|| LocalSigner::generate_ps256(RsaBits::Rsa2048).unwrap());

pub fn es256() -> &'static LocalSigner {
    &ES256_A
}

/// A second, unrelated P-256 key.
pub fn es256_other() -> &'static LocalSigner {
    &ES256_B
}

pub fn eddsa() -> &'static LocalSigner {
    &EDDSA
}

pub fn ps256() -> &'static LocalSigner {
    &PS256
}

/// The signer's public JWK without `kid`, `alg` and `use`, as a DPoP client would embed it.
pub fn bare_jwk(signer: &LocalSigner) -> Value {
    let mut jwk = signer.public_jwk().clone();
    let map = jwk.as_object_mut().unwrap();
    for m in ["kid", "alg", "use"] {
        map.remove(m);
    }
    jwk
}

/// Signs `claims` under `header` with `signer` (the header's `alg` must be in the policy).
pub fn sign(signer: &LocalSigner, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims).unwrap();
    let sig = signer.sign_now(input.as_bytes()).unwrap();
    assemble(&input, &sig)
}

/// Assembles a compact JWS with an arbitrary header and signature, bypassing the policy, for
/// tokens an attacker would send (`alg: none`, `HS256`, `RS256`).
pub fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes()),
        b64url_encode(signature)
    )
}

/// HMAC-SHA256 over `header.claims` with `key`, assembled with `alg: HS256` in `header`.
pub fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&k, input.as_bytes());
    assemble(&input, tag.as_ref())
}

/// An RSA key that signs RS256 (PKCS#1 v1.5), which the policy refuses, and its public JWK.
pub struct Rs256Key {
    pair: aws_lc_rs::signature::RsaKeyPair,
}

impl Rs256Key {
    pub fn generate() -> Self {
        Self {
            pair: aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .unwrap(),
        }
    }

    pub fn jwk(&self, kid: &str) -> Value {
        use aws_lc_rs::signature::KeyPair;
        let pk = self.pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "kid": kid,
            "n": b64url_encode(pk.modulus().big_endian_without_leading_zero()),
            "e": b64url_encode(pk.exponent().big_endian_without_leading_zero()),
        })
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        assemble(&input, &sig)
    }
}
