//! Client tokens for client-side tokenization: a merchant's server (authenticated, scope
//! `vault`) gets a short-lived signed token and puts it in its checkout page; the browser or app
//! posts the card straight to the vault with it and gets a one-time payment nonce, so the card
//! number never passes through the merchant's systems.
//!
//! The token is a JWS signed with the server's token-signing key (local or in the HSM) and
//! explicitly typed (RFC 8725 §3.11), so no other token of ours is accepted as one. It names the
//! client (`sub`), the one web origin whose pages may use it (`origin`), and is addressed to the
//! nonce endpoint (`aud`).

use crate::VaultError;
use serde_json::{Value, json};
use shonin_jose::VerifyOptions;
use time::{Duration, OffsetDateTime};

/// The JWS `typ` of a client token.
pub const CLIENT_TOKEN_TYP: &str = "vault-client+jwt";

/// The path client tokens are addressed to (their `aud` is the issuer followed by it).
pub const NONCE_PATH: &str = "/vault/nonces";

/// A web origin as a browser sends it in `Origin` (RFC 6454 §6.2): `https://host[:port]`, or
/// `http://` for `localhost` and loopback addresses only (development).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOrigin(String);

/// The longest origin accepted.
pub const MAX_ORIGIN_CHARS: usize = 300;

impl WebOrigin {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const FORM: &str = "an origin as a browser sends it: https://host[:port], lowercase, \
                            no path (http:// only for localhost and loopback)";
        if text.len() > MAX_ORIGIN_CHARS {
            return Err("an origin is at most 300 characters");
        }
        let url = url::Url::parse(text).map_err(|_| FORM)?;
        let serialized = url.origin().ascii_serialization();
        if serialized != text {
            return Err(FORM);
        }
        let loopback = matches!(
            url.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        );
        match url.scheme() {
            "https" => Ok(WebOrigin(serialized)),
            "http" if loopback => Ok(WebOrigin(serialized)),
            _ => Err(FORM),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a verified client token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    /// The client (the vault's tenant) whose nonces the token makes.
    pub client_id: String,
    /// The origin whose pages may use it.
    pub origin: WebOrigin,
    /// The token's `jti`, for the audit log.
    pub id: String,
}

/// A new client token's `jti`: `ct_` and 22 base64url characters (128 random bits).
pub fn new_id() -> Result<String, shonin_keys::KeyError> {
    crate::random_id::generate("ct_", "client token id")
}

/// The claims of a new client token for `client_id` and `origin`, valid `ttl` from `now`.
pub fn claims(
    issuer: &str,
    client_id: &str,
    origin: &WebOrigin,
    id: &str,
    now: OffsetDateTime,
    ttl: Duration,
) -> Value {
    json!({
        "iss": issuer,
        "aud": format!("{issuer}{NONCE_PATH}"),
        "sub": client_id,
        "origin": origin.as_str(),
        "iat": now.unix_timestamp(),
        "exp": (now + ttl).unix_timestamp(),
        "jti": id,
    })
}

/// Verifies a client token against the server's published keys: signature, `typ`, `iss`, `aud`,
/// `exp` (RFC 7519 §7.2). The error says which check failed; it never echoes the token.
pub fn verify(
    token: &str,
    jwks: &Value,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<ClientGrant, VaultError> {
    let bad = VaultError::ClientToken;
    let opts = VerifyOptions::new(now).with_typ(CLIENT_TOKEN_TYP);
    let claims = shonin_jose::verify_jwt(token, jwks, &opts).map_err(|e| match e {
        shonin_jose::JoseError::Expired => bad("the client token has expired"),
        _ => bad("the client token does not verify"),
    })?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(issuer) {
        return Err(bad("the client token is not from this issuer"));
    }
    if text("aud") != Some(&format!("{issuer}{NONCE_PATH}")) {
        return Err(bad("the client token is not for this endpoint"));
    }
    let client_id = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or(bad("the client token names no client"))?;
    let origin = text("origin")
        .and_then(|o| WebOrigin::parse(o).ok())
        .ok_or(bad("the client token names no origin"))?;
    // `exp` was required and checked by `verify_jwt` (`VerifyOptions::new` requires it).
    Ok(ClientGrant {
        client_id: client_id.to_owned(),
        origin,
        id: text("jti").unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_taken_only_in_the_form_browsers_send() {
        for good in [
            "https://shop.example",
            "https://shop.example:8443",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(WebOrigin::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "shop.example",
            "https://shop.example/",
            "https://shop.example/checkout",
            "https://Shop.example",
            "https://shop.example:443",
            "https://user@shop.example",
            "https://shop.example?x=1",
            "http://shop.example",
            "http://10.0.0.1",
            "javascript:alert(1)",
            "null",
            "file:///etc/passwd",
        ] {
            assert!(WebOrigin::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://{}.example", "a".repeat(300));
        assert!(WebOrigin::parse(&long).is_err());
    }
}
