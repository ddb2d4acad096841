//! Token introspection responses (RFC 7662 §2.2), plain and as a signed JWT (RFC 9701).
//!
//! The server looks the presented token up (by its hash), then hands what it found here. A token
//! that is unknown, expired, revoked, not yet valid, or not meant for the caller gets exactly
//! `{"active": false}` (RFC 7662 §2.2, RFC 9701 §5): nothing that would tell a caller probing
//! guessed tokens more than "no".

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// JWS `typ` of a JWT introspection response (RFC 9701 §5).
pub const TOKEN_INTROSPECTION_JWT_TYP: &str = "token-introspection+jwt";
/// Media type a resource server sends in `Accept` to ask for a JWT response, and the response's
/// `Content-Type` (RFC 9701 §4, §5).
pub const TOKEN_INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// How an access token must be presented (RFC 7662 `token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// RFC 6750 bearer token. FAPI 2.0 issues none; kept for completeness of the response.
    Bearer,
    /// RFC 9449 DPoP-bound token.
    DPoP,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
        }
    }
}

/// What the server recorded about a token when it issued it, plus whether it was revoked since.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenFacts {
    pub issuer: String,
    pub client_id: String,
    /// The user, or `None` for a `client_credentials` token (then `sub` is the client id, as in
    /// the access token itself, RFC 9068 §2.2).
    pub subject: Option<String>,
    /// Space-separated scopes; omitted when empty.
    pub scope: String,
    /// The resources the token is for; omitted when empty.
    pub audience: Vec<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub token_type: TokenType,
    /// `cnf.jkt` (RFC 9449 §6.2).
    pub jkt: Option<String>,
    /// `cnf.x5t#S256` (RFC 8705 §3.2).
    pub x5t: Option<String>,
    /// The granted authorization details (RFC 9396 §9.2).
    pub authorization_details: Option<Value>,
    /// Revoked (RFC 7009) or invalidated by authorization code reuse (RFC 6749 §10.5).
    pub revoked: bool,
}

/// `{"active": false}`: the whole answer for any token that is not active (RFC 7662 §2.2).
pub fn inactive() -> Value {
    json!({"active": false})
}

/// The RFC 7662 §2.2 response for `facts` at `now`: the token's claims with `active: true`, or
/// [`inactive`] if there are no facts (unknown token), the token is revoked, or `now` is not
/// within `[issued_at, expires_at)`. Whether the caller may learn about this token (e.g. it is
/// one of the token's audiences) is the server's decision; if not, answer [`inactive`].
pub fn introspection_response(facts: Option<&TokenFacts>, now: OffsetDateTime) -> Value {
    let Some(facts) = facts else {
        return inactive();
    };
    if facts.revoked || now >= facts.expires_at || now < facts.issued_at {
        return inactive();
    }
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    out.insert("iss".into(), json!(facts.issuer));
    out.insert("client_id".into(), json!(facts.client_id));
    out.insert(
        "sub".into(),
        json!(facts.subject.as_deref().unwrap_or(&facts.client_id)),
    );
    if !facts.scope.is_empty() {
        out.insert("scope".into(), json!(facts.scope));
    }
    match facts.audience.as_slice() {
        [] => {}
        [one] => {
            out.insert("aud".into(), json!(one));
        }
        many => {
            out.insert("aud".into(), json!(many));
        }
    }
    out.insert("iat".into(), json!(facts.issued_at.unix_timestamp()));
    out.insert("exp".into(), json!(facts.expires_at.unix_timestamp()));
    out.insert("token_type".into(), json!(facts.token_type.as_str()));
    let mut cnf = Map::new();
    if let Some(jkt) = &facts.jkt {
        cnf.insert("jkt".into(), json!(jkt));
    }
    if let Some(x5t) = &facts.x5t {
        cnf.insert("x5t#S256".into(), json!(x5t));
    }
    if !cnf.is_empty() {
        out.insert("cnf".into(), Value::Object(cnf));
    }
    if let Some(details) = &facts.authorization_details {
        out.insert("authorization_details".into(), details.clone());
    }
    Value::Object(out)
}

/// The claims of an RFC 9701 §5 JWT response: `iss` (this server), `aud` (the introspecting
/// resource server's client id), `iat`, and `token_introspection` holding `response` (from
/// [`introspection_response`] or [`inactive`]). There is deliberately no top-level `sub` or
/// `exp` (RFC 9701 §5 SHOULD NOT), so the JWT cannot pass for an access token. Sign with
/// `typ:` [`TOKEN_INTROSPECTION_JWT_TYP`].
pub fn jwt_response_claims(
    issuer: &str,
    resource_server_client_id: &str,
    issued_at: OffsetDateTime,
    response: Value,
) -> Value {
    json!({
        "iss": issuer,
        "aud": resource_server_client_id,
        "iat": issued_at.unix_timestamp(),
        "token_introspection": response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn facts() -> TokenFacts {
        TokenFacts {
            issuer: "https://as.example".into(),
            client_id: "client-1".into(),
            subject: Some("user-1".into()),
            scope: "openid accounts".into(),
            audience: vec!["https://rs.example".into()],
            issued_at: NOW - Duration::seconds(10),
            expires_at: NOW + Duration::seconds(290),
            token_type: TokenType::DPoP,
            jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
            x5t: None,
            authorization_details: Some(json!([{"type": "account_information",
                "actions": ["read_balances"]}])),
            revoked: false,
        }
    }

    #[test]
    fn active_dpop_token_has_every_fact() {
        let r = introspection_response(Some(&facts()), NOW);
        assert_eq!(
            r,
            json!({
                "active": true,
                "iss": "https://as.example",
                "client_id": "client-1",
                "sub": "user-1",
                "scope": "openid accounts",
                "aud": "https://rs.example",
                "iat": NOW.unix_timestamp() - 10,
                "exp": NOW.unix_timestamp() + 290,
                "token_type": "DPoP",
                "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
                "authorization_details": [{"type": "account_information",
                    "actions": ["read_balances"]}],
            })
        );
    }

    #[test]
    fn unknown_expired_revoked_and_future_tokens_are_just_inactive() {
        assert_eq!(introspection_response(None, NOW), json!({"active": false}));
        let mut revoked = facts();
        revoked.revoked = true;
        assert_eq!(introspection_response(Some(&revoked), NOW), inactive());
        let f = facts();
        assert_eq!(introspection_response(Some(&f), f.expires_at), inactive());
        let before = f.issued_at - Duration::seconds(1);
        assert_eq!(introspection_response(Some(&f), before), inactive());
    }

    #[test]
    fn client_credentials_token_uses_client_id_as_sub_and_bearer_has_no_cnf() {
        let mut f = facts();
        f.subject = None;
        f.token_type = TokenType::Bearer;
        f.jkt = None;
        f.authorization_details = None;
        f.scope = String::new();
        f.audience = vec!["https://a.example".into(), "https://b.example".into()];
        let r = introspection_response(Some(&f), NOW);
        assert_eq!(r["sub"], "client-1");
        assert_eq!(r["token_type"], "Bearer");
        assert_eq!(r["aud"], json!(["https://a.example", "https://b.example"]));
        for absent in ["cnf", "scope", "authorization_details"] {
            assert!(r.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn jwt_response_wraps_the_response_without_top_level_sub_or_exp() {
        let inner = introspection_response(Some(&facts()), NOW);
        let c = jwt_response_claims("https://as.example", "rs-client", NOW, inner.clone());
        assert_eq!(c["iss"], "https://as.example");
        assert_eq!(c["aud"], "rs-client");
        assert_eq!(c["iat"], NOW.unix_timestamp());
        assert_eq!(c["token_introspection"], inner);
        assert!(c.get("sub").is_none() && c.get("exp").is_none());
        let off = jwt_response_claims("https://as.example", "rs-client", NOW, inactive());
        assert_eq!(off["token_introspection"], json!({"active": false}));
    }
}
