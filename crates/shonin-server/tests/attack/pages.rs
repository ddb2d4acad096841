//! Cross-site form posts against the pages.

use crate::common::TestApp;
use crate::common::oauth::{ISSUER, send_form};
use axum::http::{StatusCode, header};

#[tokio::test]
async fn the_language_switcher_refuses_posts_from_other_sites() {
    let app = TestApp::new().await;
    let pairs = vec![
        ("lang".to_owned(), "ja".to_owned()),
        ("next".to_owned(), "/account".to_owned()),
    ];
    let refused: [&[(&str, String)]; 4] = [
        &[("sec-fetch-site", "cross-site".into())],
        &[("sec-fetch-site", "same-site".into())],
        &[("origin", "https://evil.example".into())],
        &[("origin", "null".into())],
    ];
    for headers in refused {
        let resp = send_form(&app, "/language", &pairs, headers).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            resp.headers().get(header::SET_COOKIE).is_none(),
            "{headers:?}"
        );
    }
    let audited = app
        .audit_entries()
        .await
        .iter()
        .filter(|e| {
            e.record.action == "request.reject"
                && e.record.target == "/language"
                && e.record.reason.as_deref() == Some("csrf")
        })
        .count();
    assert_eq!(audited, 4);
    let allowed: [&[(&str, String)]; 3] = [
        &[("sec-fetch-site", "same-origin".into())],
        &[("origin", ISSUER.into())],
        // Not a browser: nothing ambient to abuse.
        &[],
    ];
    for headers in allowed {
        let resp = send_form(&app, "/language", &pairs, headers).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{headers:?}");
        assert!(
            resp.headers().get(header::SET_COOKIE).is_some(),
            "{headers:?}"
        );
    }
}
