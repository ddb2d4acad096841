//! Interop: the unmodified Rust client `openidconnect` (4.x) against a real `shonin --dev serve`.
//!
//! The library does OIDC discovery (metadata + JWKS), builds the authorization request (state,
//! nonce, PKCE S256), exchanges the code, refreshes, and verifies the ID token (signature with the
//! discovered JWKS, iss, aud, exp, nonce). What it has no API for, the test adds around it:
//!
//! * PAR (RFC 9126): the library's own authorization-request parameters are pushed with plain
//!   reqwest; the browser is then sent to `authorize?client_id&request_uri`.
//! * private_key_jwt (RFC 7523): `client_assertion(_type)` via `add_extra_param` on the token
//!   requests (oauth2 5.0 has only client_secret_basic/post).
//! * DPoP (RFC 9449): a `DPoP` header on POSTs to the token endpoint, added by the
//!   [`LibraryHttp`] transport (`AsyncHttpClient`) the library is given; token requests have no
//!   header hook. `token_type` "DPoP" needs no help: oauth2 lower-cases it and keeps it as
//!   `CoreTokenType::Extension("dpop")`.
//! * RFC 9207 `iss` in the callback, and the DPoP-bound call to userinfo (the library's
//!   userinfo request can only send `Authorization: Bearer`).
//!
//! Sign-in and consent are driven over HTTP (cookies and the CSRF hidden input from the HTML),
//! as `crates/shonin-server/tests/common/oauth.rs` and `e2e-python/browser.py` do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use harness::{
    CLIENT_ASSERTION_TYPE, CLIENT_ID, SCOPE, Server, USERNAME, client_assertion, dpop_proof,
};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    CoreTokenType,
};
use openidconnect::http::{HeaderMap, Method};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode,
    ClaimsVerificationError, ClientId, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, ProviderMetadata, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shonin_jose::Alg;
use shonin_keys::LocalSigner;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// The FAPI 2.0 members of the discovery document that `CoreProviderMetadata` does not model,
/// read through the library's documented extension point.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct FapiMetadata {
    pushed_authorization_request_endpoint: String,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    #[serde(default)]
    dpop_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for FapiMetadata {}

type FapiProviderMetadata = ProviderMetadata<
    FapiMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// One request the library made through [`LibraryHttp`].
#[derive(Clone, Debug)]
struct Exchange {
    method: Method,
    url: String,
    dpop: bool,
    status: u16,
}

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HttpError {}

/// The library's HTTP transport: the workspace's reqwest 0.13 (rustls + aws-lc-rs, dev CA only,
/// no redirects, from [`Server::http`]). With `dpop`, every POST to the token endpoint gets a
/// fresh DPoP proof for that key (htm POST, htu = the token endpoint). Nothing else is changed:
/// method, URL, headers and body are the library's.
#[derive(Clone, Debug)]
struct LibraryHttp {
    http: reqwest::Client,
    dpop: Option<(String, Arc<LocalSigner>)>,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl LibraryHttp {
    fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

impl<'c> AsyncHttpClient<'c> for LibraryHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let mut req = self
                .http
                .request(parts.method.clone(), &url)
                .headers(parts.headers)
                .body(body);
            let mut proved = false;
            if let Some((token_endpoint, key)) = &self.dpop
                && parts.method == Method::POST
                && url == *token_endpoint
            {
                req = req.header("DPoP", dpop_proof(key, "POST", token_endpoint, None).await);
                proved = true;
            }
            let resp = req
                .send()
                .await
                .map_err(|e| HttpError(format!("{} {url}: {e:?}", parts.method)))?;
            let status = resp.status();
            let headers: HeaderMap = resp.headers().clone();
            let body = resp
                .bytes()
                .await
                .map_err(|e| HttpError(format!("reading {url}: {e:?}")))?
                .to_vec();
            self.log.lock().unwrap().push(Exchange {
                method: parts.method,
                url,
                dpop: proved,
                status: status.as_u16(),
            });
            let mut out = HttpResponse::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

/// `name=value` from the response's Set-Cookie headers.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let (pair, _) = v.to_str().ok()?.split_once(';')?;
            let (k, val) = pair.split_once('=')?;
            (k.trim() == name).then(|| val.to_owned())
        })
}

/// The value of `<input type="hidden" name="{name}" value="...">` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden input {name} in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#58;", ":")
        .replace("&#x3a;", ":")
}

fn location(server: &Server, resp: &reqwest::Response, what: &str) -> url::Url {
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{what}: expected 303 See Other; server log:\n{}",
        server.log_tail()
    );
    let loc = resp.headers()[reqwest::header::LOCATION].to_str().unwrap();
    url::Url::parse(&server.issuer).unwrap().join(loc).unwrap()
}

/// Plays the user: opens the authorization URL, signs in and approves. Returns the URL the
/// server redirected to (the client's redirect_uri with code, state and iss).
async fn sign_in_and_consent(server: &Server, authorize: &url::Url) -> url::Url {
    let ua = server.http(); // the "browser": its own connection pool; cookies kept by hand
    let origin = server.issuer.clone();
    let nav = |req: reqwest::RequestBuilder| {
        req.header("Accept", "text/html")
            .header("Sec-Fetch-Mode", "navigate")
    };

    let resp = nav(ua.get(authorize.as_str()))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "GET /authorize (sign-in page)"
    );
    let csrf =
        set_cookie(&resp, "__Host-shonin_csrf").expect("GET /authorize sets the CSRF cookie");
    let page = resp.text().await.unwrap();
    assert!(page.contains("action=\"/authorize/sign-in\""), "{page}");
    assert_eq!(hidden(&page, "csrf"), csrf, "hidden csrf equals the cookie");
    let request_uri = hidden(&page, "request_uri");
    let client_id = hidden(&page, "client_id");
    assert_eq!(client_id, CLIENT_ID);

    let mut cookies = format!("__Host-shonin_csrf={csrf}");
    let resp = nav(ua.post(server.url("/authorize/sign-in")))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", &origin)
        .header("Cookie", &cookies)
        .form(&[
            ("request_uri", request_uri.as_str()),
            ("client_id", client_id.as_str()),
            ("csrf", csrf.as_str()),
            ("username", USERNAME),
            ("password", server.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let session = set_cookie(&resp, "__Host-shonin_session").expect("sign-in sets the session");
    let back = location(server, &resp, "POST /authorize/sign-in");
    assert_eq!(back.path(), "/authorize", "sign-in returns to /authorize");
    cookies.push_str(&format!("; __Host-shonin_session={session}"));

    let resp = nav(ua.get(back.as_str()))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "GET /authorize (consent page)"
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains("action=\"/authorize/consent\""), "{page}");

    let resp = nav(ua.post(server.url("/authorize/consent")))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", &origin)
        .header("Cookie", &cookies)
        .form(&[
            ("request_uri", request_uri.as_str()),
            ("client_id", client_id.as_str()),
            ("csrf", hidden(&page, "csrf").as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    location(server, &resp, "POST /authorize/consent")
}

/// GET /userinfo with `Authorization: <scheme> <at>` and, if `proof_key`, a DPoP proof with `ath`.
async fn userinfo(
    server: &Server,
    scheme: &str,
    at: &str,
    proof_key: Option<&LocalSigner>,
) -> (StatusCode, String) {
    let url = server.url("/userinfo");
    let mut req = server
        .http()
        .get(&url)
        .header("Authorization", format!("{scheme} {at}"));
    if let Some(key) = proof_key {
        req = req.header("DPoP", dpop_proof(key, "GET", &url, Some(at)).await);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn openidconnect_discovery_par_code_flow_id_token_and_dpop_bound_tokens() {
    let server = Server::start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let plain = LibraryHttp {
        http: server.http(),
        dpop: None,
        log: log.clone(),
    };

    // --- Discovery: the library fetches /.well-known/openid-configuration and the JWKS, and
    // checks that the document's issuer equals the one asked for.
    let issuer = IssuerUrl::new(server.issuer.clone()).unwrap();
    let metadata = FapiProviderMetadata::discover_async(issuer.clone(), &plain)
        .await
        .unwrap_or_else(|e| panic!("discovery failed: {e:?}\n{}", server.log_tail()));
    assert_eq!(metadata.issuer(), &issuer);
    assert_eq!(metadata.issuer().as_str(), server.issuer);
    assert!(
        !metadata.jwks().keys().is_empty(),
        "the library loaded the server's signing keys"
    );
    let seen: Vec<(Method, String, u16)> = plain
        .exchanges()
        .into_iter()
        .map(|e| (e.method, e.url, e.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                Method::GET,
                server.url("/.well-known/openid-configuration"),
                200
            ),
            (Method::GET, metadata.jwks_uri().url().to_string(), 200),
        ],
        "discovery went through our transport"
    );
    let fapi = metadata.additional_metadata().clone();
    assert!(fapi.require_pushed_authorization_requests);
    assert!(fapi.authorization_response_iss_parameter_supported);
    assert!(
        fapi.dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
    );
    let token_endpoint = metadata
        .token_endpoint()
        .expect("token_endpoint in discovery")
        .url()
        .to_string();
    let authorization_endpoint = metadata.authorization_endpoint().url().clone();

    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(CLIENT_ID.into()), None)
            .set_redirect_uri(RedirectUrl::new(server.redirect_uri.clone()).unwrap());

    // --- The authorization request, built by the library (state, nonce, PKCE S256, scope).
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (library_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("accounts".into()))
        .set_pkce_challenge(pkce_challenge)
        .url();
    let mut params: Vec<(String, String)> = library_url.query_pairs().into_owned().collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("response_type").as_deref(), Some("code"));
    assert_eq!(get("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("scope").as_deref(), Some(SCOPE));
    assert_eq!(get("nonce").as_deref(), Some(nonce.secret().as_str()));
    assert_eq!(get("state").as_deref(), Some(state.secret().as_str()));

    // --- PAR (the library has none): push exactly those parameters, authenticated with
    // private_key_jwt and with a DPoP proof, which binds the code to the DPoP key (RFC 9449 §10).
    let dpop_key = Arc::new(LocalSigner::generate(Alg::ES256).unwrap());
    let par = fapi.pushed_authorization_request_endpoint.clone();
    params.push(("client_assertion_type".into(), CLIENT_ASSERTION_TYPE.into()));
    params.push(("client_assertion".into(), client_assertion(&server).await));
    let resp = server
        .http()
        .post(&par)
        .header("DPoP", dpop_proof(&dpop_key, "POST", &par, None).await)
        .form(&params)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "PAR: {body}");
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

    // --- The front channel: only client_id and request_uri (FAPI 2.0 §5.3.2.2).
    let mut authorize = authorization_endpoint.clone();
    authorize
        .query_pairs_mut()
        .clear()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("request_uri", &request_uri);
    let callback = sign_in_and_consent(&server, &authorize).await;
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{}?", server.redirect_uri)),
        "{callback}"
    );
    let q = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("error"), None, "{callback}");
    assert_eq!(q("state").as_deref(), Some(state.secret().as_str()));
    // RFC 9207 (FAPI 2.0 §5.3.2.2 item 5); openidconnect has no check for it.
    assert_eq!(q("iss").as_deref(), Some(server.issuer.as_str()));
    let code = q("code").expect("code in the callback");

    // --- Token request by the library: PKCE verifier, private_key_jwt as extra parameters, a
    // DPoP proof added by the transport.
    let proving = LibraryHttp {
        http: server.http(),
        dpop: Some((token_endpoint.clone(), dpop_key.clone())),
        log: log.clone(),
    };
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(pkce_verifier)
        .add_extra_param("client_assertion_type", CLIENT_ASSERTION_TYPE)
        .add_extra_param("client_assertion", client_assertion(&server).await)
        .request_async(&proving)
        .await
        .unwrap_or_else(|e| panic!("token request failed: {e:?}\n{}", server.log_tail()));
    let last = proving.exchanges().last().cloned().unwrap();
    assert_eq!(
        (last.method, last.url.as_str(), last.dpop, last.status),
        (Method::POST, token_endpoint.as_str(), true, 200)
    );
    // RFC 9449 §5: a DPoP-bound token. oauth2 lower-cases token_type before parsing it (token
    // types are case-insensitive, RFC 6749 §7.1) and keeps unknown ones as Extension("dpop").
    assert_eq!(
        token.token_type(),
        &CoreTokenType::Extension("dpop".into()),
        "server sent token_type DPoP"
    );
    assert!(token.refresh_token().is_some(), "refresh_token granted");

    // --- The ID token, verified by the library: signature (discovered JWKS and
    // id_token_signing_alg_values_supported), iss, aud, exp/iat, and the nonce.
    let id_token = token.id_token().expect("an ID token for scope openid");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("ID token rejected by openidconnect: {e:?}"));
    assert_eq!(claims.issuer(), &issuer);
    assert!(claims.audiences().iter().any(|a| a.as_str() == CLIENT_ID));
    assert_eq!(
        claims.nonce().map(|n| n.secret().as_str()),
        Some(nonce.secret().as_str())
    );
    // The nonce check is real: another nonce is refused.
    let wrong = Nonce::new("not-the-nonce-of-this-request".into());
    assert!(
        matches!(
            id_token.claims(&verifier, &wrong),
            Err(ClaimsVerificationError::InvalidNonce(_))
        ),
        "a wrong nonce must be refused"
    );
    // at_hash is optional in the code flow (OIDC Core §3.1.3.6); if present the library checks it.
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            token.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "at_hash");
    }
    let subject = claims.subject().as_str().to_owned();

    // --- The access token is DPoP-bound: userinfo with `DPoP` + a proof carrying `ath` works;
    // the same token as a Bearer token, or with another key's proof, does not (RFC 9449 §7).
    let at = token.access_token().secret().clone();
    let (status, body) = userinfo(&server, "DPoP", &at, Some(&dpop_key)).await;
    assert_eq!(status, StatusCode::OK, "userinfo: {body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["sub"], subject.as_str());
    let (status, _) = userinfo(&server, "Bearer", &at, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "DPoP token used as Bearer"
    );
    let thief = LocalSigner::generate(Alg::ES256).unwrap();
    let (status, _) = userinfo(&server, "DPoP", &at, Some(&thief)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "proof by another key");

    // --- refresh_token grant by the library, proved with the same key.
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .unwrap()
        .add_extra_param("client_assertion_type", CLIENT_ASSERTION_TYPE)
        .add_extra_param("client_assertion", client_assertion(&server).await)
        .request_async(&proving)
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e:?}\n{}", server.log_tail()));
    assert_eq!(
        refreshed.token_type(),
        &CoreTokenType::Extension("dpop".into())
    );
    assert_ne!(refreshed.access_token().secret(), &at);
    let (status, body) = userinfo(
        &server,
        "DPoP",
        refreshed.access_token().secret(),
        Some(&dpop_key),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "userinfo after refresh: {body}");

    // --- Clean shutdown: SIGTERM by PID, exit 0.
    drop((plain, proving));
    let status = server.stop().await;
    assert!(
        status.success(),
        "shonin serve should exit 0 on SIGTERM, got {status}"
    );
}
