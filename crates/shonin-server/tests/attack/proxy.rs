//! Behind a TLS-terminating proxy: decisions use the client the trusted proxy forwards, never
//! the proxy's own address.

use crate::common::{TestApp, body_text};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use shonin_server::config::ServerMode;

#[tokio::test]
async fn metrics_are_decided_by_the_forwarded_client_not_the_loopback_proxy() {
    let app = TestApp::with(|c| {
        c.server.mode = ServerMode::Proxy;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let via_proxy = |xff: Option<&str>| {
        let mut r = Request::get("/metrics");
        if let Some(v) = xff {
            r = r.header("x-forwarded-for", v);
        }
        r.body(Body::empty()).unwrap()
    };
    // A client on the internet, forwarded by the loopback proxy: refused.
    let resp = app
        .send_from("127.0.0.1:40000", via_proxy(Some("203.0.113.50")))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // A forged left-most entry does not help: the right-most untrusted hop is the client.
    let resp = app
        .send_from(
            "127.0.0.1:40000",
            via_proxy(Some("127.0.0.1, 203.0.113.50")),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The scraper on the host itself, not forwarded: allowed.
    let resp = app.send_from("127.0.0.1:40000", via_proxy(None)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(body_text(resp).await.contains("shonin_http_requests_total"));
}
