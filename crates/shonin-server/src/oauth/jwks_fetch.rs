//! Fetching a client's JWK set from its registered `jwks_uri` (RFC 7591 §2, FAPI 2.0 §5.4):
//! https only, bounded in time and size, every key checked like an inline `jwks`, and cached in
//! memory per URI.
//!
//! - Trust: the platform's roots (reqwest's `rustls` verifier) plus the optional PEM bundle of
//!   `oauth.jwks_ca_file`.
//! - Limits: [`TIMEOUT`] for connect and for the whole exchange, no redirects, at most
//!   [`MAX_BODY_BYTES`] of body (the stream is read and abandoned past that), JSON content types
//!   only.
//! - Cache: a key set is reused for [`CACHE_TTL`]. When a client signs with a key the cached set
//!   does not hold (key rotation at the client), [`JwksFetcher::refetch`] fetches again, at most
//!   once per [`REFETCH_INTERVAL`] per URI, so unknown `kid`s cannot make this server hammer a
//!   client's host.
//!
//! Failures are [`JwksFetchError`]s whose details go to the log only; the client sees a generic
//! `invalid_client` description.

use serde_json::{Map, Value};
use shonin_jose::{Alg, PRIVATE_JWK_MEMBERS, validate_public_jwk};
use shonin_oauth::client::MAX_JWKS_KEYS;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Connect timeout and total timeout of one fetch.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWK set body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a fetched key set is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// The shortest time between two unknown-key refetches of one URI.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// The most URIs cached at once; beyond that expired entries are dropped, then everything.
const MAX_CACHED_URIS: usize = 10_000;

/// Why a client's `jwks_uri` could not be used. Logged, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum JwksFetchError {
    #[error("jwks_uri is not an https URL")]
    NotHttps,
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("request timed out")]
    Timeout,
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("content type {0:?} is not JSON")]
    ContentType(String),
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("body is not JSON with unique member names: {0}")]
    NotJson(#[source] shonin_types::json::JsonError),
    #[error("not a JWK set: {0}")]
    InvalidSet(String),
}

impl JwksFetchError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            JwksFetchError::Timeout
        } else {
            JwksFetchError::Request(e)
        }
    }
}

#[derive(Debug)]
struct Entry {
    jwks: Arc<Value>,
    fetched_at: Instant,
    /// When an unknown-key refetch last ran for this URI.
    refetched_at: Option<Instant>,
}

/// Fetches and caches clients' JWK sets. One per server, shared by all requests.
#[derive(Debug)]
pub struct JwksFetcher {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Entry>>,
}

impl JwksFetcher {
    /// A fetcher trusting the platform's roots and, if given, the PEM certificates in `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> anyhow::Result<JwksFetcher> {
        use anyhow::Context as _;
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("shonin/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading oauth.jwks_ca_file {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                format!("oauth.jwks_ca_file {} is not a PEM bundle", path.display())
            })?;
            anyhow::ensure!(
                !certs.is_empty(),
                "oauth.jwks_ca_file {} holds no certificate",
                path.display()
            );
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .context("building the jwks_uri HTTP client")?;
        Ok(JwksFetcher {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The HTTP client for endpoints clients host (https only, the same roots, no redirects, 5 s):
    /// CIBA's ping notifications use it too.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The key set at `uri`: from the cache while fresh, else fetched.
    pub async fn get(&self, uri: &str) -> Result<Arc<Value>, JwksFetchError> {
        let now = Instant::now();
        {
            let cache = self.lock();
            if let Some(e) = cache.get(uri)
                && now.saturating_duration_since(e.fetched_at) < CACHE_TTL
            {
                return Ok(e.jwks.clone());
            }
        }
        self.fetch_and_store(uri, None).await
    }

    /// After a client assertion named a key the cached set lacks: the key set fetched again, or
    /// `None` when `uri` was refetched less than [`REFETCH_INTERVAL`] ago (the cached set stays).
    pub async fn refetch(&self, uri: &str) -> Result<Option<Arc<Value>>, JwksFetchError> {
        let now = Instant::now();
        {
            let mut cache = self.lock();
            if let Some(e) = cache.get_mut(uri) {
                if e.refetched_at
                    .is_some_and(|t| now.saturating_duration_since(t) < REFETCH_INTERVAL)
                {
                    return Ok(None);
                }
                // Claimed before the fetch, so concurrent requests do not all refetch.
                e.refetched_at = Some(now);
            }
        }
        self.fetch_and_store(uri, Some(now)).await.map(Some)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The map holds no invariant a panic could break.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch_and_store(
        &self,
        uri: &str,
        refetched_at: Option<Instant>,
    ) -> Result<Arc<Value>, JwksFetchError> {
        let started = Instant::now();
        let result = self.fetch(uri).await;
        match &result {
            Ok(_) => {
                tracing::debug!(
                    jwks_uri = uri,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "fetched client jwks"
                )
            }
            Err(e) => {
                tracing::warn!(jwks_uri = uri, error = %e, error_detail = ?e, "client jwks_uri fetch failed")
            }
        }
        let jwks = Arc::new(result?);
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED_URIS {
            let now = Instant::now();
            cache.retain(|_, e| now.saturating_duration_since(e.fetched_at) < CACHE_TTL);
            if cache.len() >= MAX_CACHED_URIS {
                cache.clear();
            }
        }
        let previous_refetch = cache.get(uri).and_then(|e| e.refetched_at);
        cache.insert(
            uri.to_owned(),
            Entry {
                jwks: jwks.clone(),
                fetched_at: Instant::now(),
                refetched_at: refetched_at.or(previous_refetch),
            },
        );
        Ok(jwks)
    }

    async fn fetch(&self, uri: &str) -> Result<Value, JwksFetchError> {
        let url = url::Url::parse(uri).map_err(|_| JwksFetchError::NotHttps)?;
        if url.scheme() != "https" {
            return Err(JwksFetchError::NotHttps);
        }
        let mut resp = self
            .http
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(JwksFetchError::from_reqwest)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(JwksFetchError::Status(resp.status().as_u16()));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_json(&content_type) {
            return Err(JwksFetchError::ContentType(
                content_type.chars().take(64).collect(),
            ));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(JwksFetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(JwksFetchError::from_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(JwksFetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let jwks: Value = shonin_types::json::from_slice(&body).map_err(JwksFetchError::NotJson)?;
        check_jwks(&jwks).map_err(JwksFetchError::InvalidSet)?;
        Ok(jwks)
    }
}

/// `application/json`, `application/jwk-set+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/jwk-set+json"
}

/// The rules of an inline `jwks` at registration: a non-empty set of at most
/// [`MAX_JWKS_KEYS`] public PS256, ES256 or EdDSA keys, with unique `kid`s (required when there
/// are several keys).
fn check_jwks(set: &Value) -> Result<(), String> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no \"keys\" array")?;
    if keys.is_empty() {
        return Err("no keys".into());
    }
    if keys.len() > MAX_JWKS_KEYS {
        return Err(format!("more than {MAX_JWKS_KEYS} keys"));
    }
    let mut kids = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let key = key
            .as_object()
            .ok_or_else(|| format!("key {index} is not an object"))?;
        check_key(key).map_err(|e| format!("key {index}: {e}"))?;
        match key.get("kid") {
            Some(Value::String(kid)) if !kids.insert(kid.as_str()) => {
                return Err(format!("key {index}: duplicate kid"));
            }
            Some(Value::String(_)) => {}
            Some(_) => return Err(format!("key {index}: kid is not a string")),
            None if keys.len() > 1 => return Err(format!("key {index}: kid missing")),
            None => {}
        }
    }
    Ok(())
}

fn check_key(key: &Map<String, Value>) -> Result<(), String> {
    if PRIVATE_JWK_MEMBERS.iter().any(|m| key.contains_key(*m)) {
        return Err("private key material".into());
    }
    let alg = match key.get("alg") {
        Some(Value::String(a)) => a.parse::<Alg>().map_err(|_| "alg not allowed".to_owned())?,
        Some(_) => return Err("alg is not a string".into()),
        None => match key.get("kty").and_then(Value::as_str) {
            Some("EC") => Alg::ES256,
            Some("RSA") => Alg::PS256,
            Some("OKP") => Alg::EdDSA,
            _ => return Err("unsupported or missing kty".into()),
        },
    };
    validate_public_jwk(&Value::Object(key.clone()), alg).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JWK-Set+JSON",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["", "text/html", "application/jsonp", "text/json"] {
            assert!(!is_json(bad), "{bad}");
        }
    }

    #[test]
    fn private_and_empty_sets_are_refused() {
        assert!(check_jwks(&serde_json::json!({"keys": []})).is_err());
        assert!(check_jwks(&serde_json::json!({"nokeys": 1})).is_err());
        let private = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]});
        assert_eq!(
            check_jwks(&private).unwrap_err(),
            "key 0: private key material"
        );
    }
}
