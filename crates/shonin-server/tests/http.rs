//! The HTTP surface in-process: operational endpoints, limits, error shapes, audit of rejections.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TestApp, body_json, body_text};
use shonin_keys::KeySource;

fn content_type(resp: &axum::http::Response<Body>) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = TestApp::new().await;
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["status"], "ok");
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["storage"], "sqlite");
}

#[tokio::test]
async fn unknown_route_is_404_problem_json() {
    let app = TestApp::new().await;
    let resp = app.get("/no/such/thing").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&resp), "application/problem+json");
    let body = body_json(resp).await;
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");
}

#[tokio::test]
async fn wrong_method_is_405_problem_json() {
    let app = TestApp::new().await;
    let resp = app
        .send(Request::delete("/jwks").body(Body::empty()).unwrap())
        .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type(&resp), "application/problem+json");
}

#[tokio::test]
async fn oversized_declared_body_is_413_and_audited() {
    let app = TestApp::new().await;
    let big = vec![b'a'; 64 * 1024 + 1];
    let req = Request::post("/jwks")
        .header(header::CONTENT_LENGTH, big.len())
        .header("x-request-id", "req-413")
        .body(Body::from(big))
        .unwrap();
    let resp = app.send(req).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type(&resp), "application/problem+json");
    let entries = app.audit_entries().await;
    let reject = entries
        .iter()
        .find(|e| e.record.action == "request.reject")
        .expect("audit entry");
    assert_eq!(reject.record.reason.as_deref(), Some("body_too_large"));
    assert_eq!(reject.record.request_id.as_deref(), Some("req-413"));
    assert_eq!(reject.record.source_ip, Some("127.0.0.1".parse().unwrap()));
}

#[tokio::test]
async fn jwks_publishes_current_and_next_keys_without_private_members() {
    let app = TestApp::new().await;
    let resp = app.get("/jwks").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), "application/jwk-set+json");
    let body = body_json(resp).await;
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "current and next: {body}");
    let current = app.state.keys.current_signer().kid().to_owned();
    assert!(keys.iter().any(|k| k["kid"] == current.as_str()));
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                k.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
}

#[tokio::test]
async fn rotation_in_another_process_is_picked_up_and_old_tokens_still_verify() {
    let app = TestApp::new().await;
    let before = app.state.keys.current_signer();
    let claims = serde_json::json!({"sub": "x", "exp": 4_102_444_800i64});
    let old_token = shonin_keys::sign_jwt(before.as_ref(), "at+jwt", &claims)
        .await
        .unwrap();

    // A second handle on the same keyring file plays the `shonin keys rotate` process.
    let cfg = &app.state.config;
    let (other, _) = shonin_server::runtime::open_keyring(cfg, app.state.clock.clone()).unwrap();
    let report = other.rotate().unwrap();
    assert!(app.state.keys.reload_if_changed().unwrap());

    let after = app.state.keys.current_signer();
    assert_eq!(after.kid(), report.current_kid);
    assert_ne!(after.kid(), before.kid());
    let new_token = shonin_keys::sign_jwt(after.as_ref(), "at+jwt", &claims)
        .await
        .unwrap();
    assert_eq!(
        shonin_jose::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(after.kid())
    );

    let jwks = body_json(app.get("/jwks").await).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&report.next_kid.as_str()),
        "next key pre-published"
    );
    assert!(kids.contains(&before.kid()), "retired key still published");
    let opts = shonin_jose::VerifyOptions::new(app.state.clock.now());
    shonin_jose::verify_jwt(&old_token, &jwks, &opts)
        .expect("token signed before rotation verifies");
    shonin_jose::verify_jwt(&new_token, &jwks, &opts)
        .expect("token signed after rotation verifies");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_audits_once() {
    let app = TestApp::with(|c| {
        c.rate_limit.per_ip_per_second = 1;
        c.rate_limit.burst = 2;
    })
    .await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let resp = app
            .send_from(
                "198.51.100.7:5000",
                Request::get("/healthz").body(Body::empty()).unwrap(),
            )
            .await;
        statuses.push(resp.status());
        last = Some(resp);
    }
    assert_eq!(&statuses[..2], &[StatusCode::OK, StatusCode::OK]);
    assert!(
        statuses[2..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let last = last.unwrap();
    let retry: u64 = last.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(content_type(&last), "application/problem+json");
    // Another IP is unaffected.
    let other = app
        .send_from(
            "198.51.100.8:5000",
            Request::get("/healthz").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    let rejects = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.record.reason.as_deref() == Some("rate_limited"))
        .count();
    assert_eq!(rejects, 1, "sampled: one audit entry per IP per minute");
}

#[tokio::test]
async fn metrics_are_served_to_loopback_only() {
    let app = TestApp::new().await;
    app.get("/healthz").await;
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = body_text(resp).await;
    assert!(text.contains("shonin_http_requests_total"), "{text}");
    assert!(text.contains("shonin_http_request_duration_seconds_bucket"));
    assert!(text.contains("shonin_audit_entries_written_total"));
    let resp = app
        .send_from(
            "203.0.113.1:1234",
            Request::get("/metrics").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn request_id_is_echoed_when_plain_and_replaced_when_not() {
    let app = TestApp::new().await;
    let resp = app
        .send(
            Request::get("/healthz")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    for bad in ["<script>alert(1)</script>", "a b", &"x".repeat(65)] {
        let resp = app
            .send(
                Request::get("/healthz")
                    .header("x-request-id", bad)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let id = resp.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a fresh UUID instead of {bad:?}: {id}");
    }
}

#[tokio::test]
async fn security_headers_are_set() {
    let app = TestApp::new().await;
    let resp = app.get("/healthz").await;
    let h = resp.headers();
    assert!(
        h[header::STRICT_TRANSPORT_SECURITY]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn storage_outage_makes_readyz_and_requests_503_without_panic() {
    let app = TestApp::new().await;
    app.state.store.close().await;
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type(&resp), "application/problem+json");
    shonin_server::runtime::probe_storage(&app.state).await;
    assert!(!app.state.storage_is_ready());
    let resp = app.get("/jwks").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    // Liveness is not readiness.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn rejection_of_a_huge_path_is_still_audited() {
    let app = TestApp::new().await;
    let path = format!("/{}", "a".repeat(8000));
    let req = Request::post(path.as_str())
        .header(header::CONTENT_LENGTH, 70_000)
        .body(Body::from(vec![0u8; 70_000]))
        .unwrap();
    let resp = app.send(req).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let entries = app.audit_entries().await;
    let reject = entries
        .iter()
        .find(|e| e.record.action == "request.reject")
        .expect("audit entry");
    assert_eq!(
        reject.record.target.chars().count(),
        shonin_audit::MAX_TARGET_CHARS
    );
}

#[tokio::test]
async fn oversized_streamed_body_without_length_is_413() {
    let app = TestApp::new().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b'a'; 8 * 1024])).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let req = Request::post("/par")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    assert!(req.headers().get(header::CONTENT_LENGTH).is_none());
    let resp = app.send(req).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type(&resp), "application/problem+json");
}
