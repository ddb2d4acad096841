//! The card vault's API (`/vault/cards`) through the HTTP surface: tokens per client, masked
//! reads, detokenization only with its own scope, every call audited without the number, and
//! nothing stored for a refused request. With `[keys.pkcs11]`, the same with the data keys
//! wrapped in SoftHSM2 and the tokens signed there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode, header};
use common::bank::Bank;
use common::{TestApp, body_json, failures};
use serde_json::{Value, json};
use shonin_keys::{KeySource, MacKey};

const PAN: &str = "4012888888881881";

fn card() -> Value {
    json!({"pan": "4012 8888 8888 1881", "exp_month": 12, "exp_year": 2030, "name": "Jane Doe"})
}

async fn call(
    app: &TestApp,
    who: &Bank,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value, Option<String>) {
    let resp = who.send(app, method, path, body).await;
    let status = resp.status();
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store", "{path}");
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = if status == StatusCode::NO_CONTENT {
        Value::Null
    } else {
        body_json(resp).await
    };
    (status, body, location)
}

#[tokio::test]
async fn tokenize_read_detokenize_and_delete() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault").await;
    let (status, made, location) =
        call(&app, &merchant, Method::POST, "/vault/cards", Some(&card())).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tok_"), "{made}");
    assert_eq!(
        location.as_deref(),
        Some(format!("/vault/cards/{token}").as_str())
    );
    assert_eq!(
        (&made["brand"], &made["first6"], &made["last4"]),
        (&json!("visa"), &json!("401288"), &json!("1881"))
    );
    assert!(
        made.get("pan").is_none() && made.get("name").is_none(),
        "{made}"
    );
    // The same number again: the same token, 200.
    let (status, again, _) =
        call(&app, &merchant, Method::POST, "/vault/cards", Some(&card())).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["token"], token.as_str());

    let path = format!("/vault/cards/{token}");
    let (status, shown, _) = call(&app, &merchant, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["last4"], "1881");
    assert!(shown.get("pan").is_none());

    // Detokenizing needs its own scope.
    let detok = format!("{path}/detokenize");
    let (status, refused, _) = call(&app, &merchant, Method::POST, &detok, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"], "insufficient_scope");
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e.record.action == "vault.detokenize"
                && e.record.outcome == shonin_audit::Outcome::Failure
                && e.record.actor.id == "shop"
                && e.record
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("insufficient_scope"))),
        "the refusal names the client"
    );

    // Another client with both scopes: the first one's card is not there for it.
    let other = Bank::with_scope(&app, "other", "vault vault:detokenize").await;
    for (method, p) in [
        (Method::GET, &path),
        (Method::POST, &detok),
        (Method::DELETE, &path),
    ] {
        let (status, body, _) = call(&app, &other, method, p, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    // The owner, granted detokenize, reads the number; the entry names the token.
    let owner = Bank::with_scope(&app, "shop-backend", "vault vault:detokenize").await;
    let (status, mine, _) = call(&app, &owner, Method::POST, "/vault/cards", Some(&card())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another tenant, another token: {mine}"
    );
    let own_token = mine["token"].as_str().unwrap();
    assert_ne!(own_token, token);
    let (status, full, _) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/vault/cards/{own_token}/detokenize"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["pan"], PAN);
    assert_eq!(full["name"], "Jane Doe");
    assert_eq!(full["exp_year"], 2030);
    let entries = app.audit_entries().await;
    let detokenized: Vec<_> = entries
        .iter()
        .filter(|e| {
            e.record.action == "vault.detokenize"
                && e.record.outcome == shonin_audit::Outcome::Success
        })
        .collect();
    assert_eq!(detokenized.len(), 1);
    assert_eq!(detokenized[0].record.target, own_token);
    assert_eq!(detokenized[0].record.actor.id, "shop-backend");
    assert!(
        entries.iter().any(|e| e.record.action == "vault.read"
            && e.record.outcome == shonin_audit::Outcome::Success
            && e.record.target == token),
        "the masked read is audited too"
    );

    // Deleted: 204, then gone.
    let (status, _, _) = call(&app, &merchant, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&app, &merchant, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // No card number in the audit log, nor in any file of the node (database, WAL, keys).
    let audit = serde_json::to_vec(&app.audit_entries().await).unwrap();
    assert_eq!(common::pci::card_numbers(&audit), Vec::<String>::new());
    app.state.store.close().await;
    let (files, found) = common::pci::scan_dir(app.dir.path());
    assert!(files > 0 && found.is_empty(), "{files} files: {found:?}");
}

#[tokio::test]
async fn bad_cards_and_bad_tokens_are_refused_and_store_nothing() {
    let app = TestApp::new().await;
    let merchant = Bank::with_scope(&app, "shop", "vault").await;
    let mut with_cvc = card();
    with_cvc["cvc"] = json!("123");
    let mut short_cvv = card();
    short_cvv["cvv"] = json!("12");
    let mut bad_luhn = card();
    bad_luhn["pan"] = json!("4012888888881882");
    let mut expired = card();
    expired["exp_year"] = json!(2020);
    let mut month = card();
    month["exp_month"] = json!(13);
    let cases = [
        (with_cvc, "invalid_request"),
        (short_cvv, "invalid_card"),
        (bad_luhn, "invalid_card"),
        (expired, "invalid_card"),
        (month, "invalid_card"),
        (json!({"pan": {"nested": [1]}}), "invalid_request"),
        (json!([1, 2]), "invalid_request"),
        (
            json!({"pan": "x".repeat(5000), "exp_month": 1, "exp_year": 2030}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let (status, refused, _) =
            call(&app, &merchant, Method::POST, "/vault/cards", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        assert_eq!(refused["error"], code, "{body}");
        let text = refused.to_string();
        assert!(!text.contains("4012888888881882"), "{text}");
    }
    assert_eq!(failures(&app, "vault.tokenize").await.len(), 8);
    let audit = serde_json::to_vec(&app.audit_entries().await).unwrap();
    assert_eq!(common::pci::card_numbers(&audit), Vec::<String>::new());
    let none = shonin_vault::VaultStore::vault_cards_not_under(
        &app.state.store,
        "-",
        app.state.clock.now(),
        10,
    )
    .await
    .unwrap();
    assert!(none.is_empty(), "nothing stored");
    // A malformed token and one that never existed answer alike.
    for path in [
        "/vault/cards/not-a-token",
        "/vault/cards/tok_AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, body, _) = call(&app, &merchant, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // A token without the vault scope is refused, and audited.
    let payments = Bank::new(&app, "payments-only").await;
    let (status, body, _) =
        call(&app, &payments, Method::POST, "/vault/cards", Some(&card())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// With `[keys.pkcs11]`: the access token is signed by the HSM's key (and verifies with the
/// published JWK set), the vault's data keys are wrapped by the HSM's KEK, the card's fingerprint
/// is the HSM's HMAC, and a KEK rotation in the HSM is followed by re-wrapping every record.
#[tokio::test]
async fn with_an_hsm_tokens_are_signed_and_data_keys_wrapped_in_it() {
    let hsm = shonin_testkit::softhsm::token().expect("a SoftHSM2 token");
    let pin_dir = tempfile::tempdir().unwrap();
    let pin_file = pin_dir.path().join("pin");
    std::fs::write(&pin_file, format!("{}\n", shonin_testkit::softhsm::PIN)).unwrap();
    let settings = shonin_server::config::Pkcs11Config {
        module: hsm.module.clone(),
        token_label: hsm.token_label.clone(),
        pin_file: Some(pin_file),
        signing_key_label: Some("server-signing".into()),
        kek_label: Some("server-kek".into()),
        mac_key_label: Some("server-mac".into()),
        sessions: 2,
        serialize_calls: true,
    };
    // The keys are made first, as an operator would with `shonin keys hsm-generate`.
    let setup = shonin_keys_pkcs11::Hsm::open_for_setup(
        shonin_server::keys::hsm_settings(&settings).unwrap(),
    )
    .unwrap();
    setup.generate_signing_key(1_800_000_000).unwrap();
    setup.generate_kek(1_800_000_000).unwrap();
    assert_eq!(setup.generate_mac_keys(1_800_000_000).unwrap().len(), 3);
    let app = TestApp::with(|c| c.keys.pkcs11 = Some(settings.clone())).await;
    assert_eq!(app.state.keys.signing_keystore(), "hsm");
    let hsm_kid = setup.current_signer().unwrap().kid_str().to_owned();
    assert_eq!(app.state.keys.current_signer().kid(), hsm_kid);

    let owner = Bank::with_scope(&app, "shop", "vault vault:detokenize").await;
    // The access token's header names the HSM key, and it verifies with /jwks.
    let header = shonin_jose::decode_header(&owner.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(hsm_kid.as_str()));
    let jwks = body_json(app.get("/jwks").await).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == hsm_kid.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        jwks["keys"][0]["kid"],
        hsm_kid.as_str(),
        "the HSM key leads"
    );
    shonin_jose::verify_jws_with_jwk(&owner.token, &jwk).unwrap();

    let (status, made, _) = call(&app, &owner, Method::POST, "/vault/cards", Some(&card())).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    let stored = shonin_vault::VaultStore::vault_card(
        &app.state.store,
        "shop",
        &token,
        app.state.clock.now(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        stored.sealed.kek_version.starts_with("pkcs11:server-kek:"),
        "{stored:?}"
    );
    // The fingerprint is the HSM key's HMAC of the number, not the master-derived key's.
    let in_hsm = setup
        .mac_key(shonin_keys::KeyPurpose::CardFingerprint)
        .unwrap();
    let hex = |mac: [u8; 32]| mac.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let fingerprint = hex(in_hsm.mac(PAN.as_bytes()).await.unwrap());
    assert_eq!(stored.fingerprint, fingerprint);
    let local = shonin_keys::LocalMacKey::derived(
        &shonin_server::runtime::master_key(&app.state.config).unwrap(),
        shonin_keys::KeyPurpose::CardFingerprint,
    );
    assert_ne!(
        stored.fingerprint,
        hex(local.mac(PAN.as_bytes()).await.unwrap())
    );
    let detok = format!("/vault/cards/{token}/detokenize");
    let (status, full, _) = call(&app, &owner, Method::POST, &detok, None).await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["pan"], PAN);

    // A new KEK in the HSM: new records go under it, old ones still open, and a re-wrap moves
    // every old one.
    setup.generate_kek(1_800_000_100).unwrap();
    assert!(app.state.keys.reload_if_changed().unwrap());
    let keks = app.state.keys.key_encryption_keys();
    assert_eq!(keks.len(), 3, "the local KEK, then the HSM's two");
    assert_eq!(keks[0].version(), "local:1");
    let (status, full, _) = call(&app, &owner, Method::POST, &detok, None).await;
    assert_eq!((status, &full["pan"]), (StatusCode::OK, &json!(PAN)));
    let moved = app
        .state
        .vault
        .rewrap(&keks, app.state.clock.now(), 100)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let stored = shonin_vault::VaultStore::vault_card(
        &app.state.store,
        "shop",
        &token,
        app.state.clock.now(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stored.sealed.kek_version, keks[2].version());
    let (status, full, _) = call(&app, &owner, Method::POST, &detok, None).await;
    assert_eq!((status, &full["pan"]), (StatusCode::OK, &json!(PAN)));
}
