//! Server-rendered pages (askama: compiled templates, HTML-escaped by default), in English or
//! Japanese ([`crate::i18n`]). Pages load `/static/shonin.css` and, for passkeys,
//! `/static/passkey.js`: no inline script or style, and a CSP that says so.

use crate::i18n::{Lang, Texts};
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// What every page's frame needs: the language, its texts, and the path the language switcher
/// returns to.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub here: &'a str,
}

impl<'a> Frame<'a> {
    pub fn new(lang: Lang, here: &'a str) -> Self {
        Self {
            lang: lang.code(),
            t: lang.texts(),
            here,
        }
    }
}

/// The sign-in page, for `/authorize` (with the client) or for the account page.
#[derive(Debug, Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage<'a> {
    pub f: Frame<'a>,
    /// The client asking, on `/authorize`; empty on the account page.
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub request_uri: &'a str,
    /// Where the password form posts.
    pub action: &'a str,
    /// Where a passkey sign-in continues (see `routes::passkeys::safe_next`).
    pub next: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// The request needs a passkey (`acr_values`): no password form.
    pub step_up: bool,
}

/// One rendered `authorization_details` entry: a heading and label/value rows.
#[derive(Debug)]
pub struct DetailView {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

/// A payment on the consent page: what the passkey signs (from `shonin_txn::linking`) and the
/// two JSON calls of `approve.js` (`routes/oauth/payment.rs`).
#[derive(Debug)]
pub struct PaymentView {
    pub shown: shonin_txn::linking::Shown,
    pub options_url: String,
    pub approve_url: String,
}

#[derive(Debug, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub f: Frame<'a>,
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub request_uri: &'a str,
    pub csrf: &'a str,
    pub scopes: &'a [String],
    pub details: Vec<DetailView>,
    /// A payment, approved with a passkey instead of the approve button.
    pub payment: Option<PaymentView>,
    /// The approve button: only for requests without a payment.
    pub approve_button: bool,
}

/// The user's approval page for one transaction (`/approve/{id}`): the data from the stored
/// transaction, formatted for the page's language by the same function that makes the signed
/// bytes (`shonin_txn::linking`).
#[derive(Debug, Template)]
#[template(path = "approve.html")]
pub struct ApprovePage<'a> {
    pub f: Frame<'a>,
    pub id: &'a str,
    pub client_name: &'a str,
    pub shown: shonin_txn::linking::Shown,
    pub deadline: String,
    pub csrf: &'a str,
    /// Set once the transaction is no longer waiting: what happened to it.
    pub outcome: Option<&'a str>,
    /// Set while it waits after a failed attempt: how many are left before it locks.
    pub attempts_note: Option<String>,
}

/// The user's approval page for a CIBA request (`/ciba/{id}`): who asks, the binding message,
/// the scopes, and a payment signed with a passkey when the request carries one.
#[derive(Debug, Template)]
#[template(path = "ciba.html")]
pub struct CibaPage<'a> {
    pub f: Frame<'a>,
    pub id: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub binding_message: Option<&'a str>,
    pub scopes: &'a [String],
    pub payment: Option<PaymentView>,
    pub deadline: String,
    pub csrf: &'a str,
    /// Set once the request is no longer waiting: what happened to it.
    pub outcome: Option<&'a str>,
}

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub f: Frame<'a>,
    pub message: &'a str,
    pub request_id: &'a str,
}

/// One passkey row on the account page.
#[derive(Debug)]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub created: String,
    pub last_used: String,
    pub kind: &'static str,
}

#[derive(Debug, Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub f: Frame<'a>,
    pub csrf: &'a str,
    pub username: &'a str,
    pub passkeys: Vec<PasskeyRow>,
    /// Signed in recently enough, with the strongest method, to add or remove a method.
    pub fresh: bool,
    pub has_password: bool,
    pub user_passkey_only: bool,
    pub global_passkey_only: bool,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Unused recovery codes.
    pub recovery_unused: u32,
}

/// A new set of recovery codes, shown once.
#[derive(Debug, Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub f: Frame<'a>,
    pub codes: &'a [String],
}

/// The 3-D Secure challenge page (`threeds/challenge.rs`), shown in the requestor's iframe: the
/// purchase from the stored AReq, formatted by the function whose fields the passkey signs
/// (`shonin_3ds::acs::linking`).
#[derive(Debug, Template)]
#[template(path = "acs_challenge.html")]
pub struct AcsChallengePage<'a> {
    pub f: Frame<'a>,
    pub merchant: String,
    pub amount: String,
    /// Masked: first six and last four digits.
    pub card: String,
    pub acs_trans_id: &'a str,
    /// The answer token (see `threeds/challenge.rs`).
    pub token: &'a str,
    pub answer_url: &'a str,
    /// `PublicKeyCredentialRequestOptionsJSON`, empty without a passkey.
    pub options: String,
    pub due_at_ms: i64,
    pub notification_url: &'a str,
    pub session_data: Option<&'a str>,
    /// A one-time code was sent: the page asks for it.
    pub code: bool,
    /// The refusal message, with `{n}` to be filled by the script.
    pub failed: String,
}

/// A page that posts one message field (`erro`) to the requestor's `notificationURL`
/// (`/static/acs.js` submits it).
#[derive(Debug, Template)]
#[template(path = "acs_post.html")]
pub struct AcsPostPage<'a> {
    pub f: Frame<'a>,
    pub action: &'a str,
    pub name: &'a str,
    pub value: String,
    pub session_data: Option<&'a str>,
}

/// The 3DS Server's notification page: the final CRes arrived; `/static/3ds-notify.js` tells the
/// merchant's checkout (the iframe's parent) which transaction ended.
#[derive(Debug, Template)]
#[template(path = "threeds_notification.html")]
pub struct ThreeDsNotificationPage<'a> {
    pub f: Frame<'a>,
    pub transaction: &'a str,
    /// The message type the script posts: the challenge's end, or the 3DS Method's.
    pub kind: &'a str,
}

/// The vault's hosted card fields (`routes/vault_nonces.rs`), in the merchant's iframe:
/// `/static/vault-fields.js` posts the card with the client token and hands the nonce to
/// `origin`.
#[derive(Debug, Template)]
#[template(path = "vault_hosted_fields.html")]
pub struct HostedFieldsPage<'a> {
    pub f: Frame<'a>,
    pub client_token: &'a str,
    pub origin: &'a str,
}

/// Renders a page that runs inside the 3-D Secure requestor's iframe: as [`render`], but any
/// HTTPS page may frame it (the merchant's checkout is not known in advance) and it may post to
/// `form_target` (the requestor's `notificationURL`).
pub fn render_framed(
    status: StatusCode,
    page: &impl Template,
    form_target: Option<&str>,
) -> Response {
    framed_by(render(status, page, form_target), "https:")
}

/// Renders a page that only pages of `ancestors` (a CSP source list) may frame.
pub fn render_framed_by(status: StatusCode, page: &impl Template, ancestors: &str) -> Response {
    framed_by(render(status, page, None), ancestors)
}

fn framed_by(mut resp: Response, ancestors: &str) -> Response {
    let csp = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.replace(
                "frame-ancestors 'none'",
                &format!("frame-ancestors {ancestors}"),
            )
        });
    if let Some(v) = csp.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// Renders `page` with the page security headers; `form_target` is an extra origin forms may
/// navigate to (the client's redirect URI after consent: CSP `form-action` also governs the
/// redirect that follows a form post). Scripts may come from this origin only
/// (`/static/passkey.js`); there is no inline script.
pub fn render(status: StatusCode, page: &impl Template, form_target: Option<&str>) -> Response {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut resp = (status, Html(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `303 See Other` to `location` (a path of ours).
pub fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

/// `resp` with `cookie` set, when there is one.
pub fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Human-readable rows for one authorization detail, from the server's stored copy. A payment
/// the page shows through [`PaymentView`] keeps only its other rows (actions, where).
pub fn detail_view(t: &Texts, detail: &serde_json::Value, payment_shown: bool) -> DetailView {
    let mut view = all_rows(t, detail);
    if payment_shown
        && detail.get("type").and_then(serde_json::Value::as_str) == Some("payment_initiation")
    {
        view.rows
            .retain(|(label, _)| label == t.detail_actions || label == t.detail_where);
    }
    view
}

fn all_rows(t: &Texts, detail: &serde_json::Value) -> DetailView {
    use serde_json::Value;
    let kind = detail
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("authorization");
    let title = match kind {
        "payment_initiation" => t.detail_payment.to_owned(),
        "account_information" => t.detail_account_access.to_owned(),
        other => other.to_owned(),
    };
    let mut rows = Vec::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(amount) = detail.get("instructedAmount") {
        let a = amount.get("amount").map(text).unwrap_or_default();
        let c = amount.get("currency").map(text).unwrap_or_default();
        rows.push((t.detail_amount.to_owned(), format!("{a} {c}")));
    }
    if let Some(name) = detail.get("creditorName") {
        rows.push((t.detail_payee.to_owned(), text(name)));
    }
    if let Some(account) = detail.get("creditorAccount") {
        let value = account
            .get("iban")
            .map(|i| format!("IBAN {}", text(i)))
            .or_else(|| {
                account.get("other").map(|o| {
                    let scheme = o.get("schemeName").map(text).unwrap_or_default();
                    let id = o.get("identification").map(text).unwrap_or_default();
                    format!("{scheme} {id}")
                })
            })
            .unwrap_or_default();
        rows.push((t.detail_payee_account.to_owned(), value));
    }
    if let Some(r) = detail.get("remittanceInformation") {
        rows.push((t.detail_reference.to_owned(), text(r)));
    }
    if let Some(actions) = detail.get("actions").and_then(Value::as_array) {
        rows.push((
            t.detail_actions.to_owned(),
            actions.iter().map(text).collect::<Vec<_>>().join(", "),
        ));
    }
    if let Some(locations) = detail.get("locations").and_then(Value::as_array) {
        rows.push((
            t.detail_where.to_owned(),
            locations.iter().map(text).collect::<Vec<_>>().join(", "),
        ));
    }
    if rows.is_empty() {
        rows.push((t.detail_details.to_owned(), detail.to_string()));
    }
    DetailView { title, rows }
}
