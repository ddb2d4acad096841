//! The registered-client cache (`shonin_oauth::client::cache`) over a real store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shonin_oauth::client::cache::ClientCache;
use shonin_oauth::client::{Client, ClientId, ClientRegistration, ClientStore};
use shonin_store::testing::{TestEngine, with_fresh_store};
use std::time::Duration;

fn client(id: &str) -> Client {
    let mut reg = ClientRegistration::new(id, "Cached");
    reg.redirect_uris = vec!["https://rp.example/cb".into()];
    reg.jwks = Some(serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"}]}));
    shonin_oauth::client::validate(reg, time::OffsetDateTime::now_utc()).unwrap()
}

#[tokio::test]
async fn a_read_client_is_reused_within_the_ttl_and_unknown_ones_are_not_kept() {
    with_fresh_store(TestEngine::Sqlite, |store| async move {
        let cache = ClientCache::new(Duration::from_secs(300), vec!["openid".into()]);
        let uncached = ClientCache::new(Duration::ZERO, vec!["openid".into()]);
        let id = ClientId::try_from("c1").unwrap();
        // Unknown: not kept, so a client registered a moment later is found at once.
        assert!(cache.get(&store, &id).await.unwrap().is_none());
        store.create_client(&client("c1")).await.unwrap();
        assert!(cache.get(&store, &id).await.unwrap().is_some());
        // Removed in the store: the cache still answers within the TTL, a TTL of 0 does not.
        store.delete_client(&id).await.unwrap();
        assert!(cache.get(&store, &id).await.unwrap().is_some());
        assert!(uncached.get(&store, &id).await.unwrap().is_none());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_gets_only_the_scopes_the_server_still_grants() {
    with_fresh_store(TestEngine::Sqlite, |store| async move {
        let mut c = client("c2");
        c.scope = vec!["openid".into(), "accounts".into(), "payments".into()];
        store.create_client(&c).await.unwrap();
        let id = ClientId::try_from("c2").unwrap();
        for ttl in [Duration::ZERO, Duration::from_secs(300)] {
            let cache = ClientCache::new(ttl, vec!["openid".into(), "payments".into()]);
            for _ in 0..2 {
                let got = cache.get(&store, &id).await.unwrap().unwrap();
                assert_eq!(got.scope, ["openid", "payments"], "{ttl:?}");
            }
        }
    })
    .await
    .unwrap();
}
