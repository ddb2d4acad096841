//! What transaction signing leaves behind for others: the approval's audit entry names its
//! receipt by SHA-256 and `shonin audit export` carries the receipt beside it; a lock sends
//! the operator a signed `transaction.locked` alert; the approval page says how many attempts
//! are left and when the payment is locked (PSD2 RTS Art. 4(4)).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::bank::*;
use common::oauth::*;
use common::passkey::*;
use common::webhook::*;
use common::{TestApp, body_json};
use serde_json::{Value, json};
use shonin_audit::Outcome;
use shonin_txn::receipt;

const BIN: &str = env!("CARGO_BIN_EXE_shonin");

/// `shonin --dev --data-dir <app's dir> audit export`, run as the real binary on the test
/// app's SQLite database: its lines and its standard error.
fn cli_export(app: &TestApp) -> (Vec<Value>, String) {
    let out = std::process::Command::new(BIN)
        .current_dir(app.dir.path())
        .arg("--dev")
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(["audit", "export"])
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr)
}

/// A user with a passkey, the bank, and one transaction approved through the API: its id and
/// receipt.
async fn approved(app: &TestApp) -> (String, String) {
    let (user, mut auth) = enrolled(app, "alice").await;
    let bank = Bank::new(app, "bank-app").await;
    let (id, options) = bank.challenged(app, &user.id).await;
    let assertion = auth.authenticate(&options, ISSUER).unwrap();
    let (status, v) = bank.approve(app, &id, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (id, v["approval"]["receipt"].as_str().unwrap().to_owned())
}

/// The digest an approval's line names in its `reason`.
fn named_digest(line: &Value) -> &str {
    receipt::digest_in_reason(line["reason"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_approval_entry_names_its_receipt_and_the_export_carries_it() {
    let app = TestApp::new().await;
    let (id, issued) = approved(&app).await;

    // The chained entry commits to the receipt by its SHA-256.
    let entry = app
        .audit_entries()
        .await
        .into_iter()
        .find(|e| e.record.action == "txn.approve" && e.record.outcome == Outcome::Success)
        .unwrap();
    assert_eq!(entry.record.target, id);
    assert_eq!(
        entry.record.reason.as_deref(),
        Some(receipt::audit_reason(&issued).as_str())
    );

    let (lines, stderr) = cli_export(&app);
    assert!(stderr.contains("with 1 receipts"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let with_receipt: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("receipt").is_some())
        .collect();
    assert_eq!(with_receipt.len(), 1, "only the approval's line");
    let line = with_receipt[0];
    assert_eq!(
        (line["action"].as_str(), line["target"].as_str()),
        (Some("txn.approve"), Some(id.as_str()))
    );
    assert_eq!(line["hash"], shonin_audit::chain::to_hex(&entry.hash));
    // The auditor's check (docs/operations.md): the receipt's SHA-256 is the digest the
    // chained entry names, and the receipt verifies with the server's public keys.
    let exported = line["receipt"].as_str().unwrap();
    assert_eq!(exported, issued);
    assert_eq!(receipt::digest_hex(exported), named_digest(line));
    let jwks = shonin_keys::KeySource::verification_jwks(&app.state.keys);
    let claims = receipt::verify(exported, &jwks).unwrap();
    assert_eq!(claims.txn.id, id);
    // `shonin txn verify` takes the exported line as it is.
    let keys = app.path("keys.json");
    std::fs::write(&keys, jwks.to_string()).unwrap();
    let saved = app.path("line.json");
    std::fs::write(&saved, line.to_string()).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--dev")
        .arg("--data-dir")
        .arg(app.dir.path())
        .arg("txn")
        .arg("verify")
        .arg(&saved)
        .arg("--jwks")
        .arg(&keys)
        .env_remove("SHONIN_CONFIG")
        .current_dir(app.dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.lines().next() == Some(&format!("receipt holds: transaction {id}")),
        "{printed}"
    );
    // The entry without the extra member is the entry as sealed: its hash still holds.
    let mut bare = line.clone();
    bare.as_object_mut().unwrap().remove("receipt");
    let sealed: shonin_audit::SealedEntry = serde_json::from_value(bare).unwrap();
    assert_eq!(sealed, entry);

    // One character changed in the exported receipt: it no longer matches the entry (nor its
    // signature).
    let i = exported.len() / 2;
    let swapped = if exported.as_bytes()[i] == b'A' {
        "B"
    } else {
        "A"
    };
    let changed = format!("{}{swapped}{}", &exported[..i], &exported[i + 1..]);
    assert_ne!(receipt::digest_hex(&changed), named_digest(line));
    assert!(receipt::verify(&changed, &jwks).is_err());
}

#[tokio::test]
async fn a_receipt_changed_in_storage_is_exported_as_stored_and_counted() {
    let app = TestApp::new().await;
    let (id, issued) = approved(&app).await;
    // Someone with write access to the database puts another (still well-formed) JWS there.
    let forged = format!("{issued}x");
    let url = format!("sqlite:{}", app.path("shonin.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE txn_receipts SET receipt = ? WHERE txn_id = ?")
        .bind(&forged)
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let mut out = Vec::new();
    let (n, tally) = shonin_txn::receipt_export::export(&app.state.store, 1, &mut out)
        .await
        .unwrap();
    assert!(n > 0);
    assert_eq!((tally.matching, tally.mismatched, tally.missing), (0, 1, 0));
    let line: Value = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l.get("receipt").is_some())
        .unwrap();
    assert_eq!(line["receipt"], forged.as_str());
    assert_ne!(receipt::digest_hex(&forged), named_digest(&line));
    // The command says so.
    let (_, stderr) = cli_export(&app);
    assert!(
        stderr.contains("warning: 1 receipts differ from the digest"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_lock_sends_one_signed_transaction_locked_alert() {
    let (port, mut hooks) = webhook_receiver().await;
    let secret = "an-operator-secret-of-at-least-32-bytes!";
    let app = TestApp::with(|c| {
        alerts_to(c, port, secret);
        c.transactions.max_attempts = 3;
    })
    .await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let good = auth.authenticate(&options, ISSUER).unwrap();
    let mut bad = good.clone();
    bad["response"]["signature"] = json!("MEUCIQ");
    for left in [2, 1] {
        let (status, v) = bank.approve(&app, &id, &bad).await;
        assert_eq!(
            (status, v["attempts_left"].as_u64()),
            (StatusCode::FORBIDDEN, Some(left))
        );
    }
    assert!(
        no_alert_within(&mut hooks, 300).await,
        "no alert before the lock"
    );
    // The third refusal locks it, and the answer does not wait for the webhook.
    let (status, v) = bank.approve(&app, &id, &bad).await;
    assert_eq!(
        (status, v["attempts_left"].as_u64()),
        (StatusCode::FORBIDDEN, Some(0))
    );
    let alert = next_signed_alert(&mut hooks, secret).await;
    assert_eq!(alert["event"], "transaction.locked");
    assert_eq!(alert["issuer"], ISSUER);
    assert_eq!(alert["user_id"], user.id.as_str());
    assert_eq!(alert["client_id"], "bank-app");
    assert_eq!(alert["transaction_id"], id.as_str());
    assert_eq!(alert["attempts"], 3);
    let time = alert["time"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{time}"
    );
    // Once per lock: tries on the locked transaction send nothing more.
    for assertion in [&bad, &good] {
        let (status, v) = bank.approve(&app, &id, assertion).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::CONFLICT, Some("transaction_locked"))
        );
    }
    assert!(no_alert_within(&mut hooks, 500).await, "one alert per lock");
    assert_eq!(
        delivery_audited(&app, &id).await.as_deref(),
        Some("transaction.locked: HTTP 204")
    );
}

#[tokio::test]
async fn without_a_webhook_a_lock_is_answered_and_audited_as_before() {
    let app = TestApp::with(|c| c.transactions.max_attempts = 1).await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let (id, options) = bank.challenged(&app, &user.id).await;
    let mut bad = auth.authenticate(&options, ISSUER).unwrap();
    bad["response"]["signature"] = json!("MEUCIQ");
    let (status, v) = bank.approve(&app, &id, &bad).await;
    assert_eq!(
        (status, v["attempts_left"].as_u64()),
        (StatusCode::FORBIDDEN, Some(0))
    );
    assert!(
        common::failures(&app, "txn.approve")
            .await
            .iter()
            .any(|r| r.ends_with("; locked"))
    );
    assert!(
        !app.audit_entries()
            .await
            .iter()
            .any(|e| e.record.action == "alert.webhook")
    );
}

/// The approval page of `id` for browser `b`, in `lang`.
async fn page(app: &TestApp, b: &Browser, id: &str, lang: &str) -> String {
    let resp = app
        .send(
            Request::get(format!("/approve/{id}"))
                .header(header::ACCEPT_LANGUAGE, lang)
                .header(header::COOKIE, b.cookies())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    common::body_text(resp).await
}

#[tokio::test]
async fn the_approval_page_says_how_many_attempts_are_left_and_when_it_is_locked() {
    let app = TestApp::new().await;
    let (user, mut auth) = enrolled(&app, "alice").await;
    let bank = Bank::new(&app, "bank-app").await;
    let id = bank.create(&app, &user.id).await;
    let mut b = browser(&app).await;
    assert_eq!(
        password_sign_in(&app, &mut b, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    // The script has the messages in the page's language; nothing is shown before a failure.
    let html = page(&app, &b, &id, "en").await;
    assert!(
        html.contains("data-attempts-left=\"The approval failed. Attempts left before this payment is locked: {n}.\""),
        "{html}"
    );
    assert!(html.contains("data-last-attempt=\"The approval failed. One attempt is left"));
    assert!(html.contains("data-locked=\"Too many failed attempts: this payment is locked.\""));
    assert!(html.contains("id=\"approve-error\" hidden"), "{html}");
    let html = page(&app, &b, &id, "ja").await;
    assert!(html.contains("あと{n}回試せます"), "{html}");

    let path = format!("/approve/{id}");
    let options = body_json(call(&app, &b, &format!("{path}/options"), &json!({})).await).await;
    let mut bad = auth.authenticate(&options["options"], ISSUER).unwrap();
    bad["response"]["signature"] = json!("MEUCIQ");
    // The refusals the script reads: 403 approval_refused with attempts_left.
    for left in [4, 3, 2] {
        let resp = call(&app, &b, &path, &json!({"assertion": bad})).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let v = body_json(resp).await;
        assert_eq!(
            (v["error"].as_str(), v["attempts_left"].as_u64()),
            (Some("approval_refused"), Some(left))
        );
    }
    // A reload says it too, before the last attempts.
    let html = page(&app, &b, &id, "en").await;
    assert!(
        html.contains("Attempts left before this payment is locked: 2.</p>"),
        "{html}"
    );
    call(&app, &b, &path, &json!({"assertion": bad})).await;
    let html = page(&app, &b, &id, "en").await;
    assert!(
        html.contains(">The approval failed. One attempt is left: if it fails too, this payment is locked.</p>"),
        "{html}"
    );
    let html = page(&app, &b, &id, "ja").await;
    assert!(html.contains("残りは1回です。"), "{html}");
    // The last one locks it: the answer says 0 left, and the page says plainly it is locked.
    let resp = call(&app, &b, &path, &json!({"assertion": bad})).await;
    assert_eq!(body_json(resp).await["attempts_left"], 0);
    let html = page(&app, &b, &id, "en").await;
    assert!(
        html.contains("Too many failed attempts: this payment is locked."),
        "{html}"
    );
    assert!(!html.contains("id=\"approve-passkey\""));
    // A later try (as from a page left open) is 409 transaction_locked.
    let resp = call(&app, &b, &format!("{path}/options"), &json!({})).await;
    assert_eq!(body_json(resp).await["error"], "transaction_locked");
}
