//! The bank's backend on the transactions API (`/transactions`): a client with the
//! `transactions` scope and its DPoP-bound token, and the payment the tests create.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::oauth::*;
use super::{TestApp, body_json};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

/// A client of the bank's own with the `transactions` scope, and its DPoP-bound token.
pub struct Bank {
    pub client: TestClient,
    pub token: String,
}

impl Bank {
    pub async fn new(app: &TestApp, id: &str) -> Bank {
        Self::with_scope(app, id, "transactions").await
    }

    /// A client registered for `scope` (space-separated) with a token for all of it.
    pub async fn with_scope(app: &TestApp, id: &str, scope: &str) -> Bank {
        let client = TestClient::new(id);
        client
            .register(app, |r| r.scope.extend(scope.split(' ').map(str::to_owned)))
            .await;
        let url = format!("{ISSUER}/token");
        let mut pairs = vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("scope".into(), scope.into()),
        ];
        pairs.extend(client.auth_params().await);
        let proof = client.proof("POST", &url, None).await;
        let resp = send_form(app, "/token", &pairs, &[("dpop", proof)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let token = body_json(resp).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        Bank { client, token }
    }

    /// `method path` with a fresh DPoP proof and `body` as JSON (none for GET).
    pub async fn send(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response<Body> {
        let url = format!("{ISSUER}{path}");
        let proof = self
            .client
            .proof(method.as_str(), &url, Some(&self.token))
            .await;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("DPoP {}", self.token))
            .header("dpop", proof);
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        app.send(req.unwrap()).await
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self.send(app, Method::POST, path, Some(body)).await;
        (resp.status(), body_json(resp).await)
    }

    pub async fn create(&self, app: &TestApp, user_id: &str) -> String {
        let (status, v) = self.post(app, "/transactions", &new_txn(user_id)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Creates a transaction and asks for its challenge; returns the id and the options.
    pub async fn challenged(&self, app: &TestApp, user_id: &str) -> (String, Value) {
        let id = self.create(app, user_id).await;
        let (status, v) = self
            .post(app, &format!("/transactions/{id}/challenge"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        (id, v["options"].clone())
    }

    pub async fn approve(&self, app: &TestApp, id: &str, assertion: &Value) -> (StatusCode, Value) {
        self.post(
            app,
            &format!("/transactions/{id}/approve"),
            &json!({"assertion": assertion}),
        )
        .await
    }
}

pub fn terms() -> Value {
    json!({
        "payee": {"name": "Acme GmbH", "account": {"iban": "DE89 3704 0044 0532 0130 00"}},
        "amount": {"value": "123.5", "currency": "EUR"},
        "reference": "Invoice 42",
    })
}

pub fn new_txn(user_id: &str) -> Value {
    let mut v = terms();
    v["user_id"] = json!(user_id);
    v
}
