//! The client registry port: create, duplicate, get, list, update, delete.

use crate::suite::T0;
use serde_json::json;
use shonin_oauth::client::{
    Client, ClientId, ClientJwks, ClientStore, GrantType, TokenEndpointAuthMethod,
};
use shonin_store::Store;
use shonin_types::StorageError;
use time::Duration;

contract_tests! {
    create_then_get_round_trips_every_field,
    duplicate_client_id_is_a_conflict,
    missing_client_is_none,
    list_is_ordered_by_client_id,
    update_replaces_data_and_keeps_created_at,
    update_of_a_missing_client_is_false,
    delete_removes_the_client_once,
}

/// A client as `validate` would make it (the store does not re-validate).
pub fn sample_client(id: &str) -> Client {
    Client {
        client_id: ClientId::try_from(id).unwrap(),
        client_name: format!("Client {id} <&> 'quoted'"),
        redirect_uris: vec![
            format!("https://{id}.example/cb"),
            "http://127.0.0.1:8080/cb".into(),
        ],
        jwks: ClientJwks::Inline(
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"}]}),
        ),
        token_endpoint_auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
        dpop_bound_access_tokens: true,
        tls_client_certificate_bound_access_tokens: true,
        tls_client_auth_subject: None,
        pinned_certificates: vec!["ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0".into()],
        revoked_certificates: Vec::new(),
        require_dpop_nonce: true,
        scope: vec!["openid".into(), "accounts".into()],
        authorization_details_types: vec!["payment_initiation".into()],
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::Ciba,
        ],
        native_loopback_redirects: true,
        backchannel_token_delivery_mode: Some(shonin_oauth::ciba::DeliveryMode::Ping),
        backchannel_client_notification_endpoint: Some(format!("https://{id}.example/ciba")),
        created_at: T0,
        updated_at: T0,
    }
}

fn id(s: &str) -> ClientId {
    ClientId::try_from(s).unwrap()
}

async fn create_then_get_round_trips_every_field(store: &Store) {
    let c = sample_client("bank-app");
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client(&id("bank-app")).await.unwrap(), Some(c));

    let mut by_uri = sample_client("by-uri");
    by_uri.jwks = ClientJwks::Uri("https://by-uri.example/jwks.json".into());
    by_uri.grant_types = vec![GrantType::ClientCredentials];
    by_uri.created_at = T0 + Duration::microseconds(123_456);
    by_uri.updated_at = T0 + Duration::seconds(5);
    store.create_client(&by_uri).await.unwrap();
    assert_eq!(store.get_client(&id("by-uri")).await.unwrap(), Some(by_uri));
}

async fn duplicate_client_id_is_a_conflict(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    let mut other = sample_client("c1");
    other.client_name = "Impostor".into();
    let err = store.create_client(&other).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let stored = store.get_client(&id("c1")).await.unwrap().unwrap();
    assert_eq!(stored, sample_client("c1"));
}

async fn missing_client_is_none(store: &Store) {
    assert_eq!(store.get_client(&id("nobody")).await.unwrap(), None);
    assert!(store.list_clients().await.unwrap().is_empty());
}

async fn list_is_ordered_by_client_id(store: &Store) {
    for c in ["zeta", "alpha", "mid"] {
        store.create_client(&sample_client(c)).await.unwrap();
    }
    let ids: Vec<String> = store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id.into_string())
        .collect();
    assert_eq!(ids, ["alpha", "mid", "zeta"]);
}

async fn update_replaces_data_and_keeps_created_at(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    let mut changed = sample_client("c1");
    changed.client_name = "Renamed".into();
    changed.redirect_uris = vec!["https://new.example/cb".into()];
    changed.require_dpop_nonce = false;
    changed.updated_at = T0 + Duration::hours(1);
    // A caller that forgot to carry created_at over cannot rewrite it.
    changed.created_at = T0 + Duration::hours(1);
    assert!(store.update_client(&changed).await.unwrap());
    let stored = store.get_client(&id("c1")).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Client {
            created_at: T0,
            ..changed
        }
    );
}

async fn update_of_a_missing_client_is_false(store: &Store) {
    assert!(!store.update_client(&sample_client("ghost")).await.unwrap());
    assert_eq!(store.get_client(&id("ghost")).await.unwrap(), None);
}

async fn delete_removes_the_client_once(store: &Store) {
    store.create_client(&sample_client("c1")).await.unwrap();
    store.create_client(&sample_client("c2")).await.unwrap();
    assert!(store.delete_client(&id("c1")).await.unwrap());
    assert!(!store.delete_client(&id("c1")).await.unwrap());
    assert_eq!(store.get_client(&id("c1")).await.unwrap(), None);
    assert!(store.get_client(&id("c2")).await.unwrap().is_some());
    // The id is free again.
    store.create_client(&sample_client("c1")).await.unwrap();
}
