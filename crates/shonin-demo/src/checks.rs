//! Small checks the steps share: status codes, JSON members, and URLs on the server's pages.

use super::browser;
use super::client::Reply;
use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::Value;

pub(super) const CSRF_COOKIE: &str = "__Host-shonin_csrf";
pub(super) const SESSION_COOKIE: &str = "__Host-shonin_session";

/// The `action` of the page's form.
pub(super) fn form_action(html: &str) -> Option<String> {
    let (_, rest) = html.split_once("<form method=\"post\" action=\"")?;
    let (action, _) = rest.split_once('"')?;
    Some(browser::unescape(action))
}

/// `reference` (absolute, or a path on the server's origin) as an absolute URL.
pub(super) fn resolve(base: &str, reference: &str) -> anyhow::Result<String> {
    let base = url::Url::parse(base).with_context(|| format!("bad URL {base}"))?;
    Ok(base
        .join(reference)
        .with_context(|| format!("bad URL {reference}"))?
        .to_string())
}

pub(super) fn expect_status(reply: &Reply, wanted: StatusCode) -> anyhow::Result<()> {
    if reply.status == wanted {
        return Ok(());
    }
    let detail = reply
        .oauth_error()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    bail!("expected {wanted}, got {}{detail}", reply.status)
}

pub(super) fn text(json: &Value, member: &str) -> anyhow::Result<String> {
    json.get(member)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the response has no `{member}`"))
}

pub(super) fn list_contains(json: &Value, member: &str, wanted: &str) -> bool {
    json.get(member)
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(wanted)))
}
