//! Passkey steps through the HTTP surface with a software authenticator: a browser with its
//! CSRF cookie, password sign-in, enrolment on the account page.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::oauth::*;
use super::{TestApp, body_json, body_text};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use shonin_testkit::Authenticator;

pub const AAGUID: [u8; 16] = [0x11; 16];

pub async fn browser(app: &TestApp) -> Browser {
    let resp = app.get("/account").await;
    assert_eq!(resp.status(), StatusCode::OK);
    Browser {
        csrf: set_cookie(&resp, "__Host-shonin_csrf").unwrap(),
        session: None,
    }
}

pub async fn call(app: &TestApp, b: &Browser, uri: &str, body: &Value) -> Response<Body> {
    app.send(
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", b.csrf.as_str())
            .header(header::COOKIE, b.cookies())
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

/// Posts a form as browser `b`: its CSRF token in the form and its cookies in the request.
pub async fn post_form(
    app: &TestApp,
    b: &Browser,
    path: &str,
    mut pairs: Vec<(String, String)>,
) -> Response<Body> {
    pairs.push(("csrf".into(), b.csrf.clone()));
    send_form(app, path, &pairs, &[("cookie", b.cookies())]).await
}

pub async fn password_sign_in(app: &TestApp, b: &mut Browser, username: &str) -> Response<Body> {
    let pairs = vec![
        ("username".into(), username.to_owned()),
        ("password".into(), PASSWORD.to_owned()),
    ];
    let resp = post_form(app, b, "/account/sign-in", pairs).await;
    if let Some(s) = set_cookie(&resp, "__Host-shonin_session") {
        b.session = Some(s);
    }
    resp
}

pub async fn enrol(
    app: &TestApp,
    b: &Browser,
    auth: &mut Authenticator,
    name: &str,
) -> Response<Body> {
    let resp = call(app, b, "/account/passkeys/options", &json!({})).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let ch = body_json(resp).await;
    let cred = auth.register(&ch["options"], ISSUER).unwrap();
    call(
        app,
        b,
        "/account/passkeys",
        &json!({"ceremony": ch["ceremony"], "credential": cred, "name": name}),
    )
    .await
}

pub async fn passkey_sign_in(
    app: &TestApp,
    b: &mut Browser,
    auth: &mut Authenticator,
    next: Option<&str>,
    tweak: impl FnOnce(&mut Value),
) -> Response<Body> {
    let ch = body_json(call(app, b, "/passkeys/sign-in/options", &json!({})).await).await;
    let mut cred = auth.authenticate(&ch["options"], ISSUER).unwrap();
    tweak(&mut cred);
    let resp = call(
        app,
        b,
        "/passkeys/sign-in",
        &json!({"ceremony": ch["ceremony"], "credential": cred, "next": next}),
    )
    .await;
    if let Some(s) = set_cookie(&resp, "__Host-shonin_session") {
        b.session = Some(s);
    }
    resp
}

/// A user with a password and one enrolled passkey, and the authenticator holding it.
pub async fn enrolled(app: &TestApp, name: &str) -> (shonin_identity::User, Authenticator) {
    let user = add_user(app, name).await;
    let mut b = browser(app).await;
    assert_eq!(
        password_sign_in(app, &mut b, name).await.status(),
        StatusCode::SEE_OTHER
    );
    let mut auth = Authenticator::new(AAGUID);
    let resp = enrol(app, &b, &mut auth, "Laptop <b>").await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    (user, auth)
}

/// The software passkeys that approve payments in the code-flow helpers, by user id (ids are
/// random, so tests running side by side never share one).
static PAYMENT_PASSKEYS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, Authenticator>>,
> = std::sync::LazyLock::new(Default::default);

/// The value of `data-{name}` in `html`, unescaped.
pub fn data_attr(html: &str, name: &str) -> String {
    attribute_after(html, &format!("data-{name}=\""))
}

/// The passkey of signed-in user `username` that approves payments: enrolled on first use.
pub async fn payment_passkey(
    app: &TestApp,
    b: &Browser,
    username: &str,
) -> (String, Authenticator) {
    let id = user_id(app, username).await;
    let taken = PAYMENT_PASSKEYS.lock().unwrap().remove(&id);
    let auth = match taken {
        Some(a) => a,
        None => {
            let mut auth = Authenticator::new(AAGUID);
            let resp = enrol(app, b, &mut auth, "Payments").await;
            assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
            auth
        }
    };
    (id, auth)
}

/// Approves the payment on a consent page (`html`) with the user's passkey, changing the
/// assertion with `tweak` first; the answer of `POST /authorize/payment`.
pub async fn approve_payment(
    app: &TestApp,
    b: &Browser,
    html: &str,
    username: &str,
    tweak: impl FnOnce(&mut Value),
) -> Response<Body> {
    let (user_id, mut auth) = payment_passkey(app, b, username).await;
    let resp = call(app, b, &data_attr(html, "options"), &json!({})).await;
    let resp = if resp.status() == StatusCode::OK {
        let options = body_json(resp).await;
        let mut assertion = auth.authenticate(&options["options"], ISSUER).unwrap();
        tweak(&mut assertion);
        call(
            app,
            b,
            &data_attr(html, "approve"),
            &json!({"assertion": assertion}),
        )
        .await
    } else {
        resp
    };
    PAYMENT_PASSKEYS.lock().unwrap().insert(user_id, auth);
    resp
}

/// [`approve_payment`], which must succeed: the client's redirect URI with the code.
pub async fn consent_with_passkey(
    app: &TestApp,
    b: &Browser,
    html: &str,
    username: &str,
) -> String {
    let resp = approve_payment(app, b, html, username, |_| {}).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(resp).await);
    body_json(resp).await["location"]
        .as_str()
        .unwrap()
        .to_owned()
}
