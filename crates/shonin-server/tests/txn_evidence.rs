//! What transaction signing leaves behind for others: the approval's audit entry names its
//! receipt by SHA-256 and `shonin audit export` carries the receipt beside it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::StatusCode;
use common::TestApp;
use common::bank::*;
use common::oauth::*;
use common::passkey::*;
use serde_json::Value;
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
    let (n, tally) = shonin_server::txn::receipt_export::export(&app.state.store, 1, &mut out)
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
