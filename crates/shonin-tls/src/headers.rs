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
    let framable = framable(h);
    for (name, value) in SECURITY_HEADERS {
        if name == header::X_FRAME_OPTIONS && framable {
            continue;
        }
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Whether the response chose who may frame it: a CSP `frame-ancestors` other than `'none'` (the
/// 3-D Secure challenge page, framed by the merchant's checkout). `X-Frame-Options` has no value
/// for that, and CSP Level 2 §7.7.1 has browsers obey `frame-ancestors` over it anyway.
fn framable(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|csp| {
            csp.split(';').any(|d| {
                let d = d.trim();
                d.starts_with("frame-ancestors ") && d != "frame-ancestors 'none'"
            })
        })
}
