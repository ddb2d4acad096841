//! `flow`: complete FAPI 2.0 authorization code flows per second, each as a fresh browser and
//! client would run it: PAR (private_key_jwt + DPoP + PKCE S256) → GET /authorize → sign-in →
//! consent page → consent POST → token (private_key_jwt + DPoP + code_verifier).
//!
//! The sign-in is the password form (`--sign-in password`: POST /authorize/sign-in) or a passkey
//! (`--sign-in passkey`): the page script's two JSON calls, POST /passkeys/sign-in/options and
//! POST /passkeys/sign-in, answered by `shonin-testkit`'s software authenticator. For the passkey
//! the user first enrols one, once, through the account page as a person would (password
//! sign-in on /account, then /account/passkeys/options and /account/passkeys). The credential
//! behaves as a synced passkey does (backup eligible and backed up, signature counter always 0),
//! so concurrent sign-ins with it are all valid.
//!
//! `--kind approval` runs transaction approvals instead (see `approvals.rs`).
//!
//! `--save-tokens FILE` writes the token response of one successful flow (access and refresh
//! token) for `pregen --kind refresh-token|userinfo`.
//!
//! Cookies are carried by hand, as `tests/common/oauth.rs` does, so no cookie jar is shared
//! between flows. Assertions and proofs are signed on the fly here (a flow needs fresh ones at
//! each step), so on a small machine this generator takes more CPU than `run` does.

use crate::client_jwt::{JtiSource, assertion, client_auth_fields, dpop_proof, unix_now};
use crate::http::{self, Target};
use crate::keys::{self, ClientKeys};
use crate::passkeys::BENCH_AAGUID;
use crate::stats::{Latency, process_cpu_secs, round3};
use anyhow::Context;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use clap::{Args, ValueEnum};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde::Serialize;
use serde_json::{Value, json};
use shonin_jose::b64url_encode;
use shonin_testkit::Authenticator;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const MAX_DURATION_SECS: u64 = 300;
const MAX_FLOWS: usize = 100_000;
pub(crate) const CSRF_COOKIE: &str = "__Host-shonin_csrf";
pub(crate) const SESSION_COOKIE: &str = "__Host-shonin_session";
/// The header the page script sends its CSRF value in (double submit with the cookie).
const CSRF_HEADER: &str = "x-csrf-token";

/// How the user signs in during each flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignIn {
    /// The password form (Argon2id on the server).
    Password,
    /// A passkey (WebAuthn, ES256), enrolled once before the flows start.
    Passkey,
}

/// What one flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A FAPI 2.0 authorization code flow.
    Authorization,
    /// A transaction approval through `/transactions` (needs `--sign-in passkey`, `--user-id`
    /// and a client with scope `transactions` and the client_credentials grant).
    Approval,
    /// A code flow whose request carries a `payment_initiation` detail: the consent page's
    /// passkey signs the payment (`/authorize/payment/options`, `/authorize/payment`) instead of
    /// the button (needs `--sign-in passkey` and a client allowed `payment_initiation`).
    PaymentConsent,
    /// An EMV 3-D Secure authentication with a challenge through the 3DS Server's requestor API,
    /// the DS and the ACS (needs `--sign-in passkey`, a cardholder with an enrolled card and a
    /// client with scope `3ds` and the client_credentials grant).
    ThreedsChallenge,
    /// An OpenID CIBA approval from request to token: POST /bc-authorize, one poll while it
    /// waits, the user's passkey sign-in and approval on the page the notification links to,
    /// then the DPoP-bound tokens (needs `--sign-in passkey` and a poll client with the CIBA
    /// grant).
    Ciba,
}

impl SignIn {
    fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Passkey => "passkey",
        }
    }
}

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Directory written by `loadgen keys`.
    #[arg(long)]
    pub keys: PathBuf,
    /// The registered client_id (grant types authorization_code, a redirect URI, scope openid).
    #[arg(long)]
    pub client_id: String,
    /// The issuer URL (https).
    #[arg(long)]
    pub issuer: String,
    #[command(flatten)]
    pub target: Target,
    /// The client's registered redirect URI (never contacted: the code is read from the 303).
    #[arg(long)]
    pub redirect_uri: String,
    /// Scope to request.
    #[arg(long, default_value = "openid accounts")]
    pub scope: String,
    /// The test user.
    #[arg(long)]
    pub username: String,
    /// File whose first line is the test user's password (also needed with `--sign-in
    /// passkey`: the passkey is enrolled after a password sign-in on the account page).
    #[arg(long)]
    pub password_file: PathBuf,
    /// How the user signs in.
    #[arg(long, value_enum, default_value = "password")]
    pub sign_in: SignIn,
    /// What one flow is.
    #[arg(long, value_enum, default_value = "authorization")]
    pub kind: Kind,
    /// The test user's id (`shonin users list`), for `--kind approval`.
    #[arg(long)]
    pub user_id: Option<String>,
    /// Write the token response of one successful flow into this new file (mode 0600).
    #[arg(long)]
    pub save_tokens: Option<PathBuf>,
    /// Flows in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Longest run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Most flows started.
    #[arg(long, default_value_t = 5_000)]
    pub max_flows: usize,
    /// Generator threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// A label copied into the result line.
    #[arg(long, default_value = "")]
    pub label: String,
}

pub(crate) struct Ctx {
    pub(crate) args: FlowArgs,
    pub(crate) keys: ClientKeys,
    pub(crate) jtis: JtiSource,
    password: String,
    pub(crate) client: reqwest::Client,
    issuer: url::Url,
    /// The WebAuthn origin the browser reports: the issuer's origin.
    pub(crate) origin: String,
    /// The software authenticator holding the enrolled passkey (`--sign-in passkey`).
    pub(crate) authenticator: Option<Mutex<Authenticator>>,
    /// The first successful token response (`--save-tokens`).
    saved: OnceLock<Value>,
    /// The backend's access token (`--kind approval`).
    txn_token: OnceLock<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    label: String,
    sign_in: &'static str,
    concurrency: usize,
    flows: u64,
    ok: u64,
    elapsed_s: f64,
    flows_per_s: f64,
    latency_ms: Latency,
    failures_by_step: BTreeMap<&'static str, u64>,
    client_cpu_s: Option<f64>,
}

pub async fn run(args: FlowArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_DURATION_SECS).contains(&args.duration),
        "--duration must be 1 to {MAX_DURATION_SECS} s"
    );
    anyhow::ensure!(
        (1..=MAX_FLOWS).contains(&args.max_flows),
        "--max-flows must be 1 to {MAX_FLOWS}"
    );
    anyhow::ensure!(
        (1..=256).contains(&args.concurrency),
        "--concurrency 1 to 256"
    );
    let issuer = url::Url::parse(&args.issuer).context("--issuer")?;
    let password = std::fs::read_to_string(&args.password_file)
        .with_context(|| format!("reading {}", args.password_file.display()))?
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut ctx = Ctx {
        client: http::client(&args.target, &issuer)?,
        keys: keys::load(&args.keys)?,
        jtis: JtiSource::new()?,
        password,
        origin: issuer.origin().ascii_serialization(),
        issuer,
        authenticator: None,
        saved: OnceLock::new(),
        txn_token: OnceLock::new(),
        args,
    };
    if matches!(ctx.args.kind, Kind::PaymentConsent | Kind::Ciba) {
        anyhow::ensure!(
            ctx.args.sign_in == SignIn::Passkey,
            "--kind payment-consent and --kind ciba need --sign-in passkey"
        );
    }
    if ctx.args.kind == Kind::Approval {
        anyhow::ensure!(
            ctx.args.sign_in == SignIn::Passkey && ctx.args.user_id.is_some(),
            "--kind approval needs --sign-in passkey and --user-id"
        );
        let token = crate::approvals::token(&ctx, "transactions")
            .await
            .map_err(|(step, e)| anyhow::anyhow!("{step}: {e}"))?;
        let _ = ctx.txn_token.set(token);
    }
    if ctx.args.kind == Kind::ThreedsChallenge {
        anyhow::ensure!(
            ctx.args.sign_in == SignIn::Passkey,
            "--kind threeds-challenge needs --sign-in passkey"
        );
        let token = crate::approvals::token(&ctx, "3ds")
            .await
            .map_err(|(step, e)| anyhow::anyhow!("{step}: {e}"))?;
        let _ = ctx.txn_token.set(token);
    }
    if ctx.args.sign_in == SignIn::Passkey {
        let authenticator = enrol(&ctx)
            .await
            .map_err(|(step, e)| anyhow::anyhow!("enrolling the passkey: {step}: {e}"))?;
        ctx.authenticator = Some(Mutex::new(authenticator));
    }
    let ctx = Arc::new(ctx);
    let cursor = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(ctx.args.duration);
    let mut tasks = Vec::new();
    for _ in 0..ctx.args.concurrency {
        let (ctx, cursor) = (Arc::clone(&ctx), Arc::clone(&cursor));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures: Vec<(&'static str, String)> = Vec::new();
            while Instant::now() < deadline
                && cursor.fetch_add(1, Ordering::Relaxed) < ctx.args.max_flows
            {
                let t0 = Instant::now();
                let done = match (ctx.args.kind, ctx.txn_token.get(), &ctx.args.user_id) {
                    (Kind::Approval, Some(token), Some(user)) => {
                        crate::approvals::one_approval(&ctx, token, user).await
                    }
                    (Kind::ThreedsChallenge, Some(token), _) => {
                        crate::threeds::one_challenge(&ctx, token).await
                    }
                    (Kind::Ciba, _, _) => crate::ciba::one_ciba(&ctx).await,
                    _ => one_flow(&ctx).await,
                };
                match done {
                    Ok(()) => lat.push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Err(f) => failures.push(f),
                }
            }
            (lat, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures_by_step: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut samples = Vec::new();
    for t in tasks {
        let (lat, failures) = t.await.context("a flow worker failed")?;
        latencies.extend(lat);
        for (step, detail) in failures {
            *failures_by_step.entry(step).or_default() += 1;
            if samples.len() < 3 {
                samples.push(format!("{step}: {detail}"));
            }
        }
    }
    for s in &samples {
        eprintln!("loadgen: sample flow failure: {s}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = u64::try_from(latencies.len()).unwrap_or(u64::MAX);
    let failed: u64 = failures_by_step.values().sum();
    #[allow(clippy::cast_precision_loss)]
    if let Some(path) = &ctx.args.save_tokens {
        let tokens = ctx
            .saved
            .get()
            .context("--save-tokens: no flow succeeded")?;
        keys::write_private(path, &serde_json::to_vec(tokens)?)?;
    }
    let report = Report {
        mode: match ctx.args.kind {
            Kind::Authorization => "flow",
            Kind::Approval => "approval",
            Kind::PaymentConsent => "payment-consent",
            Kind::ThreedsChallenge => "threeds-challenge",
            Kind::Ciba => "ciba",
        },
        label: ctx.args.label.clone(),
        sign_in: ctx.args.sign_in.name(),
        concurrency: ctx.args.concurrency,
        flows: ok + failed,
        ok,
        elapsed_s: round3(elapsed),
        flows_per_s: round3(ok as f64 / elapsed),
        latency_ms: Latency::from_micros(&mut latencies),
        failures_by_step,
        client_cpu_s: cpu_before
            .zip(process_cpu_secs())
            .map(|(a, b)| round3(b - a)),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

pub(crate) type StepResult<T> = Result<T, (&'static str, String)>;

pub(crate) fn fail<E: std::fmt::Display>(
    step: &'static str,
) -> impl Fn(E) -> (&'static str, String) {
    move |e| (step, e.to_string())
}

pub(crate) async fn expect(
    step: &'static str,
    resp: Result<reqwest::Response, reqwest::Error>,
    want: StatusCode,
) -> StepResult<reqwest::Response> {
    let resp = resp.map_err(fail(step))?;
    if resp.status() == want {
        return Ok(resp);
    }
    let status = resp.status();
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err((step, format!("{status}: {text}")))
}

/// The value of cookie `name` in the response's Set-Cookie headers.
pub(crate) fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let (pair, _) = v.to_str().ok()?.split_once(';')?;
        let (k, val) = pair.split_once('=')?;
        (k == name).then(|| val.to_owned())
    })
}

pub(crate) fn location(step: &'static str, resp: &reqwest::Response) -> StepResult<String> {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or((step, "no Location header".to_owned()))
}

pub(crate) fn url_for(ctx: &Ctx, path: &str) -> StepResult<url::Url> {
    ctx.issuer.join(path).map_err(fail("url"))
}

/// Client authentication fields plus a DPoP proof for `POST {issuer}{path}`.
pub(crate) fn signed(ctx: &Ctx, path: &str) -> StepResult<(Vec<(&'static str, String)>, String)> {
    let iss = ctx.args.issuer.trim_end_matches('/');
    let now = unix_now();
    let a = assertion(
        &ctx.keys.client,
        &ctx.args.client_id,
        iss,
        now,
        &ctx.jtis.next(),
    )
    .map_err(fail("sign"))?;
    let proof = dpop_proof(
        &ctx.keys.dpop,
        "POST",
        &format!("{iss}{path}"),
        now,
        &ctx.jtis.next(),
    )
    .map_err(fail("sign"))?;
    Ok((client_auth_fields(&ctx.args.client_id, a).to_vec(), proof))
}

fn pkce() -> StepResult<(String, String)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ("pkce", "random generator failed".to_owned()))?;
    let verifier = b64url_encode(&bytes);
    let challenge = b64url_encode(digest(&SHA256, verifier.as_bytes()).as_ref());
    Ok((verifier, challenge))
}

async fn one_flow(ctx: &Ctx) -> StepResult<()> {
    let a = &ctx.args;
    let (verifier, challenge) = pkce()?;
    let state = ctx.jtis.next();

    // 1. PAR (RFC 9126), client-authenticated, with DPoP binding the code to the key.
    let (mut form, proof) = signed(ctx, "/par")?;
    form.extend([
        ("response_type", "code".to_owned()),
        ("redirect_uri", a.redirect_uri.clone()),
        ("scope", a.scope.clone()),
        ("state", state),
        ("nonce", ctx.jtis.next()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".to_owned()),
    ]);
    if a.kind == Kind::PaymentConsent {
        form.push(("authorization_details", PAYMENT.to_owned()));
    }
    let resp = ctx
        .client
        .post(url_for(ctx, "/par")?)
        .header("dpop", proof)
        .form(&form)
        .send()
        .await;
    let resp = expect("par", resp, StatusCode::CREATED).await?;
    let body: serde_json::Value = resp.json().await.map_err(fail("par"))?;
    let request_uri = body
        .get("request_uri")
        .and_then(serde_json::Value::as_str)
        .ok_or(("par", "no request_uri".to_owned()))?
        .to_owned();

    // 2. The authorization endpoint shows the sign-in page and sets the CSRF cookie.
    let mut authorize = url_for(ctx, "/authorize")?;
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &a.client_id)
        .append_pair("request_uri", &request_uri);
    let resp = ctx.client.get(authorize).send().await;
    let resp = expect("authorize", resp, StatusCode::OK).await?;
    let csrf = set_cookie(&resp, CSRF_COOKIE).ok_or(("authorize", "no CSRF cookie".to_owned()))?;
    resp.bytes().await.map_err(fail("authorize"))?;

    // 3. Sign in: the password form, or the page script's passkey calls.
    let cookies = format!("{CSRF_COOKIE}={csrf}");
    let (session, back) = match a.sign_in {
        SignIn::Password => password_sign_in(ctx, &request_uri, &csrf, &cookies).await?,
        SignIn::Passkey => passkey_sign_in(ctx, &request_uri, &csrf, &cookies).await?,
    };
    let cookies = format!("{cookies}; {SESSION_COOKIE}={session}");

    // 4. Back to the authorization endpoint: the consent page.
    let resp = ctx
        .client
        .get(url_for(ctx, &back)?)
        .header(COOKIE, &cookies)
        .send()
        .await;
    let resp = expect("consent_page", resp, StatusCode::OK).await?;
    let page = resp.text().await.map_err(fail("consent_page"))?;

    // 5. Approve: the passkey signs the payment (the page's script), or the button's 303.
    let code = if a.kind == Kind::PaymentConsent {
        payment_consent(ctx, &page, &csrf, &cookies).await?
    } else {
        button_consent(ctx, &request_uri, &csrf, &cookies).await?
    };

    // 6. Redeem the code with the verifier and a proof by the same DPoP key.
    let (mut form, proof) = signed(ctx, "/token")?;
    form.extend([
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", a.redirect_uri.clone()),
        ("code_verifier", verifier),
    ]);
    let resp = ctx
        .client
        .post(url_for(ctx, "/token")?)
        .header("dpop", proof)
        .form(&form)
        .send()
        .await;
    let resp = expect("token", resp, StatusCode::OK).await?;
    if ctx.args.save_tokens.is_some() && ctx.saved.get().is_none() {
        let body: Value = resp.json().await.map_err(fail("token"))?;
        let _ = ctx.saved.set(body);
    } else {
        resp.bytes().await.map_err(fail("token"))?;
    }
    Ok(())
}

/// The payment a `--kind payment-consent` request asks for.
const PAYMENT: &str = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"12.34"},"creditorName":"Bench Payee","creditorAccount":{"iban":"DE89370400440532013000"},"remittanceInformation":"loadgen"}]"#;

/// The code in the query of the redirect `url`.
fn code_in(step: &'static str, url: &str) -> StepResult<String> {
    let redirect = url::Url::parse(url).map_err(fail(step))?;
    redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or((step, format!("no code in {redirect}")))
}

/// The value of `data-{name}` on the consent page (askama escapes `&` and `=` in it).
fn data_attr(step: &'static str, page: &str, name: &str) -> StepResult<String> {
    let marker = format!("data-{name}=\"");
    let start = page
        .find(&marker)
        .ok_or((step, format!("no data-{name} on the consent page")))?
        + marker.len();
    let end = page[start..]
        .find('"')
        .ok_or((step, format!("data-{name} is not closed")))?
        + start;
    let mut value = page[start..end].to_owned();
    for (escaped, c) in [
        ("&amp;", "&"),
        ("&#38;", "&"),
        ("&#61;", "="),
        ("&#37;", "%"),
        ("&#58;", ":"),
    ] {
        value = value.replace(escaped, c);
    }
    Ok(value)
}

/// The consent page's passkey: the challenge for the payment, the assertion, the redirect.
async fn payment_consent(ctx: &Ctx, page: &str, csrf: &str, cookies: &str) -> StepResult<String> {
    const STEP: &str = "payment_consent";
    let options_path = data_attr(STEP, page, "options")?;
    let approve_path = data_attr(STEP, page, "approve")?;
    let (ch, _) = json_call(
        ctx,
        "payment_options",
        &options_path,
        csrf,
        cookies,
        &json!({}),
    )
    .await?;
    let options = member("payment_options", &ch, "options")?;
    let assertion = sign(ctx, STEP, options)?;
    let (done, _) = json_call(
        ctx,
        STEP,
        &approve_path,
        csrf,
        cookies,
        &json!({"assertion": assertion}),
    )
    .await?;
    let location = member(STEP, &done, "location")?
        .as_str()
        .ok_or((STEP, "location is not a string".to_owned()))?;
    code_in(STEP, location)
}

/// The consent form's approve button: a 303 to the redirect URI with the code.
async fn button_consent(
    ctx: &Ctx,
    request_uri: &str,
    csrf: &str,
    cookies: &str,
) -> StepResult<String> {
    let a = &ctx.args;
    let form = [
        ("request_uri", request_uri),
        ("client_id", a.client_id.as_str()),
        ("csrf", csrf),
        ("decision", "approve"),
    ];
    let resp = ctx
        .client
        .post(url_for(ctx, "/authorize/consent")?)
        .header(COOKIE, cookies)
        .form(&form)
        .send()
        .await;
    let resp = expect("consent", resp, StatusCode::SEE_OTHER).await?;
    code_in("consent", &location("consent", &resp)?)
}

/// The password form of the sign-in page: the session cookie and where to go next.
async fn password_sign_in(
    ctx: &Ctx,
    request_uri: &str,
    csrf: &str,
    cookies: &str,
) -> StepResult<(String, String)> {
    let a = &ctx.args;
    let form = [
        ("request_uri", request_uri),
        ("client_id", a.client_id.as_str()),
        ("csrf", csrf),
        ("username", a.username.as_str()),
        ("password", ctx.password.as_str()),
    ];
    let resp = ctx
        .client
        .post(url_for(ctx, "/authorize/sign-in")?)
        .header(COOKIE, cookies)
        .form(&form)
        .send()
        .await;
    let resp = expect("sign_in", resp, StatusCode::SEE_OTHER).await?;
    let session =
        set_cookie(&resp, SESSION_COOKIE).ok_or(("sign_in", "no session cookie".to_owned()))?;
    Ok((session, location("sign_in", &resp)?))
}

/// A JSON call of the page script (`/static/passkey.js`), CSRF value in its header: the answer
/// and the session cookie, if the call started a session.
async fn json_call(
    ctx: &Ctx,
    step: &'static str,
    path: &str,
    csrf: &str,
    cookies: &str,
    body: &Value,
) -> StepResult<(Value, Option<String>)> {
    let resp = ctx
        .client
        .post(url_for(ctx, path)?)
        .header(CONTENT_TYPE, "application/json")
        .header(CSRF_HEADER, csrf)
        .header(COOKIE, cookies)
        .body(body.to_string())
        .send()
        .await;
    let resp = expect(step, resp, StatusCode::OK).await?;
    let session = set_cookie(&resp, SESSION_COOKIE);
    let v: Value = resp.json().await.map_err(fail(step))?;
    Ok((v, session))
}

/// A member of a JSON answer.
fn member<'v>(step: &'static str, v: &'v Value, name: &str) -> StepResult<&'v Value> {
    v.get(name)
        .ok_or((step, format!("no {name} in the answer")))
}

/// The enrolled passkey's assertion for WebAuthn request `options`.
pub(crate) fn sign(ctx: &Ctx, step: &'static str, options: &Value) -> StepResult<Value> {
    let mut authenticator = ctx
        .authenticator
        .as_ref()
        .ok_or((step, "no passkey enrolled".to_owned()))?
        .lock()
        .map_err(|_| (step, "the authenticator's lock is poisoned".to_owned()))?;
    authenticator
        .authenticate(options, &ctx.origin)
        .map_err(fail(step))
}

/// The passkey sign-in of the sign-in page: options, the authenticator's assertion, finish.
/// The session cookie and where to go next.
async fn passkey_sign_in(
    ctx: &Ctx,
    request_uri: &str,
    csrf: &str,
    cookies: &str,
) -> StepResult<(String, String)> {
    // Where the sign-in page's script says to continue (`data-next`).
    let next = url::form_urlencoded::Serializer::new(String::from("/authorize?"))
        .append_pair("client_id", &ctx.args.client_id)
        .append_pair("request_uri", request_uri)
        .finish();
    passkey_sign_in_to(ctx, &next, csrf, cookies).await
}

/// The passkey sign-in of a sign-in page that continues at `next`: options, the
/// authenticator's assertion, finish. The session cookie and where to go next.
pub(crate) async fn passkey_sign_in_to(
    ctx: &Ctx,
    next: &str,
    csrf: &str,
    cookies: &str,
) -> StepResult<(String, String)> {
    const STEP: &str = "passkey_sign_in";
    let (ch, _) = json_call(
        ctx,
        "passkey_options",
        "/passkeys/sign-in/options",
        csrf,
        cookies,
        &json!({}),
    )
    .await?;
    let options = member("passkey_options", &ch, "options")?;
    let credential = sign(ctx, STEP, options)?;
    let (done, session) = json_call(
        ctx,
        STEP,
        "/passkeys/sign-in",
        csrf,
        cookies,
        &json!({
            "ceremony": member("passkey_options", &ch, "ceremony")?,
            "credential": credential,
            "next": next,
        }),
    )
    .await?;
    let session = session.ok_or((STEP, "no session cookie".to_owned()))?;
    let back = member(STEP, &done, "location")?
        .as_str()
        .ok_or((STEP, "location is not a string".to_owned()))?
        .to_owned();
    Ok((session, back))
}

/// Enrols a passkey for the user, once, as a person does on the account page: password sign-in
/// there, then the enrolment options and the new credential. Returns the authenticator holding
/// it, set to behave as a synced passkey (backed up, counter always 0).
async fn enrol(ctx: &Ctx) -> StepResult<Authenticator> {
    const STEP: &str = "enrol";
    let a = &ctx.args;
    let resp = ctx.client.get(url_for(ctx, "/account")?).send().await;
    let resp = expect(STEP, resp, StatusCode::OK).await?;
    let csrf = set_cookie(&resp, CSRF_COOKIE).ok_or((STEP, "no CSRF cookie".to_owned()))?;
    resp.bytes().await.map_err(fail(STEP))?;
    let cookies = format!("{CSRF_COOKIE}={csrf}");
    let form = [
        ("csrf", csrf.as_str()),
        ("username", a.username.as_str()),
        ("password", ctx.password.as_str()),
    ];
    let resp = ctx
        .client
        .post(url_for(ctx, "/account/sign-in")?)
        .header(COOKIE, &cookies)
        .form(&form)
        .send()
        .await;
    let resp = expect(STEP, resp, StatusCode::SEE_OTHER).await?;
    let session =
        set_cookie(&resp, SESSION_COOKIE).ok_or((STEP, "no session cookie".to_owned()))?;
    let cookies = format!("{cookies}; {SESSION_COOKIE}={session}");
    let (ch, _) = json_call(
        ctx,
        STEP,
        "/account/passkeys/options",
        &csrf,
        &cookies,
        &json!({}),
    )
    .await?;
    let mut authenticator = Authenticator::new(BENCH_AAGUID);
    authenticator.backup_eligible = true;
    authenticator.backup_state = true;
    authenticator.counter_step = 0;
    let credential = authenticator
        .register(member(STEP, &ch, "options")?, &ctx.origin)
        .map_err(fail(STEP))?;
    json_call(
        ctx,
        STEP,
        "/account/passkeys",
        &csrf,
        &cookies,
        &json!({
            "ceremony": member(STEP, &ch, "ceremony")?,
            "credential": credential,
            "name": "loadgen",
        }),
    )
    .await?;
    eprintln!("loadgen: a passkey was enrolled for {}", a.username);
    Ok(authenticator)
}
