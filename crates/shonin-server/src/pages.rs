//! Server-rendered pages (askama: compiled templates, HTML-escaped by default). Pages load only
//! `/static/shonin.css`: no script at all, and a CSP that says so.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage<'a> {
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub request_uri: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

/// One rendered `authorization_details` entry: a heading and label/value rows.
#[derive(Debug)]
pub struct DetailView {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

#[derive(Debug, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub request_uri: &'a str,
    pub csrf: &'a str,
    pub scopes: &'a [String],
    pub details: Vec<DetailView>,
}

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub message: &'a str,
    pub request_id: &'a str,
}

/// Renders `page` with the page security headers; `form_target` is an extra origin forms may
/// navigate to (the client's redirect URI after consent: CSP `form-action` also governs the
/// redirect that follows a form post).
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
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut resp = (status, Html(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The error page: shown when the client's redirect URI is not known to be valid, so the error
/// cannot be sent back to it (no open redirect, RFC 9126 §4, FAPI 2.0 §5.3.2.1 item 6).
pub fn error(status: StatusCode, message: &str, request_id: Option<&str>) -> Response {
    render(
        status,
        &ErrorPage {
            message,
            request_id: request_id.unwrap_or_default(),
        },
        None,
    )
}

/// Human-readable rows for one authorization detail, from the server's stored copy.
pub fn detail_view(detail: &serde_json::Value) -> DetailView {
    use serde_json::Value;
    let kind = detail
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("authorization");
    let title = match kind {
        "payment_initiation" => "Payment".to_owned(),
        "account_information" => "Account access".to_owned(),
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
        rows.push(("Amount".to_owned(), format!("{a} {c}")));
    }
    if let Some(name) = detail.get("creditorName") {
        rows.push(("Payee".to_owned(), text(name)));
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
        rows.push(("Payee account".to_owned(), value));
    }
    if let Some(r) = detail.get("remittanceInformation") {
        rows.push(("Reference".to_owned(), text(r)));
    }
    if let Some(actions) = detail.get("actions").and_then(Value::as_array) {
        rows.push((
            "Actions".to_owned(),
            actions.iter().map(text).collect::<Vec<_>>().join(", "),
        ));
    }
    if let Some(locations) = detail.get("locations").and_then(Value::as_array) {
        rows.push((
            "Where".to_owned(),
            locations.iter().map(text).collect::<Vec<_>>().join(", "),
        ));
    }
    if rows.is_empty() {
        rows.push(("Details".to_owned(), detail.to_string()));
    }
    DetailView { title, rows }
}
