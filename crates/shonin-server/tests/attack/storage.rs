//! What an attacker who fills the disk, or reads the data directory, gets.

use crate::common::TestApp;
use crate::common::oauth::*;
use axum::http::StatusCode;
use shonin_store::Store;
use shonin_store::testing::raw_execute;

#[tokio::test]
async fn readiness_fails_while_writes_fail_and_recovers_with_them() {
    let app = TestApp::new().await;
    if !matches!(app.state.store, Store::Sqlite(_)) {
        return;
    }
    let c = TestClient::new("ready-probe");
    c.register(&app, |_| {}).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    // Every audit append fails, as on a full disk; reads still work.
    raw_execute(
        &app.state.store,
        "CREATE TRIGGER disk_full BEFORE INSERT ON audit_entries \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .await
    .unwrap();
    let resp = client_credentials(&app, &c).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    raw_execute(&app.state.store, "DROP TRIGGER disk_full;")
        .await
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let recovered = app
        .audit_entries()
        .await
        .iter()
        .filter(|e| e.record.action == "storage.writes_recovered")
        .count();
    assert_eq!(recovered, 1, "recovery is written once");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_readable_by_the_server_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::new().await;
    if !matches!(app.state.store, Store::Sqlite(_)) {
        return;
    }
    // Write something so the WAL and shared-memory files exist.
    crate::common::oauth::add_user(&app, "perm-check").await;
    let mut checked = 0;
    for entry in std::fs::read_dir(app.path("")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains(".db") && !name.contains(".sqlite") {
            continue;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
        checked += 1;
    }
    assert!(checked >= 2, "found the database and its WAL");
}
