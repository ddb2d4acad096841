//! The browser part of the demo: a cookie jar for the one origin the demo talks to, and reading
//! the few things it needs from the server's pages (hidden form fields, the consent rows). The
//! pages are Shonin's own templates, so plain string search is enough; nothing here executes or
//! trusts the HTML.

use super::client::Reply;

/// Cookies set by the server, sent back on later page requests.
#[derive(Debug, Default)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    /// Stores every `Set-Cookie` of `reply`; returns the names that were set.
    pub fn store(&mut self, reply: &Reply) -> Vec<String> {
        let mut set = Vec::new();
        for value in reply.headers.get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
            set.push(name.to_owned());
        }
        set
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` request header, if any cookie is held.
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        Some(
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The value of the hidden input `name`.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let (_, rest) = html.split_once(&marker)?;
    let (value, _) = rest.split_once('"')?;
    Some(unescape(value))
}

/// The text between each `open` and the following `close`, unescaped, tags inside removed.
fn between<'a>(html: &'a str, open: &'a str, close: &'a str) -> impl Iterator<Item = String> + 'a {
    html.split(open)
        .skip(1)
        .filter_map(move |piece| piece.split_once(close).map(|(text, _)| strip_tags(text)))
}

/// The consent page's label/value rows (`<dt>Amount</dt><dd>123.45 EUR</dd>`), in order.
pub fn consent_rows(html: &str) -> Vec<(String, String)> {
    between(html, "<dt>", "</dt>")
        .zip(between(html, "<dd>", "</dd>"))
        .collect()
}

/// The page's lead paragraph (who asks, as whom), tags removed.
pub fn lead(html: &str) -> Option<String> {
    between(html, "<p class=\"lead\">", "</p>").next()
}

/// The requested scopes as listed on the consent page.
pub fn consent_scopes(html: &str) -> Vec<String> {
    between(html, "<li><code>", "</code></li>").collect()
}

fn strip_tags(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(out.trim())
}

/// Undoes HTML escaping: the named entities a template escaper emits and numeric references.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(before);
        let decoded = after.split_once(';').and_then(|(entity, tail)| {
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, tail))
        });
        match decoded {
            Some((c, tail)) => {
                out.push(c);
                rest = tail;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSENT: &str = r#"<h2>Permissions</h2><ul class="scopes">
<li><code>openid</code></li><li><code>payments</code></li></ul>
<section class="detail"><h2>Payment</h2><dl>
<dt>Amount</dt><dd>123.45 EUR</dd><dt>Payee</dt><dd>Merchant &amp; Co &#60;b&#x3e;</dd>
</dl></section>
<input type="hidden" name="csrf" value="abc&#58;def">"#;

    #[test]
    fn consent_rows_and_scopes_are_read_and_unescaped() {
        assert_eq!(
            consent_rows(CONSENT),
            vec![
                ("Amount".to_owned(), "123.45 EUR".to_owned()),
                ("Payee".to_owned(), "Merchant & Co <b>".to_owned()),
            ]
        );
        assert_eq!(consent_scopes(CONSENT), vec!["openid", "payments"]);
        assert_eq!(lead(CONSENT), None);
        assert_eq!(hidden_field(CONSENT, "csrf").as_deref(), Some("abc:def"));
        assert_eq!(hidden_field(CONSENT, "missing"), None);
    }

    #[test]
    fn unescape_leaves_a_lone_ampersand() {
        assert_eq!(unescape("a & b &zz; c"), "a & b &zz; c");
    }
}
