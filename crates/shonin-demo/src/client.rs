//! The demo client's side of the protocol: its keys, `private_key_jwt` assertions, DPoP proofs,
//! and one HTTP call at a time, printed as it goes.
//!
//! Written from the client's point of view and independent of the server code: PKCE challenges
//! and DPoP `ath` values are computed here, so the demo also checks that the server agrees with a
//! separate implementation of the same RFCs.

use super::print::Printer;
use anyhow::{Context, bail};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shonin_jose::{Alg, assemble, b64url_decode, b64url_encode, jwk_thumbprint_sha256};
use shonin_keys::{LocalSigner, Signer};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the demo client holds: its identity, its two keys and the TLS trust anchor.
#[derive(Debug)]
pub struct DemoClient {
    pub client_id: String,
    /// The issuer identifier: the `aud` of every client assertion (FAPI 2.0 §5.3.2.1 item 7).
    pub issuer: String,
    /// The registered key, for `private_key_jwt`.
    key: LocalSigner,
    /// A fresh key for this run, for DPoP proofs; its thumbprint binds every token.
    dpop: LocalSigner,
    pub dpop_jkt: String,
    /// The last `DPoP-Nonce` the server sent (RFC 9449 §8), put in every later proof.
    nonce: Option<String>,
    http: reqwest::Client,
}

/// One request as the client is about to send it (and as it is printed).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub form: Vec<(String, String)>,
    /// Whether the printer should also decode the JWTs this request carries.
    pub explain_jwts: bool,
}

/// A response, read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("the {} response body is not JSON", self.status))
    }

    /// The OAuth `error` code: from the JSON body (RFC 6749 §5.2) or from
    /// `WWW-Authenticate` (RFC 6750 §3, RFC 9449 §7.1).
    pub fn oauth_error(&self) -> Option<String> {
        if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&self.body)
            && let Some(e) = body.get("error").and_then(Value::as_str)
        {
            return Some(e.to_owned());
        }
        let challenge = self.header("www-authenticate")?;
        let (_, rest) = challenge.split_once("error=\"")?;
        let (code, _) = rest.split_once('"')?;
        Some(code.to_owned())
    }
}

/// How the demo shows a response body.
#[derive(Debug, Clone, Copy)]
pub enum Show {
    /// The whole body (JSON pretty-printed, tokens abbreviated).
    Body,
    /// Only these top-level JSON members.
    Fields(&'static [&'static str]),
    /// Nothing beyond status and headers (the step prints what matters).
    Nothing,
}

/// One call as a step describes it; assertions and proofs are made fresh for each attempt.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: Method,
    pub url: &'a str,
    pub form: Vec<(String, String)>,
    /// Authenticate with `private_key_jwt` (RFC 7523, OIDC Core §9).
    pub client_auth: bool,
    /// Send a DPoP proof (RFC 9449 §4).
    pub dpop: bool,
    /// Present this access token as `Authorization: DPoP …` (RFC 9449 §7.1), with `ath`.
    pub access_token: Option<&'a str>,
    pub cookie: Option<String>,
    pub show: Show,
    pub explain_jwts: bool,
}

impl<'a> Call<'a> {
    pub fn get(url: &'a str) -> Self {
        Call {
            method: Method::GET,
            url,
            form: Vec::new(),
            client_auth: false,
            dpop: false,
            access_token: None,
            cookie: None,
            show: Show::Body,
            explain_jwts: false,
        }
    }

    pub fn post(url: &'a str, form: Vec<(String, String)>) -> Self {
        Call {
            method: Method::POST,
            form,
            ..Call::get(url)
        }
    }
}

impl DemoClient {
    /// Loads the demo client's private JWK from `data_dir` and makes a fresh DPoP key and an
    /// HTTP client that trusts only the development CA and follows no redirects.
    pub fn load(data_dir: &Path, client_id: &str, issuer: &str) -> anyhow::Result<DemoClient> {
        let jwk_path = data_dir.join("demo-client").join("private.jwk");
        let text = Zeroizing::new(std::fs::read_to_string(&jwk_path).with_context(|| {
            format!(
                "reading the demo client key {} (start `shonin serve --dev` first: it creates \
                 the demo client while the store has no client)",
                jwk_path.display()
            )
        })?);
        let jwk: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON JWK", jwk_path.display()))?;
        let key = signer_from_private_jwk(&jwk)
            .with_context(|| format!("loading the private JWK {}", jwk_path.display()))?;
        let dpop = LocalSigner::generate(Alg::ES256)?;
        let dpop_jkt = jwk_thumbprint_sha256(dpop.public_jwk())?;

        let ca_path = data_dir.join("tls").join("dev-ca.pem");
        let pem = std::fs::read(&ca_path)
            .with_context(|| format!("reading the development CA {}", ca_path.display()))?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM certificate", ca_path.display()))?;
        let http = reqwest::Client::builder()
            // Only the development CA: the demo must not trust anything else by accident.
            .tls_certs_only([ca])
            // The 303s are the point of steps 4 and 6: read them, never follow them.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .timeout(Duration::from_secs(20))
            .build()
            .context("building the HTTP client")?;
        Ok(DemoClient {
            client_id: client_id.to_owned(),
            issuer: issuer.to_owned(),
            key,
            dpop,
            dpop_jkt,
            nonce: None,
            http,
        })
    }

    /// The kid of the registered client key.
    pub fn key_id(&self) -> &str {
        self.key.kid()
    }

    /// A `private_key_jwt` client assertion (RFC 7523 §3): iss = sub = client_id, aud = issuer,
    /// one minute of life, a fresh jti.
    async fn assertion(&self) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": random_text(32)?,
        });
        Ok(shonin_keys::sign_jwt(&self.key, "JWT", &claims).await?)
    }

    /// A DPoP proof (RFC 9449 §4.2) for `method` and `url` (htu without query or fragment), with
    /// `ath` when presenting `access_token` and the server's nonce when it sent one.
    async fn proof(
        &self,
        method: &Method,
        url: &str,
        access_token: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut htu = url::Url::parse(url).with_context(|| format!("bad URL {url}"))?;
        htu.set_query(None);
        htu.set_fragment(None);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop.public_jwk()});
        let mut claims = serde_json::Map::new();
        claims.insert("jti".into(), json!(random_text(16)?));
        claims.insert("htm".into(), json!(method.as_str()));
        claims.insert("htu".into(), json!(htu.as_str()));
        claims.insert("iat".into(), json!(unix_now()));
        if let Some(at) = access_token {
            claims.insert("ath".into(), json!(sha256_b64url(at)));
        }
        if let Some(n) = &self.nonce {
            claims.insert("nonce".into(), json!(n));
        }
        let input = shonin_jose::signing_input(&header, &Value::Object(claims))?;
        let signature = self.dpop.sign(input.as_bytes()).await?;
        Ok(assemble(&input, &signature))
    }

    async fn build(&self, call: &Call<'_>) -> anyhow::Result<Outgoing> {
        let mut headers = Vec::new();
        let mut form = call.form.clone();
        if call.client_auth {
            form.push(("client_id".into(), self.client_id.clone()));
            form.push(("client_assertion_type".into(), JWT_BEARER.into()));
            form.push(("client_assertion".into(), self.assertion().await?));
        }
        if let Some(at) = call.access_token {
            headers.push(("Authorization", format!("DPoP {at}")));
        }
        if call.dpop {
            let proof = self
                .proof(&call.method, call.url, call.access_token)
                .await?;
            headers.push(("DPoP", proof));
        }
        if let Some(c) = &call.cookie {
            headers.push(("Cookie", c.clone()));
        }
        if !form.is_empty() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
        }
        Ok(Outgoing {
            method: call.method.clone(),
            url: call.url.to_owned(),
            headers,
            form,
            explain_jwts: call.explain_jwts,
        })
    }

    async fn send(&self, out: &Outgoing) -> anyhow::Result<Reply> {
        let mut req = self.http.request(out.method.clone(), &out.url);
        for (name, value) in &out.headers {
            req = req.header(*name, value);
        }
        if !out.form.is_empty() {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&out.form)
                .finish();
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{} {} failed", out.method, out.url))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .text()
            .await
            .with_context(|| format!("reading the response to {} {}", out.method, out.url))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Makes `call`, printing the request and the response. If the server answers
    /// `use_dpop_nonce` (RFC 9449 §8 and §9), retries once with the nonce it sent.
    pub async fn call(&mut self, out: &Printer, call: &Call<'_>) -> anyhow::Result<Reply> {
        let reply = self.attempt(out, call).await?;
        let wants_nonce = reply.oauth_error().as_deref() == Some("use_dpop_nonce");
        if !(call.dpop && wants_nonce) {
            return Ok(reply);
        }
        if reply.header("dpop-nonce").is_none() {
            bail!(
                "the server asked for a DPoP nonce (use_dpop_nonce) but sent no DPoP-Nonce header"
            );
        }
        out.note(
            "The server requires a DPoP nonce (RFC 9449 §8): it refused the proof with \
             use_dpop_nonce and sent a fresh DPoP-Nonce header. A client retries once with that \
             nonce in a new proof; the nonce proves the proof was made just now.",
        );
        self.attempt(out, call).await
    }

    async fn attempt(&mut self, out: &Printer, call: &Call<'_>) -> anyhow::Result<Reply> {
        let request = self.build(call).await?;
        out.request(&request);
        let reply = self.send(&request).await?;
        out.response(&reply, call.show);
        // RFC 9449 §8.2: a server may send a new nonce with any response; use the latest.
        if let Some(n) = reply.header("dpop-nonce") {
            self.nonce = Some(n.to_owned());
        }
        Ok(reply)
    }
}

/// Loads an ES256 private JWK (RFC 7518 §6.2.2: `d` with `x` and `y`) into a [`LocalSigner`],
/// under the JWK's `kid` (or its RFC 7638 thumbprint when it has none).
pub fn signer_from_private_jwk(jwk: &Value) -> anyhow::Result<LocalSigner> {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .with_context(|| format!("the JWK has no `{name}`"))
    };
    if member("kty")? != "EC" || member("crv")? != "P-256" {
        bail!("the demo client key must be an EC P-256 (ES256) JWK");
    }
    let coordinate = |name: &str| -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let bytes = Zeroizing::new(b64url_decode(member(name)?)?);
        if bytes.len() != 32 {
            bail!("JWK member `{name}` must be 32 bytes for P-256");
        }
        Ok(bytes)
    };
    let d = coordinate("d")?;
    let mut point = vec![0x04];
    point.extend_from_slice(&coordinate("x")?);
    point.extend_from_slice(&coordinate("y")?);
    let pair =
        EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &d, &point)
            .map_err(|e| anyhow::anyhow!("the JWK is not a valid P-256 key pair: {e}"))?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| anyhow::anyhow!("the key could not be encoded as PKCS#8"))?;
    let kid = match jwk.get("kid").and_then(Value::as_str) {
        Some(k) => k.to_owned(),
        None => jwk_thumbprint_sha256(&json!({
            "kty": "EC", "crv": "P-256", "x": member("x")?, "y": member("y")?,
        }))?,
    };
    Ok(LocalSigner::from_pkcs8(kid, Alg::ES256, pkcs8.as_ref())?)
}

/// base64url(SHA-256(text)): the PKCE S256 challenge (RFC 7636 §4.2) and DPoP `ath`
/// (RFC 9449 §4.2).
pub fn sha256_b64url(text: &str) -> String {
    b64url_encode(digest(&SHA256, text.as_bytes()).as_ref())
}

/// `bytes` random bytes as base64url: state, nonce, PKCE verifier, jti.
pub fn random_text(bytes: usize) -> anyhow::Result<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| anyhow::anyhow!("no randomness available"))?;
    Ok(b64url_encode(&buf))
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            sha256_b64url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn private_jwk_with_inconsistent_public_point_is_refused() {
        let other = LocalSigner::generate(Alg::ES256).unwrap();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "d": b64url_encode(&[7u8; 32]),
            "x": other.public_jwk()["x"], "y": other.public_jwk()["y"],
        });
        assert!(signer_from_private_jwk(&jwk).is_err());
    }

    #[test]
    fn private_jwk_loads_as_the_same_key_with_its_thumbprint_as_kid() {
        use aws_lc_rs::encoding::AsBigEndian;
        use aws_lc_rs::signature::KeyPair;
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = point[1..].split_at(32);
        let d = pair.private_key().as_be_bytes().unwrap();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": b64url_encode(x), "y": b64url_encode(y), "d": b64url_encode(d.as_ref()),
        });
        let signer = signer_from_private_jwk(&jwk).unwrap();
        assert_eq!(signer.public_jwk()["x"], jwk["x"]);
        assert_eq!(signer.public_jwk()["y"], jwk["y"]);
        assert_eq!(
            signer.kid(),
            jwk_thumbprint_sha256(
                &json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]})
            )
            .unwrap()
        );
    }

    #[test]
    fn non_p256_jwk_is_refused() {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "d": "AA", "x": "AA"});
        assert!(signer_from_private_jwk(&jwk).is_err());
    }
}
