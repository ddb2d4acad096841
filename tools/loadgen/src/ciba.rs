//! `flow --kind ciba`: OpenID CIBA approvals per second from request to token, as a client and
//! its user's phone run them: POST /bc-authorize (private_key_jwt, `login_hint`, a binding
//! message) → one poll of the token endpoint while the user has not decided
//! (`authorization_pending`) → the approval page the notification links to (`/ciba/{SHA-256 of
//! auth_req_id}`): its passkey sign-in (the page script's two JSON calls, answered by
//! `shonin-testkit`'s software authenticator) and the approve form → POST /token with the CIBA
//! grant and a DPoP proof: DPoP-bound tokens.

use crate::flow::{
    CSRF_COOKIE, Ctx, SESSION_COOKIE, StepResult, expect, fail, location, passkey_sign_in_to,
    set_cookie, signed, url_for,
};
use aws_lc_rs::digest::{SHA256, digest};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::Value;

const GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A token request for `auth_req_id`, expecting `want`.
async fn token(
    ctx: &Ctx,
    auth_req_id: &str,
    step: &'static str,
    want: StatusCode,
) -> StepResult<()> {
    let (mut form, proof) = signed(ctx, "/token")?;
    form.push(("grant_type", GRANT.to_owned()));
    form.push(("auth_req_id", auth_req_id.to_owned()));
    let resp = ctx
        .client
        .post(url_for(ctx, "/token")?)
        .header("dpop", proof)
        .form(&form)
        .send()
        .await;
    let resp = expect(step, resp, want).await?;
    resp.bytes().await.map_err(fail(step))?;
    Ok(())
}

pub async fn one_ciba(ctx: &Ctx) -> StepResult<()> {
    // 1. The backchannel request (no DPoP: tokens are bound at the token endpoint).
    let (mut form, _) = signed(ctx, "/bc-authorize")?;
    form.extend([
        ("scope", ctx.args.scope.clone()),
        ("login_hint", ctx.args.username.clone()),
        ("binding_message", "BENCH 42".to_owned()),
    ]);
    let resp = ctx
        .client
        .post(url_for(ctx, "/bc-authorize")?)
        .form(&form)
        .send()
        .await;
    let resp = expect("bc_authorize", resp, StatusCode::OK).await?;
    let body: Value = resp.json().await.map_err(fail("bc_authorize"))?;
    let auth_req_id = body
        .get("auth_req_id")
        .and_then(Value::as_str)
        .ok_or(("bc_authorize", "no auth_req_id".to_owned()))?
        .to_owned();

    // 2. The client polls once while the user has not decided.
    token(ctx, &auth_req_id, "poll_pending", StatusCode::BAD_REQUEST).await?;

    // 3. The user's phone opens the approval page: the passkey sign-in first.
    let hex: String = digest(&SHA256, auth_req_id.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let page = format!("/ciba/{hex}");
    let resp = ctx.client.get(url_for(ctx, &page)?).send().await;
    let resp = expect("ciba_page", resp, StatusCode::OK).await?;
    let csrf = set_cookie(&resp, CSRF_COOKIE).ok_or(("ciba_page", "no CSRF cookie".to_owned()))?;
    resp.bytes().await.map_err(fail("ciba_page"))?;
    let cookies = format!("{CSRF_COOKIE}={csrf}");
    let (session, back) = passkey_sign_in_to(ctx, &page, &csrf, &cookies).await?;
    if back != page {
        return Err((
            "passkey_sign_in",
            format!("continues at {back}, not {page}"),
        ));
    }
    let cookies = format!("{cookies}; {SESSION_COOKIE}={session}");

    // 4. The page (who asks, the binding message), then the approve form.
    let resp = ctx
        .client
        .get(url_for(ctx, &page)?)
        .header(COOKIE, &cookies)
        .send()
        .await;
    let resp = expect("ciba_page", resp, StatusCode::OK).await?;
    let html = resp.text().await.map_err(fail("ciba_page"))?;
    if !html.contains("BENCH 42") {
        return Err(("ciba_page", "the binding message is not shown".to_owned()));
    }
    let resp = ctx
        .client
        .post(url_for(ctx, &format!("{page}/approve"))?)
        .header(COOKIE, &cookies)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await;
    let resp = expect("approve", resp, StatusCode::SEE_OTHER).await?;
    if location("approve", &resp)? != page {
        return Err(("approve", "not back to the page".to_owned()));
    }

    // 5. The tokens.
    token(ctx, &auth_req_id, "token", StatusCode::OK).await
}
