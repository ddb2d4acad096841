//! The security headers every response carries. They live here, with the connection layer,
//! because it writes some responses itself (the 400 of `message_rules.rs`, the heads hyper
//! writes that `error_heads.rs` completes); the application's middleware applies the same
//! [`apply`] to everything the router answers.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

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
