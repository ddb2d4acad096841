//! HTTP/1.1 message rules on a real listener: the Host field (RFC 9112 §3.2) and the headers on
//! responses the connection layer writes itself.

use crate::harness::Live;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `request` verbatim on a fresh HTTP/1.1 TLS connection and reads until the server closes
/// or 3 s pass; returns what came back.
async fn exchange(live: &Live, request: &str) -> String {
    let mut s = live.tls(b"http/1.1").await;
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> &str {
    response.get(9..12).unwrap_or("")
}

fn assert_security_headers(what: &str, response: &str) {
    let lower = response.to_ascii_lowercase();
    for h in [
        "strict-transport-security: max-age=63072000; includesubdomains",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "cache-control: no-store",
    ] {
        assert!(lower.contains(h), "{what}: no {h:?} in {response}");
    }
}

#[tokio::test]
async fn host_must_appear_exactly_once_and_be_valid() {
    let live = Live::start(|_| {}).await;
    let ok = exchange(
        &live,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&ok), "200", "{ok}");
    for (what, request) in [
        (
            "no Host",
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        ),
        (
            "two Host fields",
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        ),
        (
            "Host with user information",
            "GET /healthz HTTP/1.1\r\nHost: user@localhost\r\nConnection: close\r\n\r\n",
        ),
    ] {
        let resp = exchange(&live, request).await;
        assert_eq!(status(&resp), "400", "{what}: {resp}");
        assert!(resp.contains("application/problem+json"), "{what}: {resp}");
        assert_security_headers(what, &resp);
    }
    // HTTP/1.0 has no Host requirement.
    let old = exchange(&live, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status(&old), "200", "{old}");
    // The three refusals came from one address within a minute: one audit entry, which the
    // connection layer writes in the background.
    let mut audited = 0;
    for _ in 0..40 {
        audited = live
            .app
            .audit_entries()
            .await
            .iter()
            .filter(|e| e.record.reason.as_deref() == Some("bad_host"))
            .count();
        if audited > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(audited, 1, "one sampled request.reject entry for bad_host");
    live.stop().await;
}

#[tokio::test]
async fn responses_the_http_library_writes_carry_the_security_headers() {
    let live = Live::start(|_| {}).await;
    // Over server.max_header_bytes (16 KiB): hyper answers 431 itself.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let resp = exchange(&live, &big).await;
    assert_eq!(status(&resp), "431", "{resp}");
    assert_security_headers("431", &resp);
    // A request line hyper cannot parse: 400 from hyper.
    let resp = exchange(
        &live,
        "GET /healthz HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert_eq!(status(&resp), "400", "{resp}");
    assert_security_headers("400", &resp);
    // And the connection still serves well-formed requests afterwards on a new connection.
    let ok = exchange(
        &live,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&ok), "200", "{ok}");
    live.stop().await;
}
