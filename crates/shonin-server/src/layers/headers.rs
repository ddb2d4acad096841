//! Response headers every response carries, including the ones the connection layer writes
//! itself (`tls/message_rules.rs`, `tls/error_heads.rs`).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The fixed security headers. FAPI 2.0 §5.2.1: browser-facing endpoints prevent TLS stripping;
/// Shonin is only ever reached over TLS (directly or through the operator's TLS-terminating
/// proxy).
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=63072000; includeSubDomains",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// Puts the security headers (and `Cache-Control: no-store` unless the response chose) on `h`.
pub fn apply(h: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    apply(resp.headers_mut());
    resp
}
