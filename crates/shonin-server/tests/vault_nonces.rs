//! Client-side tokenization through the HTTP surface: a client token for the merchant's origin,
//! the page's post for a one-time nonce (CORS only for that origin), the exchange by the
//! merchant (once, across nodes too), the CVV held until the first detokenize, the hosted card
//! fields framed only by that origin, and every refusal audited with nothing stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use common::bank::Bank;
use common::{TestApp, body_json, body_text, failures};
use serde_json::{Value, json};
use shonin_keys::KeySource;

const ORIGIN: &str = "https://shop.example";
const PAN: &str = "5555555555554444";

fn card() -> Value {
    json!({"pan": "5555 5555 5555 4444", "exp_month": 11, "exp_year": 2031, "cvv": "737"})
}

async fn client_token(app: &TestApp, merchant: &Bank) -> String {
    let resp = merchant
        .send(
            app,
            Method::POST,
            "/vault/client-tokens",
            Some(&json!({"origin": ORIGIN})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = body_json(resp).await;
    assert_eq!(body["origin"], ORIGIN);
    body["client_token"].as_str().unwrap().to_owned()
}

/// `POST /vault/nonces` as a page of `origin` would send it (no origin: as an app would).
async fn post_card(
    app: &TestApp,
    token: Option<&str>,
    origin: Option<&str>,
    body: &Value,
) -> Response<Body> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/vault/nonces")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn exchange(app: &TestApp, merchant: &Bank, nonce: &str) -> (StatusCode, Value) {
    merchant
        .post(app, "/vault/nonces/exchange", &json!({"nonce": nonce}))
        .await
}

#[tokio::test]
async fn a_page_posts_the_card_and_the_merchant_exchanges_the_nonce_once() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault vault:detokenize").await;
    let token = client_token(&app, &merchant).await;
    // An explicitly typed JWS of ours, for this client and origin, addressed to the nonce
    // endpoint, verifiable with the published keys.
    let header = shonin_jose::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("vault-client+jwt"));
    let claims = shonin_jose::verify_jwt(
        &token,
        &body_json(app.get("/jwks").await).await,
        &shonin_jose::VerifyOptions::new(app.state.clock.now()).with_typ("vault-client+jwt"),
    )
    .unwrap();
    assert_eq!(claims["sub"], "shop");
    assert_eq!(claims["origin"], ORIGIN);
    assert_eq!(
        claims["aud"],
        format!("{}/vault/nonces", app.state.config.issuer)
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    let resp = post_card(&app, Some(&token), Some(ORIGIN), &card()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert_eq!(resp.headers()[header::VARY], "Origin");
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let issued = body_json(resp).await;
    let nonce = issued["nonce"].as_str().unwrap().to_owned();
    assert!(nonce.starts_with("nonce_"), "{issued}");
    assert_eq!(
        issued["card"],
        json!({"brand": "mastercard", "last4": "4444", "exp_month": 11, "exp_year": 2031})
    );
    // An app (no Origin) may post too; its answer has no CORS headers.
    let resp = post_card(&app, Some(&token), None, &card()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(
        resp.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // So may Shonin's own origin (the hosted fields page), which needs no CORS headers.
    let own = url::Url::parse(&app.state.config.issuer)
        .unwrap()
        .origin()
        .ascii_serialization();
    let resp = post_card(&app, Some(&token), Some(&own), &card()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(
        resp.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // Nothing is among the merchant's cards before the exchange.
    let cards = shonin_vault::VaultStore::vault_cards_not_under(
        &app.state.store,
        "-",
        app.state.clock.now(),
        10,
    )
    .await
    .unwrap();
    assert!(cards.is_empty());

    let (status, stored) = exchange(&app, &merchant, &nonce).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let card_token = stored["token"].as_str().unwrap().to_owned();
    assert_eq!(stored["last4"], "4444");
    assert!(stored["cvv_held_until"].is_string(), "{stored}");
    assert!(stored.get("pan").is_none() && stored.get("cvv").is_none());
    // Once only.
    let (status, again) = exchange(&app, &merchant, &nonce).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["error"], "invalid_nonce");

    // The first detokenize (the authorisation) gets the CVV; the second does not.
    let detok = format!("/vault/cards/{card_token}/detokenize");
    let (status, full) = merchant.post(&app, &detok, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!((&full["pan"], &full["cvv"]), (&json!(PAN), &json!("737")));
    let (_, later) = merchant.post(&app, &detok, &json!({})).await;
    assert_eq!(later["pan"], PAN);
    assert!(later.get("cvv").is_none(), "{later}");

    // Audited: the client token by its id, the nonce by its digest, the exchange by the token.
    let entries = app.audit_entries().await;
    let success = |action: &str| {
        entries
            .iter()
            .filter(|e| {
                e.record.action == action && e.record.outcome == shonin_audit::Outcome::Success
            })
            .map(|e| (e.record.actor.id.clone(), e.record.target.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        success("vault.client_token"),
        vec![(
            "shop".to_owned(),
            claims["jti"].as_str().unwrap().to_owned()
        )]
    );
    let nonces = success("vault.nonce");
    assert_eq!(nonces.len(), 3);
    assert!(nonces[0].1.starts_with("nonce:") && !nonces[0].1.contains(&nonce));
    assert_eq!(
        success("vault.exchange"),
        vec![("shop".to_owned(), card_token.clone())]
    );
    assert_eq!(failures(&app, "vault.exchange").await.len(), 1);

    // No card number or CVV in the audit log or in any file of the node.
    let audit = serde_json::to_vec(&entries).unwrap();
    assert_eq!(common::pci::card_numbers(&audit), Vec::<String>::new());
    app.state.store.close().await;
    let (files, found) = common::pci::scan_dir(app.dir.path());
    assert!(files > 0 && found.is_empty(), "{files} files: {found:?}");
}

#[tokio::test]
async fn refusals_are_audited_and_store_nothing() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault").await;
    let token = client_token(&app, &merchant).await;
    let now = app.state.clock.now();
    let issuer = app.state.config.issuer.clone();
    let signer = app.state.keys.current_signer();
    let sign = |claims: Value, typ: &'static str| {
        let signer = signer.clone();
        async move {
            shonin_keys::sign_jwt(signer.as_ref(), typ, &claims)
                .await
                .unwrap()
        }
    };
    let origin = shonin_vault::WebOrigin::parse(ORIGIN).unwrap();
    let expired = sign(
        shonin_vault::client_token::claims(
            &issuer,
            "shop",
            &origin,
            "ct_x",
            now - time::Duration::hours(1),
            time::Duration::minutes(15),
        ),
        "vault-client+jwt",
    )
    .await;
    let mut wrong_aud = shonin_vault::client_token::claims(
        &issuer,
        "shop",
        &origin,
        "ct_y",
        now,
        time::Duration::minutes(5),
    );
    wrong_aud["aud"] = json!(format!("{issuer}/token"));
    let wrong_aud = sign(wrong_aud, "vault-client+jwt").await;
    let mut foreign = shonin_vault::client_token::claims(
        "https://other.example",
        "shop",
        &origin,
        "ct_i",
        now,
        time::Duration::minutes(5),
    );
    foreign["aud"] = json!(format!("{issuer}/vault/nonces"));
    let foreign = sign(foreign, "vault-client+jwt").await;
    let mut no_origin = shonin_vault::client_token::claims(
        &issuer,
        "shop",
        &origin,
        "ct_o",
        now,
        time::Duration::minutes(5),
    );
    no_origin["origin"] = json!("https://shop.example/pay");
    let no_origin = sign(no_origin, "vault-client+jwt").await;
    let untyped = sign(
        shonin_vault::client_token::claims(
            &issuer,
            "shop",
            &origin,
            "ct_z",
            now,
            time::Duration::minutes(5),
        ),
        "JWT",
    )
    .await;
    // No token, a made-up one, an access token of ours, an expired client token, one for
    // another endpoint, one without the type: 401, with the bearer challenge.
    for (t, why) in [
        (None, "required"),
        (Some("e30.e30.e30"), "does not verify"),
        (Some(merchant.token.as_str()), "does not verify"),
        (Some(expired.as_str()), "expired"),
        (Some(wrong_aud.as_str()), "not for this endpoint"),
        (Some(foreign.as_str()), "not from this issuer"),
        (Some(no_origin.as_str()), "names no origin"),
        (Some(untyped.as_str()), "does not verify"),
    ] {
        let resp = post_card(&app, t, Some(ORIGIN), &card()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        assert!(
            resp.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_token");
        assert!(body["detail"].as_str().unwrap().contains(why), "{body}");
    }
    // A page of another origin: 403, and the browser may not read the answer.
    let resp = post_card(&app, Some(&token), Some("https://evil.example"), &card()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        resp.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert_eq!(body_json(resp).await["error"], "origin_not_allowed");
    // Bad cards, from the right origin: 400 that the page can read.
    let mut short_cvv = card();
    short_cvv["cvv"] = json!("12");
    let mut luhn = card();
    luhn["pan"] = json!("5555555555554445");
    for bad in [short_cvv, luhn, json!({"pan": PAN, "cvc": "737"})] {
        let resp = post_card(&app, Some(&token), Some(ORIGIN), &bad).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    }
    assert_eq!(failures(&app, "vault.nonce").await.len(), 12);
    assert_eq!(
        shonin_store::testing::raw_count(&app.state.store, "vault_nonces")
            .await
            .unwrap(),
        0
    );

    // Another client cannot exchange the merchant's nonce, and does not use it up.
    let resp = post_card(&app, Some(&token), Some(ORIGIN), &card()).await;
    let nonce = body_json(resp).await["nonce"].as_str().unwrap().to_owned();
    let thief = Bank::with_scope(&app, "thief", "vault").await;
    let (status, body) = exchange(&app, &thief, &nonce).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_nonce"))
    );
    let (status, body) = exchange(&app, &merchant, &nonce).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Malformed bodies.
    for bad in [json!({}), json!({"nonce": nonce, "x": 1}), json!(["nonce"])] {
        let (status, body) = merchant.post(&app, "/vault/nonces/exchange", &bad).await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_request"))
        );
    }
    // Client tokens only for well-formed origins, and only with the vault scope.
    for bad in [
        "https://shop.example/",
        "http://shop.example",
        "shop.example",
    ] {
        let (status, body) = merchant
            .post(&app, "/vault/client-tokens", &json!({"origin": bad}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let payments = Bank::new(&app, "payments-only").await;
    let (status, _) = payments
        .post(&app, "/vault/client-tokens", &json!({"origin": ORIGIN}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(failures(&app, "vault.client_token").await.len(), 4);
}

/// A client token issues `[vault] nonces_per_client_token` nonces (10 by default), then is
/// refused as a spent bearer token; a token the vault never issued a budget for is refused too.
#[tokio::test]
async fn a_client_token_issues_its_budget_of_nonces_and_no_more() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault").await;
    let token = client_token(&app, &merchant).await;
    let budget = app.state.config.vault.nonces_per_client_token;
    assert_eq!(budget, 10);
    for _ in 0..budget {
        let resp = post_card(&app, Some(&token), Some(ORIGIN), &card()).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let resp = post_card(&app, Some(&token), Some(ORIGIN), &card()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let body = body_json(resp).await;
    assert_eq!(body["error"], "invalid_token");
    assert!(
        body["detail"].as_str().unwrap().contains("all its nonces"),
        "{body}"
    );
    // A new client token has a budget of its own.
    let fresh = client_token(&app, &merchant).await;
    let resp = post_card(&app, Some(&fresh), Some(ORIGIN), &card()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Signed with the server's key but never issued by `POST /vault/client-tokens`: no budget.
    let claims = shonin_vault::client_token::claims(
        &app.state.config.issuer,
        "shop",
        &shonin_vault::WebOrigin::parse(ORIGIN).unwrap(),
        "ct_never_issued",
        app.state.clock.now(),
        time::Duration::minutes(5),
    );
    let unissued = shonin_keys::sign_jwt(
        app.state.keys.current_signer().as_ref(),
        "vault-client+jwt",
        &claims,
    )
    .await
    .unwrap();
    let resp = post_card(&app, Some(&unissued), Some(ORIGIN), &card()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let refused = failures(&app, "vault.nonce").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|r| r.starts_with("invalid_token")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_preflight_allows_only_what_the_post_needs() {
    let app = TestApp::new().await;
    let preflight = |origin: Option<&'static str>| {
        let mut req = Request::builder()
            .method(Method::OPTIONS)
            .uri("/vault/nonces")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            );
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        app.send(req.body(Body::empty()).unwrap())
    };
    let resp = preflight(Some(ORIGIN)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let h = resp.headers();
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "POST");
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "authorization, content-type"
    );
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    for origin in [None, Some("null"), Some("https://shop.example/x")] {
        let resp = preflight(origin).await;
        assert!(
            resp.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{origin:?}"
        );
    }
}

#[tokio::test]
async fn the_hosted_fields_page_is_framed_only_by_the_token_origin() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault").await;
    let token = client_token(&app, &merchant).await;
    let resp = app
        .get(&format!("/vault/hosted-fields?client_token={token}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains(&format!("frame-ancestors {ORIGIN};")), "{csp}");
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
    assert!(resp.headers().get(header::X_FRAME_OPTIONS).is_none());
    assert_eq!(resp.headers()[header::REFERRER_POLICY], "no-referrer");
    let html = body_text(resp).await;
    assert!(
        html.contains(&format!("data-origin=\"{ORIGIN}\"")),
        "{html}"
    );
    assert!(html.contains("autocomplete=\"cc-number\""));
    assert!(html.contains("/static/vault-fields.js"));

    // A forged, missing or repeated token: an error page (any HTTPS page may frame it), audited.
    for path in [
        "/vault/hosted-fields".to_owned(),
        format!("/vault/hosted-fields?client_token={}x", token),
        format!("/vault/hosted-fields?client_token={token}&client_token={token}"),
    ] {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors https:"), "{csp}");
        let html = body_text(resp).await;
        assert!(html.contains("This card form has expired"), "{html}");
        assert!(!html.contains("hf-pan"));
    }
    assert_eq!(failures(&app, "vault.hosted_fields").await.len(), 3);
}

/// Two nodes on one PostgreSQL database: the same nonce exchanged at once on both, many times
/// over, is exchanged exactly once.
#[tokio::test]
async fn concurrent_exchanges_on_two_nodes_have_one_winner() {
    let (_db, a, b) = common::two_nodes_on_postgres().await;
    let merchant_a = Bank::with_scope(&a, "shop", "vault").await;
    let token = client_token(&a, &merchant_a).await;
    for round in 0..5 {
        let mut body = card();
        body["exp_month"] = json!(1 + round);
        let resp = post_card(&b, Some(&token), Some(ORIGIN), &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let nonce = body_json(resp).await["nonce"].as_str().unwrap().to_owned();
        let tries = [&a, &b, &a, &b].map(|node| {
            let nonce = nonce.clone();
            let merchant = &merchant_a;
            async move { exchange(node, merchant, &nonce).await.0 }
        });
        let results = futures_util::future::join_all(tries).await;
        let won = results.iter().filter(|s| s.is_success()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .all(|s| s.is_success() || *s == StatusCode::BAD_REQUEST),
            "{results:?}"
        );
    }
}

#[test]
fn cvv_members_finds_named_codes_only() {
    assert_eq!(
        common::pci::cvv_members(br#"{"cvv":"737"}"#),
        vec![r#"cvv":"737"#]
    );
    assert_eq!(common::pci::cvv_members(b"CVC = 1234;"), vec!["CVC = 1234"]);
    assert!(common::pci::cvv_members(b"cvv_held_until 2026 737 x").is_empty());
    assert!(common::pci::cvv_members(br#"{"cvv":"73712"}"#).is_empty());
}
