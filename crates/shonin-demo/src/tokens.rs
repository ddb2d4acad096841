//! The demo's steps 7–11, the back channel: redeem the code, call userinfo, refresh, revoke, and
//! see the revoked grant's access token refused.
//!
//! Tokens are verified as a client would: signatures against the server's published JWK set
//! (`shonin_jose::verify_jwt`, the same JOSE policy: ES256/PS256/EdDSA only, `exp` required),
//! then the claims that matter to this client (`iss`, `aud`, `nonce`, `cnf.jkt`).

use super::checks::{expect_status, text};
use super::client::{Call, Show, sha256_b64url};
use super::flow::{Endpoints, Flow, Pushed};
use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::{Map, Value};
use shonin_jose::{VerifyOptions, decode_header, verify_jwt};

/// What the token endpoint returned.
#[derive(Debug)]
pub(super) struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// The `sub` of the ID token (from the code grant; refreshes issue none here).
    pub subject: Option<String>,
}

impl Flow {
    pub(super) async fn redeem(
        &mut self,
        endpoints: &Endpoints,
        pushed: &Pushed,
        code: &str,
    ) -> anyhow::Result<Tokens> {
        self.begin(6);
        let form = vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.to_owned()),
            ("redirect_uri".into(), pushed.redirect_uri.clone()),
            ("code_verifier".into(), pushed.verifier.to_string()),
        ];
        let mut call = Call::post(&endpoints.token, form);
        call.client_auth = true;
        call.dpop = true;
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        ensure!(
            reply.header("cache-control") == Some("no-store"),
            "the token response is not Cache-Control: no-store (RFC 6749 §5.1)"
        );
        let body = reply.json()?;
        let token_type = text(&body, "token_type")?;
        ensure!(
            token_type.eq_ignore_ascii_case("DPoP"),
            "token_type is {token_type}, not DPoP: the token is not sender-constrained"
        );
        self.out.ok(&format!("token_type {token_type}"));
        let access_token = text(&body, "access_token")?;
        self.check_access_token(endpoints, &access_token, true)?;

        let id_token = text(&body, "id_token")?;
        let claims = self.verify(endpoints, &id_token, None)?;
        self.out.json(
            "ID token claims (signature verified)",
            &Value::Object(claims.clone()),
        );
        ensure!(
            claims.get("iss").and_then(Value::as_str) == Some(endpoints.issuer.as_str()),
            "the ID token's iss is not the issuer"
        );
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.client.client_id,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&self.client.client_id)),
            _ => false,
        };
        ensure!(
            aud_ok,
            "the ID token's aud is not {}",
            self.client.client_id
        );
        ensure!(
            claims.get("nonce").and_then(Value::as_str) == Some(pushed.nonce.as_str()),
            "the ID token's nonce is not the one the client pushed (OIDC Core §3.1.3.7)"
        );
        self.out
            .ok("ID token: signature verified against /jwks; iss, aud and nonce are the client's");
        let refresh_token = body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        ensure!(refresh_token.is_some(), "no refresh_token was issued");
        Ok(Tokens {
            access_token,
            refresh_token,
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        })
    }

    pub(super) async fn userinfo(
        &mut self,
        endpoints: &Endpoints,
        tokens: &Tokens,
    ) -> anyhow::Result<()> {
        self.begin(7);
        self.out.line(&format!(
            "   ath = BASE64URL(SHA-256(access token)) = {}",
            sha256_b64url(&tokens.access_token)
        ));
        let mut call = Call::get(&endpoints.userinfo);
        call.dpop = true;
        call.access_token = Some(&tokens.access_token);
        call.explain_jwts = true;
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        let body = reply.json()?;
        let sub = text(&body, "sub")?;
        ensure!(
            tokens.subject.as_deref() == Some(sub.as_str()),
            "userinfo's sub is not the ID token's sub (OIDC Core §5.3.2)"
        );
        ensure!(
            body.get("preferred_username").and_then(Value::as_str) == Some(self.username.as_str()),
            "userinfo is not about {}",
            self.username
        );
        self.out.ok(&format!(
            "the DPoP-bound token works with a proof from its key: {} (same sub as the ID token)",
            self.username
        ));
        Ok(())
    }

    pub(super) async fn refresh(
        &mut self,
        endpoints: &Endpoints,
        tokens: &Tokens,
    ) -> anyhow::Result<Tokens> {
        self.begin(8);
        let refresh_token = tokens
            .refresh_token
            .clone()
            .context("no refresh token from step 7")?;
        let form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token),
        ];
        let mut call = Call::post(&endpoints.token, form);
        call.client_auth = true;
        call.dpop = true;
        // The same authorization_details as in step 7: not repeated.
        call.show = Show::Fields(&[
            "access_token",
            "token_type",
            "expires_in",
            "scope",
            "refresh_token",
            "id_token",
        ]);
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        let body = reply.json()?;
        let token_type = text(&body, "token_type")?;
        ensure!(
            token_type.eq_ignore_ascii_case("DPoP"),
            "token_type is {token_type}, not DPoP"
        );
        let access_token = text(&body, "access_token")?;
        ensure!(
            access_token != tokens.access_token,
            "the refresh returned the old access token"
        );
        self.check_access_token(endpoints, &access_token, false)?;
        let rotated = body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match &rotated {
            None => self.out.ok(
                "new DPoP access token; no new refresh token: it is not rotated \
                 (FAPI 2.0 §5.3.2.1 item 8)",
            ),
            Some(_) => self.out.note(
                "the server rotated the refresh token (FAPI 2.0 allows it only in extraordinary \
                 circumstances); the demo revokes the new one",
            ),
        }
        Ok(Tokens {
            access_token,
            refresh_token: rotated,
            subject: tokens.subject.clone(),
        })
    }

    pub(super) async fn revoke(
        &mut self,
        endpoints: &Endpoints,
        refresh_token: &str,
    ) -> anyhow::Result<()> {
        self.begin(9);
        let form = vec![
            ("token".into(), refresh_token.to_owned()),
            ("token_type_hint".into(), "refresh_token".into()),
        ];
        let mut call = Call::post(&endpoints.revoke, form);
        call.client_auth = true;
        let reply = self.client.call(&self.out, &call).await?;
        expect_status(&reply, StatusCode::OK)?;
        self.out
            .ok("200 OK: revoked (RFC 7009 §2.2 answers 200 for unknown tokens too)");
        Ok(())
    }

    pub(super) async fn rejected(
        &mut self,
        endpoints: &Endpoints,
        access_token: &str,
    ) -> anyhow::Result<()> {
        self.begin(10);
        let mut call = Call::get(&endpoints.userinfo);
        call.dpop = true;
        call.access_token = Some(access_token);
        let reply = self.client.call(&self.out, &call).await?;
        if reply.status.is_success() {
            bail!(
                "userinfo accepted an access token whose grant was revoked (FAPI 2.0 §5.3.3 item 3)"
            );
        }
        expect_status(&reply, StatusCode::UNAUTHORIZED)?;
        let challenge = reply
            .header("www-authenticate")
            .context("the 401 has no WWW-Authenticate challenge (RFC 6750 §3)")?;
        ensure!(
            challenge.starts_with("DPoP"),
            "the challenge is not a DPoP challenge (RFC 9449 §7.1)"
        );
        ensure!(
            reply.oauth_error().as_deref() == Some("invalid_token"),
            "the error is not invalid_token"
        );
        self.out.ok(
            "401 invalid_token: revoking the refresh token revoked its grant, so the refreshed \
             access token is dead although it has not expired",
        );
        Ok(())
    }

    /// Verifies an access token (RFC 9068 `at+jwt`) and that it is bound to the demo's DPoP key;
    /// prints its header and claims when `verbose`, else the claims that changed.
    fn check_access_token(
        &self,
        endpoints: &Endpoints,
        token: &str,
        verbose: bool,
    ) -> anyhow::Result<()> {
        let claims = self.verify(endpoints, token, Some("at+jwt"))?;
        if verbose {
            let header = decode_header(token)?;
            self.out
                .json("access token header", &Value::Object(header.raw.clone()));
            self.out.json(
                "access token claims (signature verified)",
                &Value::Object(claims.clone()),
            );
        } else {
            let brief: Map<String, Value> = claims
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "jti" | "iat" | "exp" | "cnf"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.out.json(
                "new access token claims (signature verified; the rest as in step 7)",
                &Value::Object(brief),
            );
        }
        let jkt = claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .context("the access token has no cnf.jkt: it is not DPoP-bound (RFC 9449 §6.1)")?;
        ensure!(
            jkt == self.client.dpop_jkt,
            "cnf.jkt {jkt} is not the thumbprint of the demo's DPoP key {}",
            self.client.dpop_jkt
        );
        ensure!(
            claims.get("iss").and_then(Value::as_str) == Some(endpoints.issuer.as_str()),
            "the access token's iss is not the issuer"
        );
        self.out.ok(
            "access token: signature verified against /jwks; cnf.jkt is the thumbprint of the \
             demo's DPoP key, so only a holder of that key can use it",
        );
        Ok(())
    }

    fn verify(
        &self,
        endpoints: &Endpoints,
        token: &str,
        typ: Option<&'static str>,
    ) -> anyhow::Result<Map<String, Value>> {
        let mut opts = VerifyOptions::new(time::OffsetDateTime::now_utc());
        if let Some(t) = typ {
            opts = opts.with_typ(t);
        }
        verify_jwt(token, &endpoints.jwks, &opts)
            .context("the token's signature or claims did not verify against the server's /jwks")
    }
}
