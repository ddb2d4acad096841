//! The demo's steps 1–6, the front channel: discovery, the pushed request, and the browser's
//! sign-in and consent up to the 303 that carries the code. Steps 7–11 are in `tokens.rs`.
//!
//! Every step checks what FAPI 2.0 requires of the server's answer and fails with the rule it
//! saw broken; the driver names the step.

use super::browser::{self, CookieJar};
use super::checks::{
    CSRF_COOKIE, SESSION_COOKIE, expect_status, form_action, list_contains, resolve, text,
};
use super::client::{Call, DemoClient, Show, random_text, sha256_b64url};
use super::print::Printer;
use super::steps::STEPS;
use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// What discovery told the client.
#[derive(Debug)]
pub(super) struct Endpoints {
    pub issuer: String,
    pub par: String,
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub revoke: String,
    pub jwks: Value,
}

/// The pushed request and the secrets the client keeps for it.
#[derive(Debug)]
pub(super) struct Pushed {
    pub request_uri: String,
    pub state: String,
    pub nonce: String,
    pub verifier: Zeroizing<String>,
    pub redirect_uri: String,
}

/// The browser's position after signing in.
#[derive(Debug)]
pub(super) struct Browser {
    pub jar: CookieJar,
    pub csrf: String,
}

/// What the demo asks for: account access. A `payment_initiation` consent is signed with the
/// user's passkey in a browser (see docs/integrators.md), which a terminal client cannot do.
pub(super) const ACTIONS: [&str; 2] = ["list_accounts", "read_balances"];

#[derive(Debug)]
pub struct Flow {
    pub(super) client: DemoClient,
    pub(super) out: Printer,
    pub(super) username: String,
    pub(super) password: Zeroizing<String>,
    /// Index into [`STEPS`] of the step under way.
    pub(super) current: usize,
}

impl Flow {
    pub fn new(
        client: DemoClient,
        out: Printer,
        username: String,
        password: Zeroizing<String>,
    ) -> Flow {
        Flow {
            client,
            out,
            username,
            password,
            current: 0,
        }
    }

    /// The step under way (or the one that failed): its number from 1 and its title.
    pub fn current_step(&self) -> (usize, &'static str) {
        let title = STEPS.get(self.current).map_or("", |s| s.title);
        (self.current + 1, title)
    }

    pub(super) fn begin(&mut self, index: usize) {
        self.current = index;
        if let Some(s) = STEPS.get(index) {
            self.out.step(index + 1, STEPS.len(), s.title, s.rule);
        }
    }

    /// Runs all steps in order; stops at the first one whose answer breaks a rule.
    pub async fn run(&mut self) -> anyhow::Result<()> {
        let endpoints = self.discovery().await?;
        let pushed = self.push(&endpoints).await?;
        let mut browser = self.authorize(&endpoints, &pushed).await?;
        let consent_url = self.sign_in(&endpoints, &pushed, &mut browser).await?;
        self.consent_page(&consent_url, &browser).await?;
        let code = self.approve(&endpoints, &pushed, &browser).await?;
        let tokens = self.redeem(&endpoints, &pushed, &code).await?;
        self.userinfo(&endpoints, &tokens).await?;
        let refreshed = self.refresh(&endpoints, &tokens).await?;
        let refresh_token = refreshed
            .refresh_token
            .as_ref()
            .or(tokens.refresh_token.as_ref())
            .context("no refresh token to revoke")?;
        self.revoke(&endpoints, refresh_token).await?;
        self.rejected(&endpoints, &refreshed.access_token).await
    }

    async fn discovery(&mut self) -> anyhow::Result<Endpoints> {
        self.begin(0);
        let url = format!("{}/.well-known/openid-configuration", self.client.issuer);
        let mut call = Call::get(&url);
        call.show = Show::Fields(&[
            "issuer",
            "pushed_authorization_request_endpoint",
            "require_pushed_authorization_requests",
            "token_endpoint_auth_methods_supported",
            "dpop_signing_alg_values_supported",
            "code_challenge_methods_supported",
            "authorization_response_iss_parameter_supported",
            "authorization_details_types_supported",
        ]);
        let reply = self.client.call(&self.out, &call).await.with_context(|| {
            format!(
                "is `shonin serve --dev` running at {}? (the demo uses the issuer from the same \
                 configuration)",
                self.client.issuer
            )
        })?;
        expect_status(&reply, StatusCode::OK)?;
        let meta = reply.json()?;
        let issuer = text(&meta, "issuer")?;
        ensure!(
            issuer == self.client.issuer,
            "metadata issuer {issuer} is not the configured issuer {} (RFC 8414 §3.3); run the \
             demo with the server's configuration",
            self.client.issuer
        );
        self.out
            .ok("issuer equals the URL the metadata was fetched from (RFC 8414 §3.3)");
        ensure!(
            meta.get("require_pushed_authorization_requests") == Some(&json!(true)),
            "require_pushed_authorization_requests is not true (FAPI 2.0 §5.3.2.2 item 2)"
        );
        self.out.ok("PAR is required");
        for (member, wanted) in [
            ("token_endpoint_auth_methods_supported", "private_key_jwt"),
            ("dpop_signing_alg_values_supported", "ES256"),
            ("code_challenge_methods_supported", "S256"),
        ] {
            ensure!(
                list_contains(&meta, member, wanted),
                "{member} does not list {wanted}"
            );
        }
        self.out
            .ok("private_key_jwt, DPoP with ES256 and PKCE S256 are supported");
        let endpoints = Endpoints {
            par: text(&meta, "pushed_authorization_request_endpoint")?,
            authorize: text(&meta, "authorization_endpoint")?,
            token: text(&meta, "token_endpoint")?,
            userinfo: text(&meta, "userinfo_endpoint")?,
            revoke: text(&meta, "revocation_endpoint")?,
            jwks: Value::Null,
            issuer,
        };
        let jwks_uri = text(&meta, "jwks_uri")?;
        let mut call = Call::get(&jwks_uri);
        call.show = Show::Nothing;
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        let jwks = reply.json()?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .context("the JWK set has no keys array")?;
        for k in keys {
            self.out.line(&format!(
                "     key {} {}",
                k.get("kid").and_then(Value::as_str).unwrap_or("?"),
                k.get("alg").and_then(Value::as_str).unwrap_or("?"),
            ));
        }
        ensure!(!keys.is_empty(), "the server publishes no signing key");
        self.out.ok(&format!(
            "{} public signing keys: tokens will be verified against them",
            keys.len()
        ));
        Ok(Endpoints { jwks, ..endpoints })
    }

    async fn push(&mut self, endpoints: &Endpoints) -> anyhow::Result<Pushed> {
        self.begin(1);
        let verifier = Zeroizing::new(random_text(32)?);
        let pushed = Pushed {
            request_uri: String::new(),
            state: random_text(16)?,
            nonce: random_text(16)?,
            redirect_uri: format!("{}/demo/callback", self.client.issuer),
            verifier,
        };
        let details = json!([{"type": "account_information", "actions": ACTIONS}]);
        self.out.line(&format!(
            "   client key kid {} (private_key_jwt); fresh DPoP key, thumbprint (jkt) {}",
            self.client.key_id(),
            self.client.dpop_jkt
        ));
        self.out.line(
            "   PKCE: code_verifier is kept secret; code_challenge = BASE64URL(SHA-256(verifier))",
        );
        let form = vec![
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), pushed.redirect_uri.clone()),
            ("scope".into(), "openid accounts".into()),
            ("state".into(), pushed.state.clone()),
            ("nonce".into(), pushed.nonce.clone()),
            ("code_challenge".into(), sha256_b64url(&pushed.verifier)),
            ("code_challenge_method".into(), "S256".into()),
            ("authorization_details".into(), details.to_string()),
        ];
        let mut call = Call::post(&endpoints.par, form);
        call.client_auth = true;
        call.dpop = true;
        call.explain_jwts = true;
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::CREATED)?;
        let body = reply.json()?;
        let request_uri = text(&body, "request_uri")?;
        ensure!(
            request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
            "request_uri {request_uri} is not a urn:ietf:params:oauth:request_uri: URN (RFC 9126 §2.2)"
        );
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_i64)
            .context("no expires_in")?;
        ensure!(
            (1..600).contains(&expires_in),
            "expires_in {expires_in} is not below 600 s (FAPI 2.0 §5.3.2.2 item 9)"
        );
        self.out.ok(&format!(
            "201 Created: request_uri valid for {expires_in} s (< 600 s, FAPI 2.0 §5.3.2.2 item 9)"
        ));
        Ok(Pushed {
            request_uri,
            ..pushed
        })
    }

    async fn authorize(
        &mut self,
        endpoints: &Endpoints,
        pushed: &Pushed,
    ) -> anyhow::Result<Browser> {
        self.begin(2);
        let mut url = url::Url::parse(&endpoints.authorize).context("authorization_endpoint")?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client.client_id)
            .append_pair("request_uri", &pushed.request_uri);
        let reply = self
            .client
            .call(&self.out, &Call::get(url.as_str()))
            .await?;
        expect_status(&reply, StatusCode::OK)?;
        let mut jar = CookieJar::default();
        jar.store(&reply);
        let cookie = jar
            .get(CSRF_COOKIE)
            .context("the sign-in page set no __Host-shonin_csrf cookie")?
            .to_owned();
        let field = browser::hidden_field(&reply.body, "csrf")
            .context("the page has no sign-in form with a csrf field")?;
        ensure!(
            field == cookie,
            "the form's csrf field does not match the __Host-shonin_csrf cookie"
        );
        ensure!(
            form_action(&reply.body).as_deref() == Some("/authorize/sign-in"),
            "this is not the sign-in page"
        );
        self.out.ok(
            "sign-in page; it set the __Host-shonin_csrf cookie (Secure, HttpOnly, \
             SameSite=Strict) and put the same value in the form's hidden csrf field",
        );
        Ok(Browser { jar, csrf: cookie })
    }

    async fn sign_in(
        &mut self,
        endpoints: &Endpoints,
        pushed: &Pushed,
        browser: &mut Browser,
    ) -> anyhow::Result<String> {
        self.begin(3);
        let url = resolve(&endpoints.authorize, "/authorize/sign-in")?;
        let form = vec![
            ("request_uri".into(), pushed.request_uri.clone()),
            ("client_id".into(), self.client.client_id.clone()),
            ("csrf".into(), browser.csrf.clone()),
            ("username".into(), self.username.clone()),
            ("password".into(), self.password.to_string()),
        ];
        let mut call = Call::post(&url, form);
        call.cookie = browser.jar.header();
        let reply = self.client.call(&self.out, &call).await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            bail!(
                "sign-in as {} was refused: is the password in demo-user.txt the one of this \
                 server's store?",
                self.username
            );
        }
        expect_status(&reply, StatusCode::SEE_OTHER)?;
        let set = browser.jar.store(&reply);
        ensure!(
            set.iter().any(|n| n == SESSION_COOKIE),
            "the sign-in set no __Host-shonin_session cookie"
        );
        let location = reply
            .header("location")
            .context("the 303 has no Location")?;
        self.out.ok(&format!(
            "signed in as {}: 303 See Other with the __Host-shonin_session cookie, back to the \
             authorization endpoint",
            self.username
        ));
        resolve(&endpoints.authorize, location)
    }

    async fn consent_page(&mut self, url: &str, browser: &Browser) -> anyhow::Result<()> {
        self.begin(4);
        let mut call = Call::get(url);
        call.cookie = browser.jar.header();
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        let html = &reply.body;
        ensure!(
            form_action(html).as_deref() == Some("/authorize/consent"),
            "this is not the consent page"
        );
        self.out.line("     ┄┄ what the page shows");
        if let Some(lead) = browser::lead(html) {
            self.out.line(&format!("     {lead}"));
        }
        let scopes = browser::consent_scopes(html);
        self.out
            .line(&format!("     Permissions: {}", scopes.join(", ")));
        let rows = browser::consent_rows(html);
        for (label, value) in &rows {
            self.out.line(&format!("     {label:<14} {value}"));
        }
        let row = |name: &str| {
            rows.iter()
                .find(|(l, _)| l == name)
                .map(|(_, v)| v.as_str())
        };
        let actions = ACTIONS.join(", ");
        ensure!(
            row("Actions") == Some(actions.as_str()),
            "the consent page does not show the actions {actions}"
        );
        self.out
            .ok("the page shows the pushed account access as the client sent it");
        Ok(())
    }

    async fn approve(
        &mut self,
        endpoints: &Endpoints,
        pushed: &Pushed,
        browser: &Browser,
    ) -> anyhow::Result<String> {
        self.begin(5);
        let url = resolve(&endpoints.authorize, "/authorize/consent")?;
        let form = vec![
            ("request_uri".into(), pushed.request_uri.clone()),
            ("client_id".into(), self.client.client_id.clone()),
            ("csrf".into(), browser.csrf.clone()),
            ("decision".into(), "approve".into()),
        ];
        let mut call = Call::post(&url, form);
        call.cookie = browser.jar.header();
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::SEE_OTHER)?;
        let location = reply
            .header("location")
            .context("the 303 has no Location")?;
        let redirect = url::Url::parse(location).context("the Location is not a URL")?;
        let base = format!(
            "{}{}",
            redirect.origin().ascii_serialization(),
            redirect.path()
        );
        ensure!(
            base == pushed.redirect_uri,
            "redirected to {base}, not the registered redirect URI {}",
            pushed.redirect_uri
        );
        let param = |name: &str| {
            redirect
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = param("error") {
            bail!("the authorization response is an error: {error}");
        }
        let code = param("code").context("the authorization response has no code")?;
        let state = param("state").context("the authorization response has no state")?;
        let iss = param("iss").context("the authorization response has no iss (RFC 9207)")?;
        self.out.line(&format!("     code  = {code}"));
        self.out.line(&format!("     state = {state}"));
        self.out.line(&format!("     iss   = {iss}"));
        ensure!(
            iss == endpoints.issuer,
            "iss {iss} is not the issuer {} (RFC 9207 §2.4: mix-up attack?)",
            endpoints.issuer
        );
        ensure!(
            state == pushed.state,
            "state does not match the one the client pushed (CSRF?)"
        );
        self.out.ok(
            "303 to the registered redirect URI; iss is the issuer (RFC 9207) and state is ours",
        );
        self.out.note(
            "A browser would now load the redirect URI; the demo reads the code from the Location \
             header instead.",
        );
        Ok(code)
    }
}
