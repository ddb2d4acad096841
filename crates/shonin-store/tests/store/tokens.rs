//! The issued-token port: insert, get (expired and revoked included), revoke, revoke a whole
//! grant, sweep, and records leaving with their client.

use crate::clients::sample_client;
use crate::suite::T0;
use serde_json::json;
use shonin_oauth::client::{ClientId, ClientStore};
use shonin_oauth::token_record::{TokenKind, TokenRecord, TokenStore, token_hash};
use shonin_store::Store;
use shonin_store::testing::raw_execute;
use shonin_types::StorageError;
use time::Duration;

contract_tests! {
    insert_then_get_round_trips_every_field,
    duplicate_hash_or_unknown_client_is_a_conflict,
    expired_and_revoked_records_are_still_returned,
    revoke_token_revokes_once,
    revoke_grant_revokes_only_that_grant,
    shorten_token_only_brings_expiry_forward_and_keeps_revocation,
    sweep_deletes_records_a_day_after_expiry,
    sweep_deletes_more_records_than_one_of_its_transactions_holds,
    deleting_a_client_deletes_its_token_records,
    the_client_index_orders_records_by_issue_time,
    records_keyed_before_the_time_prefix_are_rekeyed_by_the_migration,
}

fn record(token: &str, grant: &str, expires_in: Duration) -> TokenRecord {
    TokenRecord {
        token_hash: token_hash(token),
        kind: TokenKind::Refresh,
        client_id: ClientId::try_from("c1").unwrap(),
        subject: None,
        grant_id: grant.into(),
        scope: String::new(),
        authorization_details: None,
        cnf_jkt: None,
        cnf_x5t_s256: None,
        issued_at: T0,
        expires_at: T0 + expires_in,
        revoked_at: None,
    }
}

async fn with_clients(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    store.create_client(&sample_client("c2")).await.unwrap();
}

async fn insert_then_get_round_trips_every_field(store: &Store) {
    with_clients(store).await;
    let full = TokenRecord {
        token_hash: token_hash("eyJhbGciOiJFUzI1NiJ9.payload.sig"),
        kind: TokenKind::Access,
        client_id: ClientId::try_from("c2").unwrap(),
        subject: Some("6f1c2b1e-8f0b-4c1e-9a53-2f7d8c1b0a11".into()),
        grant_id: "grant-1".into(),
        scope: "openid payments".into(),
        authorization_details: Some(json!([{
            "type": "payment_initiation",
            "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorName": "Merchant <&> 'A'"
        }])),
        cnf_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        cnf_x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into()),
        issued_at: T0 + Duration::microseconds(1),
        expires_at: T0 + Duration::minutes(5),
        revoked_at: Some(T0 + Duration::seconds(30)),
    };
    store.insert_token(&full).await.unwrap();
    let minimal = record("refresh-1", "grant-1", Duration::days(30));
    store.insert_token(&minimal).await.unwrap();
    assert_eq!(store.get_token(&full.token_hash).await.unwrap(), Some(full));
    assert_eq!(
        store.get_token(&minimal.token_hash).await.unwrap(),
        Some(minimal)
    );
    assert_eq!(store.get_token(&token_hash("other")).await.unwrap(), None);
}

async fn duplicate_hash_or_unknown_client_is_a_conflict(store: &Store) {
    with_clients(store).await;
    store
        .insert_token(&record("t", "g", Duration::minutes(5)))
        .await
        .unwrap();
    let err = store
        .insert_token(&record("t", "other", Duration::minutes(9)))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let mut orphan = record("u", "g", Duration::minutes(5));
    orphan.client_id = ClientId::try_from("no-such-client").unwrap();
    let err = store.insert_token(&orphan).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
}

async fn expired_and_revoked_records_are_still_returned(store: &Store) {
    with_clients(store).await;
    let r = record("t", "g", Duration::minutes(5));
    store.insert_token(&r).await.unwrap();
    let later = T0 + Duration::hours(2);
    assert!(store.revoke_token(&r.token_hash, later).await.unwrap());
    let got = store.get_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(later));
    assert!(!got.is_active(T0));
}

async fn revoke_token_revokes_once(store: &Store) {
    with_clients(store).await;
    let r = record("t", "g", Duration::minutes(5));
    store.insert_token(&r).await.unwrap();
    let at = T0 + Duration::seconds(10);
    assert!(store.revoke_token(&r.token_hash, at).await.unwrap());
    assert!(
        !store
            .revoke_token(&r.token_hash, at + Duration::seconds(1))
            .await
            .unwrap()
    );
    let got = store.get_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(at), "the first revocation time stands");
    assert!(!store.revoke_token(&token_hash("none"), at).await.unwrap());
}

async fn shorten_token_only_brings_expiry_forward_and_keeps_revocation(store: &Store) {
    with_clients(store).await;
    let r = record("t", "g", Duration::minutes(5));
    store.insert_token(&r).await.unwrap();
    let until = T0 + Duration::seconds(60);
    assert!(store.shorten_token(&r.token_hash, until).await.unwrap());
    let got = store.get_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!(got.expires_at, until);
    assert_eq!(got.revoked_at, None, "shortening is not revocation");
    assert!(got.is_active(T0));
    assert!(!got.is_active(until));
    // Never extends: a later `until` leaves the expiry alone.
    let later = T0 + Duration::minutes(10);
    assert!(!store.shorten_token(&r.token_hash, later).await.unwrap());
    assert!(!store.shorten_token(&r.token_hash, until).await.unwrap());
    let got = store.get_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!(got.expires_at, until);
    // A shortened token can still be revoked, and a revoked token is not shortened.
    let at = T0 + Duration::seconds(10);
    assert!(store.revoke_token(&r.token_hash, at).await.unwrap());
    assert!(
        !store
            .shorten_token(&r.token_hash, T0 + Duration::seconds(20))
            .await
            .unwrap()
    );
    let got = store.get_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!((got.expires_at, got.revoked_at), (until, Some(at)));
    // Likewise through the grant.
    let s = record("s", "g2", Duration::minutes(5));
    store.insert_token(&s).await.unwrap();
    assert!(store.shorten_token(&s.token_hash, until).await.unwrap());
    assert_eq!(store.revoke_grant("g2", at).await.unwrap(), 1);
    let got = store.get_token(&s.token_hash).await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(at));
    assert!(
        !store
            .shorten_token(&token_hash("none"), until)
            .await
            .unwrap()
    );
}

async fn revoke_grant_revokes_only_that_grant(store: &Store) {
    with_clients(store).await;
    for t in ["a1", "a2", "a3"] {
        store
            .insert_token(&record(t, "grant-a", Duration::minutes(5)))
            .await
            .unwrap();
    }
    store
        .insert_token(&record("b1", "grant-b", Duration::minutes(5)))
        .await
        .unwrap();
    let early = T0 + Duration::seconds(1);
    assert!(store.revoke_token(&token_hash("a3"), early).await.unwrap());

    let at = T0 + Duration::seconds(20);
    assert_eq!(store.revoke_grant("grant-a", at).await.unwrap(), 2);
    assert_eq!(store.revoke_grant("grant-a", at).await.unwrap(), 0);
    assert_eq!(store.revoke_grant("grant-none", at).await.unwrap(), 0);
    for (t, revoked) in [
        ("a1", Some(at)),
        ("a2", Some(at)),
        ("a3", Some(early)),
        ("b1", None),
    ] {
        let got = store.get_token(&token_hash(t)).await.unwrap().unwrap();
        assert_eq!(got.revoked_at, revoked, "{t}");
    }
}

async fn sweep_deletes_records_a_day_after_expiry(store: &Store) {
    with_clients(store).await;
    let short = record("short", "g", Duration::minutes(5));
    let long = record("long", "g", Duration::days(2));
    let mut revoked = record("revoked", "g", Duration::days(2));
    revoked.revoked_at = Some(T0);
    for r in [&short, &long, &revoked] {
        store.insert_token(r).await.unwrap();
    }
    let short_gone = T0 + Duration::minutes(5);
    assert_eq!(
        store
            .sweep_tokens(short_gone - Duration::microseconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.sweep_tokens(short_gone).await.unwrap(), 1);
    assert_eq!(store.get_token(&short.token_hash).await.unwrap(), None);
    // Revoked but unexpired records stay: they are what says the token is revoked.
    assert!(
        store
            .get_token(&revoked.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.sweep_tokens(T0 + Duration::days(2)).await.unwrap(), 2);
}

async fn sweep_deletes_more_records_than_one_of_its_transactions_holds(store: &Store) {
    with_clients(store).await;
    let live = record("live", "g", Duration::days(30));
    store.insert_token(&live).await.unwrap();
    // 10,000 expired records: the sweep deletes them over several transactions.
    let t0 = T0.unix_timestamp() * 1_000_000;
    let columns = "token_hash, kind, client_id, grant_id, scope, issued_at, expires_at";
    let insert = match store.engine() {
        "sqlite" => format!(
            "INSERT INTO oauth_tokens ({columns}) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
             SELECT randomblob(32), 'access', 'c1', 'g', '', {t0}, {t0} FROM n"
        ),
        _ => format!(
            "INSERT INTO oauth_tokens ({columns}) \
             SELECT sha256(int4send(i)), 'access', 'c1', 'g', '', {t0}, {t0} \
             FROM generate_series(1, 10000) AS i"
        ),
    };
    assert_eq!(raw_execute(store, &insert).await.unwrap(), 10_000);
    assert_eq!(
        store.sweep_tokens(T0 + Duration::days(1)).await.unwrap(),
        10_000
    );
    assert_eq!(store.sweep_tokens(T0 + Duration::days(1)).await.unwrap(), 0);
    assert!(store.get_token(&live.token_hash).await.unwrap().is_some());
}

async fn deleting_a_client_deletes_its_token_records(store: &Store) {
    with_clients(store).await;
    let mine = record("mine", "g1", Duration::minutes(5));
    let mut theirs = record("theirs", "g2", Duration::minutes(5));
    theirs.client_id = ClientId::try_from("c2").unwrap();
    store.insert_token(&mine).await.unwrap();
    store.insert_token(&theirs).await.unwrap();
    assert!(
        store
            .delete_client(&ClientId::try_from("c1").unwrap())
            .await
            .unwrap()
    );
    assert_eq!(store.get_token(&mine.token_hash).await.unwrap(), None);
    assert!(store.get_token(&theirs.token_hash).await.unwrap().is_some());
}

/// Migration 0006: the client's records are indexed by (client_id, issued_at), so an issue adds
/// to the end of its client's range instead of a random place ordered by the token hash.
async fn the_client_index_orders_records_by_issue_time(store: &Store) {
    let drop = |name: &str| format!("DROP INDEX {name}");
    raw_execute(store, &drop("oauth_tokens_client_issued"))
        .await
        .unwrap();
    assert!(
        raw_execute(store, &drop("oauth_tokens_client_id"))
            .await
            .is_err(),
        "the random-ordered client index is gone"
    );
}

/// Migration 0008 (SQLite) / 0007 (PostgreSQL): records stored under the old key, the token's
/// whole SHA-256, are found under `token_hash` afterwards: an access token's by the `iat` its
/// record's issued_at was taken from, a refresh token's under the zero time.
async fn records_keyed_before_the_time_prefix_are_rekeyed_by_the_migration(store: &Store) {
    use aws_lc_rs::digest::{SHA256, digest};
    with_clients(store).await;
    let payload = shonin_jose::b64url_encode(
        format!(r#"{{"iss":"i","iat":{}}}"#, T0.unix_timestamp()).as_bytes(),
    );
    let jwt = format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln");
    let old_key = |token: &str| -> [u8; 32] {
        digest(&SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .unwrap()
    };
    let mut access = record(&jwt, "g1", Duration::minutes(5));
    access.kind = TokenKind::Access;
    // Sub-second issue times keep the second their JWT's iat names.
    access.issued_at = T0 + Duration::milliseconds(999);
    access.token_hash = old_key(&jwt);
    let mut refresh = record("opaque-refresh", "g1", Duration::days(30));
    refresh.token_hash = old_key("opaque-refresh");
    store.insert_token(&access).await.unwrap();
    store.insert_token(&refresh).await.unwrap();

    let migration = match store.engine() {
        "sqlite" => include_str!("../../migrations/sqlite/0008_token_keys.sql"),
        _ => include_str!("../../migrations/postgres/0007_token_keys.sql"),
    };
    assert_eq!(raw_execute(store, migration).await.unwrap(), 2);
    for (token, before) in [(jwt.as_str(), access), ("opaque-refresh", refresh)] {
        let got = store.get_token(&token_hash(token)).await.unwrap();
        let expected = TokenRecord {
            token_hash: token_hash(token),
            ..before.clone()
        };
        assert_eq!(got, Some(expected), "{token:.30}");
        assert_eq!(store.get_token(&before.token_hash).await.unwrap(), None);
    }
}
