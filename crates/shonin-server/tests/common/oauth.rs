//! A test OAuth client: its keys, client assertions, DPoP proofs, and the browser steps.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::{TestApp, body_json, body_text};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use shonin_identity::{Argon2Params, Password, User, UserStore, Username, hash_password};
use shonin_jose::{Alg, assemble, b64url_encode, signing_input};
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::ClientStore;
use shonin_oauth::client::{ClientRegistration, validate};

pub const ISSUER: &str = "https://localhost:8443";
pub const REDIRECT: &str = "https://client.example/cb";
pub const PASSWORD: &str = "correct horse battery staple";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct TestClient {
    pub id: String,
    pub key: std::sync::Arc<LocalSigner>,
    pub dpop: LocalSigner,
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn jti() -> String {
    shonin_oauth::claims::new_jti().unwrap()
}

impl TestClient {
    pub fn new(id: &str) -> Self {
        TestClient {
            id: id.to_owned(),
            key: std::sync::Arc::new(LocalSigner::generate(Alg::ES256).unwrap()),
            dpop: LocalSigner::generate(Alg::ES256).unwrap(),
        }
    }

    pub fn registration(&self) -> ClientRegistration {
        let mut reg = ClientRegistration::new(self.id.clone(), "Test <b>Bank</b> App");
        reg.redirect_uris = vec![REDIRECT.to_owned()];
        reg.jwks = Some(json!({"keys": [self.key.public_jwk()]}));
        reg.scope = vec!["openid".into(), "accounts".into(), "payments".into()];
        reg.authorization_details_types =
            vec!["payment_initiation".into(), "account_information".into()];
        reg.grant_types = vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ];
        reg
    }

    pub async fn register(&self, app: &TestApp, tweak: impl FnOnce(&mut ClientRegistration)) {
        let mut reg = self.registration();
        tweak(&mut reg);
        let client = validate(reg, time::OffsetDateTime::now_utc()).unwrap();
        app.state.store.create_client(&client).await.unwrap();
    }

    /// A private_key_jwt assertion for `aud`.
    pub async fn assertion_with(&self, claims: Value) -> String {
        shonin_keys::sign_jwt(self.key.as_ref(), "JWT", &claims)
            .await
            .unwrap()
    }

    /// A JWS over `claims` exactly as written (for claims serde_json cannot hold, such as a
    /// repeated name), signed with the client's key.
    pub async fn sign_raw_claims(&self, claims: &str) -> String {
        let header = json!({"alg": self.key.alg().as_str(), "kid": self.key.kid(), "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.as_bytes())
        );
        let signature = self.key.sign(input.as_bytes()).await.unwrap();
        assemble(&input, &signature)
    }

    pub async fn assertion(&self, aud: &str) -> String {
        let c = json!({"iss": self.id, "sub": self.id, "aud": aud, "iat": now(), "exp": now() + 60, "jti": jti()});
        self.assertion_with(c).await
    }

    /// A DPoP proof signed with `signer` (normally `self.dpop`).
    pub async fn proof_by(signer: &LocalSigner, header: Value, claims: Value) -> String {
        let input = signing_input(&header, &claims).unwrap();
        let sig = signer.sign(input.as_bytes()).await.unwrap();
        assemble(&input, &sig)
    }

    pub fn proof_header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop.public_jwk()})
    }

    pub async fn proof(&self, method: &str, url: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({"jti": jti(), "htm": method, "htu": url, "iat": now()});
        if let Some(at) = access_token {
            claims["ath"] = json!(shonin_oauth::dpop::access_token_hash(at));
        }
        Self::proof_by(&self.dpop, self.proof_header(), claims).await
    }

    pub fn jkt(&self) -> String {
        shonin_jose::jwk_thumbprint_sha256(self.dpop.public_jwk()).unwrap()
    }

    /// `private_key_jwt` parameters; the assertion's `aud` is the issuer (FAPI 2.0 §5.3.2.1
    /// item 8), whichever endpoint they go to.
    pub async fn auth_params(&self) -> Vec<(String, String)> {
        vec![
            ("client_id".into(), self.id.clone()),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion".into(), self.assertion(ISSUER).await),
        ]
    }

    pub fn par_params(&self) -> Vec<(String, String)> {
        let details = json!([{
            "type": "payment_initiation",
            "instructedAmount": {"currency": "EUR", "amount": "123.45"},
            "creditorName": "Merchant & Co <script>alert(1)</script>",
            "creditorAccount": {"iban": "DE89370400440532013000"},
            "remittanceInformation": "Invoice 42"
        }]);
        vec![
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("scope".into(), "openid payments".into()),
            ("state".into(), "st-123".into()),
            ("nonce".into(), "n".repeat(64)),
            ("code_challenge".into(), CHALLENGE.into()),
            ("code_challenge_method".into(), "S256".into()),
            ("authorization_details".into(), details.to_string()),
        ]
    }
}

pub fn form(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn send_form(
    app: &TestApp,
    uri: &str,
    pairs: &[(String, String)],
    headers: &[(&str, String)],
) -> Response<Body> {
    let mut req =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    app.send(req.body(Body::from(form(pairs))).unwrap()).await
}

pub async fn add_user(app: &TestApp, name: &str) -> User {
    let hash = hash_password(
        &Password::new(PASSWORD.into()).unwrap(),
        &Argon2Params::danger_weak_for_tests(),
    )
    .unwrap();
    let user = User::new(
        Username::new(name).unwrap(),
        None,
        Some(hash),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    app.state.store.create_user(&user).await.unwrap();
    user
}

/// Value of `name=` in the response's Set-Cookie headers.
pub fn set_cookie(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let s = v.to_str().ok()?;
            let (pair, _) = s.split_once(';')?;
            let (k, val) = pair.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
}

pub fn hidden(html: &str, name: &str) -> String {
    attribute_after(html, &format!("name=\"{name}\" value=\""))
}

/// The attribute value that follows `marker` (which ends with its opening quote), with the
/// escapes askama writes undone.
pub fn attribute_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    let mut value = html[start..end].to_owned();
    for (escaped, c) in [
        ("&amp;", "&"),
        ("&#38;", "&"),
        ("&#x26;", "&"),
        ("&#37;", "%"),
        ("&#x25;", "%"),
        ("&#58;", ":"),
        ("&#x3a;", ":"),
        ("&#61;", "="),
        ("&#x3d;", "="),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&#62;", ">"),
    ] {
        value = value.replace(escaped, c);
    }
    value
}

/// The id of user `username`.
pub async fn user_id(app: &TestApp, username: &str) -> String {
    let name = Username::new(username).unwrap();
    app.state
        .store
        .get_user_by_username(&name)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Posts the consent form's `decision` (`approve` or `deny`) as browser `b`.
pub async fn decide(
    app: &TestApp,
    c: &TestClient,
    b: &Browser,
    request_uri: &str,
    decision: &str,
) -> Response<Body> {
    let pairs = vec![
        ("request_uri".into(), request_uri.to_owned()),
        ("client_id".into(), c.id.clone()),
        ("csrf".into(), b.csrf.clone()),
        ("decision".into(), decision.to_owned()),
    ];
    send_form(
        app,
        "/authorize/consent",
        &pairs,
        &[("cookie", b.cookies())],
    )
    .await
}

pub fn location(resp: &Response<Body>) -> String {
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A client_credentials token request for `accounts`, with `private_key_jwt` and DPoP.
pub async fn client_credentials(app: &TestApp, c: &TestClient) -> Response<Body> {
    let url = format!("{ISSUER}/token");
    let mut pairs = vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("scope".into(), "accounts".into()),
    ];
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    send_form(app, "/token", &pairs, &[("dpop", proof)]).await
}

/// Pushes the standard request and returns its request_uri.
pub async fn push(app: &TestApp, c: &TestClient) -> String {
    let url = format!("{ISSUER}/par");
    let mut pairs = c.par_params();
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    let resp = send_form(app, "/par", &pairs, &[("dpop", proof)]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    body_json(resp).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub struct Browser {
    pub csrf: String,
    pub session: Option<String>,
}

impl Browser {
    pub fn cookies(&self) -> String {
        let mut c = format!("__Host-shonin_csrf={}", self.csrf);
        if let Some(s) = &self.session {
            c.push_str(&format!("; __Host-shonin_session={s}"));
        }
        c
    }
}

pub fn authorize_uri(client_id: &str, request_uri: &str) -> String {
    format!(
        "/authorize?{}",
        form(&[
            ("client_id".into(), client_id.into()),
            ("request_uri".into(), request_uri.into())
        ])
    )
}

/// Signs in and approves; returns the redirect to the client and the consent page HTML.
pub async fn sign_in_and_consent(
    app: &TestApp,
    c: &TestClient,
    request_uri: &str,
    username: &str,
) -> (String, String) {
    let (b, consent_html) = sign_in_to_consent(app, c, request_uri, username).await;
    if consent_html.contains("id=\"approve\"") {
        // A payment: approved with the user's passkey, not the button.
        let location = super::passkey::consent_with_passkey(app, &b, &consent_html, username).await;
        return (location, consent_html);
    }
    let resp = decide(app, c, &b, request_uri, "approve").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    (location(&resp), consent_html)
}

/// Opens `/authorize` for `request_uri`, signs in with a password and returns the browser and
/// the consent page HTML.
pub async fn sign_in_to_consent(
    app: &TestApp,
    c: &TestClient,
    request_uri: &str,
    username: &str,
) -> (Browser, String) {
    let resp = app.get(&authorize_uri(&c.id, request_uri)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csrf = set_cookie(&resp, "__Host-shonin_csrf").unwrap();
    let html = body_text(resp).await;
    assert_eq!(hidden(&html, "csrf"), csrf);
    let mut b = Browser {
        csrf: csrf.clone(),
        session: None,
    };
    let pairs = vec![
        ("request_uri".into(), request_uri.to_owned()),
        ("client_id".into(), c.id.clone()),
        ("csrf".into(), csrf.clone()),
        ("username".into(), username.to_owned()),
        ("password".into(), PASSWORD.to_owned()),
    ];
    let resp = send_form(
        app,
        "/authorize/sign-in",
        &pairs,
        &[("cookie", b.cookies())],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{}",
        body_text(resp).await
    );
    b.session = set_cookie(&resp, "__Host-shonin_session");
    let back = location(&resp);
    let resp = app
        .send(
            Request::get(back.as_str())
                .header("cookie", b.cookies())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let consent_html = body_text(resp).await;
    (b, consent_html)
}

/// Exchanges `code` with a fresh proof; returns the response.
pub async fn redeem(app: &TestApp, c: &TestClient, code: &str) -> Response<Body> {
    let url = format!("{ISSUER}/token");
    let mut pairs = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".into(), code.to_owned()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), VERIFIER.into()),
    ];
    pairs.extend(c.auth_params().await);
    let proof = c.proof("POST", &url, None).await;
    send_form(app, "/token", &pairs, &[("dpop", proof)]).await
}

pub async fn userinfo(app: &TestApp, c: &TestClient, at: &str) -> Response<Body> {
    let url = format!("{ISSUER}/userinfo");
    let proof = c.proof("GET", &url, Some(at)).await;
    app.send(
        Request::get("/userinfo")
            .header("authorization", format!("DPoP {at}"))
            .header("dpop", proof)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

pub fn b64(v: &Value) -> String {
    b64url_encode(v.to_string().as_bytes())
}
