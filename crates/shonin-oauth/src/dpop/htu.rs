//! The `htu` comparison of RFC 9449 §4.3 (9): the request URI without query and fragment, after
//! syntax-based (RFC 3986 §6.2.2) and scheme-based (RFC 3986 §6.2.3) normalisation.

use super::DpopError;
use std::fmt;
use url::Url;

/// An absolute `http`/`https` URI reduced to the form compared against a proof's `htu`:
/// lower-case scheme and host, no default port, no userinfo, no query or fragment, dot segments
/// removed, an empty path as `/`, percent-encodings of unreserved characters decoded and all
/// other percent-encodings in upper case.
///
/// The server builds one from its own public URL of the endpoint; the proof's claim is parsed the
/// same way, so two spellings of one resource compare equal and different paths never do.
#[derive(Clone, PartialEq, Eq)]
pub struct Htu(String);

impl Htu {
    /// Parses and normalises `uri`. Refuses anything that is not an absolute `http` or `https`
    /// URI of printable ASCII, and URIs with userinfo (RFC 9110 §4.2.4 forbids sending it).
    pub fn parse(uri: &str) -> Result<Self, DpopError> {
        normalize(uri).map(Self).ok_or(DpopError::InvalidHtu)
    }

    /// The normalised URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Htu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Htu({})", self.0)
    }
}

impl fmt::Display for Htu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Htu {
    type Error = DpopError;

    fn try_from(s: &str) -> Result<Self, DpopError> {
        Self::parse(s)
    }
}

fn normalize(uri: &str) -> Option<String> {
    // A URI is printable ASCII (RFC 3986 §2). The WHATWG parser would silently strip
    // whitespace and control characters; a signed claim that needs that is refused instead.
    if uri.is_empty() || !uri.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    // The WHATWG parser lower-cases scheme and host, drops the default port, removes dot
    // segments and turns an empty path into "/" (RFC 3986 §6.2.2.1, §6.2.2.3, §6.2.3).
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    let path = normalize_percent_encoding(url.path())?;
    // Query and fragment are simply not copied (RFC 9449 §4.3 (9)).
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}{path}", url.scheme()),
        None => format!("{}://{host}{path}", url.scheme()),
    })
}

/// RFC 3986 §6.2.2.1 and §6.2.2.2: upper-case the hex digits of every percent-encoding and decode
/// the ones that stand for unreserved characters. A `%` not followed by two hex digits makes the
/// URI invalid.
fn normalize_percent_encoding(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(char::from(b));
            continue;
        }
        let hi = hex_value(bytes.next()?)?;
        let lo = hex_value(bytes.next()?)?;
        let decoded = hi << 4 | lo;
        if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(decoded));
        } else {
            out.push('%');
            out.push(upper_hex_digit(hi)?);
            out.push(upper_hex_digit(lo)?);
        }
    }
    Some(out)
}

/// `n` (< 16) as an upper-case hex digit.
fn upper_hex_digit(n: u8) -> Option<char> {
    char::from_digit(u32::from(n), 16).map(|c| c.to_ascii_uppercase())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Htu::parse(s).unwrap().0
    }

    #[test]
    fn query_and_fragment_are_dropped() {
        assert_eq!(
            norm("https://as.example/token?x=1#frag"),
            "https://as.example/token"
        );
        assert_eq!(
            norm("https://as.example/token?"),
            "https://as.example/token"
        );
        assert_eq!(
            norm("https://as.example/token#"),
            "https://as.example/token"
        );
    }

    #[test]
    fn scheme_and_host_case_and_default_ports_are_normalised() {
        let canonical = "https://as.example/token";
        for spelling in [
            "HTTPS://AS.Example/token",
            "https://as.example:443/token",
            "HtTpS://as.EXAMPLE:443/token",
        ] {
            assert_eq!(norm(spelling), canonical, "{spelling}");
        }
        assert_eq!(norm("http://as.example:80/t"), "http://as.example/t");
        assert_eq!(
            norm("https://as.example:8443/t"),
            "https://as.example:8443/t"
        );
        assert_eq!(norm("http://as.example:443/t"), "http://as.example:443/t");
    }

    #[test]
    fn path_case_is_significant() {
        assert_ne!(
            norm("https://as.example/Token"),
            norm("https://as.example/token")
        );
    }

    #[test]
    fn empty_path_and_dot_segments_are_normalised() {
        assert_eq!(norm("https://as.example"), "https://as.example/");
        assert_eq!(
            norm("https://as.example/a/../token"),
            "https://as.example/token"
        );
        assert_eq!(
            norm("https://as.example/./token"),
            "https://as.example/token"
        );
    }

    #[test]
    fn percent_encodings_are_normalised() {
        assert_eq!(
            norm("https://as.example/%7euser"),
            "https://as.example/~user"
        );
        assert_eq!(
            norm("https://as.example/%74oken"),
            "https://as.example/token"
        );
        assert_eq!(norm("https://as.example/a%2fb"), "https://as.example/a%2Fb");
        assert_eq!(norm("https://as.example/a%2Fb"), "https://as.example/a%2Fb");
        assert_ne!(
            norm("https://as.example/a%2Fb"),
            norm("https://as.example/a/b")
        );
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets() {
        assert_eq!(norm("https://[::1]:8443/token"), "https://[::1]:8443/token");
    }

    #[test]
    fn non_http_relative_userinfo_and_non_ascii_uris_are_refused() {
        for bad in [
            "",
            "/token",
            "token",
            "ftp://as.example/token",
            "urn:ietf:params:oauth:x",
            "https://user@as.example/token",
            "https://user:pw@as.example/token",
            "https://as.example/to ken",
            "https://as.example/to\nken",
            " https://as.example/token",
            "https://äs.example/token",
            "https://as.example/%zz",
            "https://as.example/%4",
            "https://",
            "mailto:a@as.example",
        ] {
            assert!(Htu::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn normalisation_is_idempotent() {
        for s in [
            "HTTPS://AS.Example:443/a/../b%7e%2f?q#f",
            "http://[::1]/x",
            "https://as.example",
        ] {
            let once = norm(s);
            assert_eq!(norm(&once), once, "{s}");
        }
    }
}
