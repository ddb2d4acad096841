//! How the demo shows each exchange: a step heading with the rule it demonstrates, the request
//! line with its relevant headers and form fields, the response status, headers and body, with
//! JWTs and other long secrets abbreviated (`eyJhbGciOi…(742 chars)`).
//!
//! Written with `writeln!` rather than `println!`: a closed pipe (`shonin demo | head`) must not
//! panic the demo, so write errors are ignored. Colour only when standard output is a terminal
//! and `NO_COLOR` is not set.

use super::client::{Outgoing, Reply, Show};
use serde_json::Value;
use std::io::{IsTerminal, Write};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// Values at most this long are shown whole.
const SHORT: usize = 24;

/// Response headers worth showing; the rest (date, content-length, security headers) is noise
/// for this purpose.
const SHOWN_RESPONSE_HEADERS: [&str; 6] = [
    "content-type",
    "cache-control",
    "location",
    "set-cookie",
    "dpop-nonce",
    "www-authenticate",
];

#[derive(Debug)]
pub struct Printer {
    color: bool,
}

impl Printer {
    pub fn for_stdout() -> Printer {
        Printer {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    pub fn line(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    pub fn banner(&self, text: &str) {
        self.line(&self.paint(BOLD, text));
    }

    /// `── Step 2/11 · Pushed authorization request (PAR) ──` and the rule, dimmed.
    pub fn step(&self, number: usize, total: usize, title: &str, rule: &str) {
        self.line("");
        let heading = format!("── Step {number}/{total} · {title} ");
        let width = heading.chars().count();
        let rule_line = "─".repeat(96usize.saturating_sub(width));
        self.line(&self.paint(BOLD, &format!("{heading}{rule_line}")));
        self.line(&self.paint(DIM, rule));
    }

    /// An explanation in the middle of a step (e.g. why a retry happens).
    pub fn note(&self, text: &str) {
        self.line(&self.paint(YELLOW, &format!("   ℹ {text}")));
    }

    /// A check the step made and that passed.
    pub fn ok(&self, text: &str) {
        self.line(&format!("   {} {text}", self.paint(GREEN, "✓")));
    }

    pub fn failed(&self, text: &str) {
        self.line(&format!("   {} {text}", self.paint(RED, "✗")));
    }

    /// A labelled block of JSON (decoded token headers and claims), tokens abbreviated.
    pub fn json(&self, label: &str, value: &Value) {
        self.line(&format!("   {label}:"));
        self.body_json(value);
    }

    fn body_json(&self, value: &Value) {
        let text = serde_json::to_string_pretty(&abbreviate_json(None, value)).unwrap_or_default();
        for l in text.lines() {
            self.line(&format!("     {l}"));
        }
    }

    pub fn request(&self, req: &Outgoing) {
        self.line("");
        let target = format!("{} {}", req.method, req.url);
        self.line(&format!(
            "   {} {}",
            self.paint(CYAN, "→"),
            self.paint(BOLD, &target)
        ));
        for (name, value) in &req.headers {
            self.line(&format!("     {name}: {}", header_view(name, value)));
        }
        if !req.form.is_empty() {
            self.line("     ┄┄ form body");
        }
        for (name, value) in &req.form {
            self.line(&format!("     {name}={}", form_value_view(name, value)));
        }
        if !req.explain_jwts {
            return;
        }
        let jwts = req
            .headers
            .iter()
            .filter(|(n, _)| *n == "DPoP")
            .map(|(_, v)| ("DPoP proof", v.as_str()))
            .chain(
                req.form
                    .iter()
                    .filter(|(n, _)| n == "client_assertion")
                    .map(|(_, v)| ("client_assertion", v.as_str())),
            );
        for (label, jwt) in jwts {
            if let Some((header, claims)) = decode_jwt(jwt) {
                self.line(&self.paint(DIM, &format!("     ┄┄ {label}, decoded")));
                self.line(&format!(
                    "     header {}",
                    serde_json::to_string(&abbreviate_json(None, &header)).unwrap_or_default()
                ));
                self.line(&format!(
                    "     claims {}",
                    serde_json::to_string(&claims).unwrap_or_default()
                ));
            }
        }
    }

    pub fn response(&self, reply: &Reply, show: Show) {
        let status = reply.status.to_string();
        let style = match reply.status.as_u16() {
            200..=299 => GREEN,
            300..=399 => CYAN,
            _ => RED,
        };
        self.line(&format!(
            "   {} {}",
            self.paint(CYAN, "←"),
            self.paint(&format!("{BOLD}{style}"), &status)
        ));
        for name in SHOWN_RESPONSE_HEADERS {
            for value in reply.headers.get_all(name) {
                let text = value.to_str().unwrap_or("(not text)");
                self.line(&format!(
                    "     {}: {}",
                    title_case(name),
                    header_view(name, text)
                ));
            }
        }
        if reply.body.is_empty() {
            return;
        }
        let content_type = reply.header("content-type").unwrap_or_default();
        if content_type.starts_with("text/html") {
            self.line(&format!("     (HTML page, {} bytes)", reply.body.len()));
            return;
        }
        match (serde_json::from_str::<Value>(&reply.body), show) {
            (_, Show::Nothing) => {}
            (Ok(Value::Object(map)), Show::Fields(fields)) => {
                let kept: serde_json::Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| fields.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let hidden: Vec<&str> = map
                    .keys()
                    .filter(|k| !fields.contains(&k.as_str()))
                    .map(String::as_str)
                    .collect();
                self.body_json(&Value::Object(kept));
                let note = match hidden.len() {
                    0 => None,
                    1..=3 => Some(format!("(not shown: {})", hidden.join(", "))),
                    n => Some(format!("(… and {n} more members)")),
                };
                if let Some(note) = note {
                    self.line(&self.paint(DIM, &format!("     {note}")));
                }
            }
            (Ok(v), _) => self.body_json(&v),
            (Err(_), _) => {
                for l in reply.body.lines().take(10) {
                    self.line(&format!("     {}", abbreviate(l, 100)));
                }
            }
        }
    }
}

/// `eyJhbGciOi…(742 chars)` for a value longer than `keep` characters.
pub fn abbreviate(value: &str, keep: usize) -> String {
    let len = value.chars().count();
    if len <= keep {
        return value.to_owned();
    }
    let head: String = value.chars().take(10).collect();
    format!("{head}…({len} chars)")
}

fn looks_like_jwt(value: &str) -> bool {
    value.starts_with("eyJ") && value.matches('.').count() == 2
}

/// Tokens by name, and anything that looks like a JWT, abbreviated.
fn abbreviate_json(key: Option<&str>, value: &Value) -> Value {
    match value {
        Value::String(s)
            if looks_like_jwt(s)
                || matches!(key, Some("access_token" | "refresh_token" | "id_token")) =>
        {
            Value::String(abbreviate(s, SHORT))
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), abbreviate_json(Some(k), v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| abbreviate_json(key, v)).collect())
        }
        other => other.clone(),
    }
}

fn form_value_view(name: &str, value: &str) -> String {
    match name {
        "password" => "•••••••• (hidden)".to_owned(),
        "client_assertion" | "token" | "refresh_token" => abbreviate(value, SHORT),
        _ if looks_like_jwt(value) => abbreviate(value, SHORT),
        _ => value.to_owned(),
    }
}

/// Header values with tokens and cookie values abbreviated.
fn header_view(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "dpop" => abbreviate(value, SHORT),
        "authorization" => match value.split_once(' ') {
            Some((scheme, token)) => format!("{scheme} {}", abbreviate(token, SHORT)),
            None => abbreviate(value, SHORT),
        },
        "cookie" => value
            .split("; ")
            .map(cookie_pair_view)
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => match value.split_once(';') {
            Some((pair, attributes)) => format!("{};{attributes}", cookie_pair_view(pair)),
            None => cookie_pair_view(value),
        },
        _ => value.to_owned(),
    }
}

fn cookie_pair_view(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, value)) => format!("{name}={}", abbreviate(value, 12)),
        None => pair.to_owned(),
    }
}

fn title_case(name: &str) -> String {
    match name {
        "www-authenticate" => "WWW-Authenticate".to_owned(),
        "dpop-nonce" => "DPoP-Nonce".to_owned(),
        _ => name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// The header and claims of a compact JWS, decoded but NOT verified.
pub fn decode_jwt(jwt: &str) -> Option<(Value, Value)> {
    let mut parts = jwt.split('.');
    let decode = |segment: Option<&str>| -> Option<Value> {
        let bytes = shonin_jose::b64url_decode(segment?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header = decode(parts.next())?;
    let claims = decode(parts.next())?;
    Some((header, claims))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_keep_ten_characters_and_the_length() {
        let jwt = format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", "a".repeat(700));
        assert_eq!(abbreviate(&jwt, SHORT), "eyJhbGciOi…(725 chars)");
        assert_eq!(abbreviate("short", SHORT), "short");
    }

    #[test]
    fn tokens_in_json_are_abbreviated_but_token_type_is_not() {
        let body = json!({
            "access_token": format!("eyJ0.{}.x", "b".repeat(50)),
            "refresh_token": "r".repeat(43),
            "token_type": "DPoP",
            "expires_in": 300
        });
        let shown = abbreviate_json(None, &body);
        assert_eq!(shown["token_type"], "DPoP");
        assert_eq!(shown["refresh_token"], "rrrrrrrrrr…(43 chars)");
        assert!(
            shown["access_token"]
                .as_str()
                .unwrap()
                .ends_with("(57 chars)")
        );
    }

    #[test]
    fn passwords_are_never_printed() {
        assert!(!form_value_view("password", "hunter2hunter2").contains("hunter2"));
    }

    #[test]
    fn set_cookie_value_is_abbreviated_and_attributes_kept() {
        let v = format!("__Host-shonin_csrf={}; Path=/; Secure", "c".repeat(43));
        assert_eq!(
            header_view("set-cookie", &v),
            "__Host-shonin_csrf=cccccccccc…(43 chars); Path=/; Secure"
        );
    }
}
