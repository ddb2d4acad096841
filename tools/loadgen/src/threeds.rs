//! `flow --kind threeds-challenge`: EMV 3-D Secure authentications with a passkey challenge per
//! second, as a merchant's backend and its customer's browser run them against one Shonin with
//! `[threeds.server]` and `[threeds.acs]` and a `shonin ds-sim` between them: POST
//! /3ds/server/authentications (an amount the ACS challenges) → the browser posts the `creq` to
//! the ACS's challenge page → the passkey (`shonin-testkit`'s software authenticator, enrolled
//! once through the account page) signs the purchase the page's options name → POST
//! /3ds/acs/challenge/answer (the ACS sends the RReq through the DS to the 3DS Server before it
//! answers) → the browser posts the final CRes to the notification URL → the backend reads the
//! result, which must be Y. Backend calls carry the DPoP-bound token (scope `3ds`) and a fresh
//! proof with `ath`.

use crate::approvals::call;
use crate::client_jwt::{dpop_proof_for_token, unix_now};
use crate::flow::{Ctx, StepResult, expect, fail, url_for};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

/// The value of the attribute that follows `marker` (`data-token="`) in `html`, with its
/// character references decoded (the template escapes `"` as `&#34;`, `&` as `&amp;`, …).
fn attribute(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = start + html.get(start..)?.find('"')?;
    let raw = html.get(start..end)?;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp)?);
        let tail = rest.get(amp..)?;
        let semi = tail.find(';')?;
        let name = tail.get(1..semi)?;
        let c = match name {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            _ => {
                let n = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => name.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(n)?
            }
        };
        out.push(c);
        rest = tail.get(semi + 1..)?;
    }
    out.push_str(rest);
    Some(out)
}

fn member<'a>(step: &'static str, v: &'a Value, name: &str) -> StepResult<&'a str> {
    v.pointer(name)
        .and_then(Value::as_str)
        .ok_or((step, format!("no {name} in {v}")))
}

/// One authentication, from the backend's request to its result Y.
pub async fn one_challenge(ctx: &Ctx, token: &str) -> StepResult<()> {
    let body = json!({
        "card": {"number": "4012000000006013", "expiry": "3012"},
        "purchase": {"amount": "150000", "currency": "643", "exponent": 2},
        "merchant": {"name": "Tea Shop", "mcc": "5812", "country": "643",
                     "acquirer_bin": "400551", "acquirer_merchant_id": "M-1"},
        "browser": {"accept_header": "text/html", "user_agent": "loadgen", "language": "en-GB",
                    "javascript_enabled": true, "color_depth": 24, "screen_height": 900,
                    "screen_width": 1440, "tz": 0},
        "challenge_window_size": "05",
        "session_data": "bG9hZGdlbg",
    });
    let started = call(
        ctx,
        token,
        "3ds_start",
        "/3ds/server/authentications",
        &body,
        StatusCode::CREATED,
    )
    .await?;
    let id = member("3ds_start", &started, "/id")?.to_owned();
    let creq = member("3ds_start", &started, "/challenge/creq")?;
    // The browser's form post into the challenge iframe (the ACS is this server).
    const PAGE: &str = "3ds_challenge_page";
    let resp = ctx
        .client
        .post(url_for(ctx, "/3ds/acs/challenge")?)
        .form(&[("creq", creq), ("threeDSSessionData", "bG9hZGdlbg")])
        .send()
        .await;
    let html = expect(PAGE, resp, StatusCode::OK)
        .await?
        .text()
        .await
        .map_err(fail(PAGE))?;
    let page_token = attribute(&html, "data-token=\"").ok_or((PAGE, "no data-token".into()))?;
    let acs_trans_id = attribute(&html, "data-trans=\"").ok_or((PAGE, "no data-trans".into()))?;
    let options: Value = attribute(&html, "data-options=\"")
        .and_then(|o| serde_json::from_str(&o).ok())
        .ok_or((PAGE, "no passkey options on the page".into()))?;
    let assertion = crate::flow::sign(ctx, "3ds_sign", &options)?;
    const ANSWER: &str = "3ds_answer";
    let resp = ctx
        .client
        .post(url_for(ctx, "/3ds/acs/challenge/answer")?)
        .json(
            &json!({"acsTransID": acs_trans_id, "token": page_token, "action": "confirm",
                      "assertion": assertion}),
        )
        .send()
        .await;
    let answered: Value = expect(ANSWER, resp, StatusCode::OK)
        .await?
        .json()
        .await
        .map_err(fail(ANSWER))?;
    let cres = member(ANSWER, &answered, "/cres")?;
    // The final CRes, posted by the page to the 3DS Server's notification URL.
    const NOTIFY: &str = "3ds_notification";
    let resp = ctx
        .client
        .post(url_for(ctx, "/3ds/server/notification")?)
        .form(&[("cres", cres), ("threeDSSessionData", "bG9hZGdlbg")])
        .send()
        .await;
    expect(NOTIFY, resp, StatusCode::OK)
        .await?
        .bytes()
        .await
        .map_err(fail(NOTIFY))?;
    // The backend reads the result.
    const RESULT: &str = "3ds_result";
    let path = format!("/3ds/server/authentications/{id}");
    let iss = ctx.args.issuer.trim_end_matches('/');
    let proof = dpop_proof_for_token(
        &ctx.keys.dpop,
        "GET",
        &format!("{iss}{path}"),
        unix_now(),
        &ctx.jtis.next(),
        Some(token),
    )
    .map_err(fail(RESULT))?;
    let resp = ctx
        .client
        .get(url_for(ctx, &path)?)
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await;
    let result: Value = expect(RESULT, resp, StatusCode::OK)
        .await?
        .json()
        .await
        .map_err(fail(RESULT))?;
    match result
        .pointer("/result/transStatus")
        .and_then(Value::as_str)
    {
        Some("Y") => Ok(()),
        other => Err((RESULT, format!("transStatus {other:?}: {result}"))),
    }
}
