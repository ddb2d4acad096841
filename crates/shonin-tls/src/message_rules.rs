//! Message rules of RFC 9112 that hyper leaves to the server, checked before a request reaches
//! the router.

use crate::problem::problem_response;
use axum::http::uri::Authority;
use axum::http::{HeaderValue, Request, StatusCode, Version, header};
use axum::response::Response;

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
/// request message that lacks a Host header field and to any request message that contains more
/// than one Host header field line or a Host header field with an invalid field value."
/// (HTTP/2 carries the authority in `:authority`; a Host field there obeys the same rules.)
pub fn host_problem<B>(req: &Request<B>) -> Option<&'static str> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Some("more than one Host header field"),
        (None, _) if req.version() == Version::HTTP_11 => {
            Some("an HTTP/1.1 request needs a Host header field")
        }
        (None, _) => None,
        (Some(value), None) if valid_host(value) => None,
        (Some(_), None) => Some("the Host header field is not a valid host[:port]"),
    }
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2): an authority without user information, whose port,
/// if any, is a number.
fn valid_host(value: &HeaderValue) -> bool {
    let Some(text) = value
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && !s.contains('@'))
    else {
        return false;
    };
    let Ok(authority) = text.parse::<Authority>() else {
        return false;
    };
    match text.get(authority.host().len()..) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix(':')
            .is_some_and(|port| !port.is_empty() && port.parse::<u16>().is_ok()),
        None => false,
    }
}

/// The 400 for a request that breaks a message rule: problem details, the security headers, and
/// (HTTP/1.x) the connection closed after it, since the framing of what follows is suspect.
pub fn bad_request(detail: &'static str, version: Version) -> Response {
    let mut resp = problem_response(StatusCode::BAD_REQUEST, "Bad Request", Some(detail));
    crate::headers::apply(resp.headers_mut());
    if version < Version::HTTP_2 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, hosts: &[&str]) -> Request<()> {
        let mut b = Request::get("/").version(version);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_rules_of_rfc_9112_section_3_2() {
        let v11 = Version::HTTP_11;
        assert_eq!(host_problem(&req(v11, &["as.example"])), None);
        assert_eq!(host_problem(&req(v11, &["as.example:8443"])), None);
        assert_eq!(host_problem(&req(v11, &["[::1]:8443"])), None);
        assert!(host_problem(&req(v11, &[])).is_some());
        assert!(host_problem(&req(v11, &["a.example", "b.example"])).is_some());
        assert!(host_problem(&req(v11, &["a.example", "a.example"])).is_some());
        for bad in [
            "",
            "user@as.example",
            "as.example/path",
            "as example",
            "as.example:port",
        ] {
            assert!(host_problem(&req(v11, &[bad])).is_some(), "{bad:?}");
        }
        // HTTP/1.0 and HTTP/2 need no Host field, but may not repeat it.
        assert_eq!(host_problem(&req(Version::HTTP_10, &[])), None);
        assert_eq!(host_problem(&req(Version::HTTP_2, &[])), None);
        assert!(host_problem(&req(Version::HTTP_2, &["a", "b"])).is_some());
    }
}
