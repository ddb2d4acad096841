//! `flow --kind approval`: transaction approvals per second through the first-party API, as a
//! bank's backend and its user's device would run them: POST /transactions → POST
//! /transactions/{id}/challenge → the passkey signs the challenge (`shonin-testkit`'s software
//! authenticator, enrolled once through the account page) → POST /transactions/{id}/approve →
//! POST /transactions/{id}/execute with the approved terms. Every call carries the backend's
//! DPoP-bound access token (client_credentials, scope `transactions`, fetched once before the
//! clock starts) and a fresh DPoP proof with `ath`.

use crate::client_jwt::{dpop_proof_for_token, unix_now};
use crate::flow::{Ctx, StepResult, expect, fail, signed, url_for};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

/// A client_credentials token for `scope`, bound to the generator's DPoP key.
pub async fn token(ctx: &Ctx, scope: &str) -> StepResult<String> {
    const STEP: &str = "txn_token";
    let (mut form, proof) = signed(ctx, "/token")?;
    form.push(("grant_type", "client_credentials".to_owned()));
    form.push(("scope", scope.to_owned()));
    let resp = ctx
        .client
        .post(url_for(ctx, "/token")?)
        .header("dpop", proof)
        .form(&form)
        .send()
        .await;
    let resp = expect(STEP, resp, StatusCode::OK).await?;
    let body: Value = resp.json().await.map_err(fail(STEP))?;
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or((STEP, "no access_token".to_owned()))
}

/// `POST path` with the token, a fresh proof and `body`; the JSON answer.
pub(crate) async fn call(
    ctx: &Ctx,
    token: &str,
    step: &'static str,
    path: &str,
    body: &Value,
    want: StatusCode,
) -> StepResult<Value> {
    let iss = ctx.args.issuer.trim_end_matches('/');
    let proof = dpop_proof_for_token(
        &ctx.keys.dpop,
        "POST",
        &format!("{iss}{path}"),
        unix_now(),
        &ctx.jtis.next(),
        Some(token),
    )
    .map_err(fail(step))?;
    let resp = ctx
        .client
        .post(url_for(ctx, path)?)
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("dpop", proof)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
    let resp = expect(step, resp, want).await?;
    resp.json().await.map_err(fail(step))
}

/// One approval, from creation to execution.
pub async fn one_approval(ctx: &Ctx, token: &str, user_id: &str) -> StepResult<()> {
    let terms = json!({
        "payee": {"name": "Acme GmbH", "account": {"iban": "DE89370400440532013000"}},
        "amount": {"value": "123.50", "currency": "EUR"},
        "reference": "loadgen",
    });
    let mut new = terms.clone();
    if let Some(o) = new.as_object_mut() {
        o.insert("user_id".into(), json!(user_id));
    }
    let created = call(
        ctx,
        token,
        "txn_create",
        "/transactions",
        &new,
        StatusCode::CREATED,
    )
    .await?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .ok_or(("txn_create", "no id".to_owned()))?
        .to_owned();
    let challenged = call(
        ctx,
        token,
        "txn_challenge",
        &format!("/transactions/{id}/challenge"),
        &json!({}),
        StatusCode::OK,
    )
    .await?;
    let options = challenged
        .get("options")
        .ok_or(("txn_challenge", "no options".to_owned()))?;
    let assertion = crate::flow::sign(ctx, "txn_sign", options)?;
    call(
        ctx,
        token,
        "txn_approve",
        &format!("/transactions/{id}/approve"),
        &json!({ "assertion": assertion }),
        StatusCode::OK,
    )
    .await?;
    call(
        ctx,
        token,
        "txn_execute",
        &format!("/transactions/{id}/execute"),
        &terms,
        StatusCode::OK,
    )
    .await?;
    Ok(())
}
