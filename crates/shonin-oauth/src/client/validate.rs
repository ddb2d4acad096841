//! [`validate`]: a [`ClientRegistration`] becomes a [`Client`] only if every rule holds.

use super::{
    Client, ClientError, ClientId, ClientJwks, ClientRegistration, GrantType,
    TokenEndpointAuthMethod,
};
use crate::ciba::DeliveryMode;
use crate::mtls::{Rdns, TlsClientAuthSubject, is_thumbprint};
use serde_json::{Map, Value};
use shonin_jose::{Alg, JoseError, PRIVATE_JWK_MEMBERS, validate_public_jwk};
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use time::OffsetDateTime;
use url::{Host, Url};

/// The longest `client_name`, in characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 200;
/// The longest redirect URI, in bytes (a common URL limit; longer ones are a mistake or an
/// attack on whoever displays them).
pub const MAX_REDIRECT_URI_LEN: usize = 2048;
/// The most keys an inline JWK set may hold (bounds the work of picking a key per request).
pub const MAX_JWKS_KEYS: usize = 32;
/// The longest scope value, in characters.
pub const MAX_SCOPE_TOKEN_LEN: usize = 128;
/// The longest `authorization_details` type, in characters.
const MAX_DETAILS_TYPE_LEN: usize = 256;

/// Checks `reg` against every client rule and returns the client, created and updated at `now`.
///
/// Duplicate redirect URIs, scopes, `authorization_details` types and grant types are dropped
/// (first occurrence kept). For an update, validate the edited registration and then set
/// `created_at` back to the stored client's.
pub fn validate(reg: ClientRegistration, now: OffsetDateTime) -> Result<Client, ClientError> {
    let tls_client_auth_subject_checked =
        auth_method(&reg.token_endpoint_auth_method).and_then(|m| tls_subject(&reg, m));
    let client_id = ClientId::try_from(reg.client_id)?;
    check_client_name(&reg.client_name)?;
    let token_endpoint_auth_method = auth_method(&reg.token_endpoint_auth_method)?;
    // FAPI 2.0 §5.3.2.1 item 4: sender-constrained access tokens only, by DPoP, mTLS or both.
    if !reg.dpop_bound_access_tokens && !reg.tls_client_certificate_bound_access_tokens {
        return Err(ClientError::SenderConstraintRequired);
    }
    let tls_client_auth_subject = tls_client_auth_subject_checked?;
    let pinned_certificates = thumbprints("pinned_certificates", reg.pinned_certificates)?;
    let revoked_certificates = thumbprints("revoked_certificates", reg.revoked_certificates)?;
    let grant_types = grant_types(&reg.grant_types)?;
    let redirect_uris = dedup(reg.redirect_uris);
    for (index, uri) in redirect_uris.iter().enumerate() {
        check_redirect_uri(index, uri, reg.native_loopback_redirects)?;
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(ClientError::NoRedirectUris);
    }
    let jwks = match (reg.jwks, reg.jwks_uri) {
        (Some(_), Some(_)) => return Err(ClientError::JwksAndJwksUri),
        // RFC 8705 §2.1: a CA-issued certificate authenticates without registered keys.
        (None, None) if token_endpoint_auth_method == TokenEndpointAuthMethod::TlsClientAuth => {
            ClientJwks::None
        }
        (None, None) => return Err(ClientError::MissingJwks),
        (Some(set), None) => {
            check_jwks(&set)?;
            ClientJwks::Inline(set)
        }
        (None, Some(uri)) => {
            check_jwks_uri(&uri)?;
            ClientJwks::Uri(uri)
        }
    };
    let backchannel_token_delivery_mode = backchannel(
        grant_types.contains(&GrantType::Ciba),
        reg.backchannel_token_delivery_mode.as_deref(),
        reg.backchannel_client_notification_endpoint.as_deref(),
    )?;
    let scope = dedup(reg.scope);
    if let Some(bad) = scope.iter().find(|s| !is_scope_token(s)) {
        return Err(ClientError::InvalidScope { scope: bad.clone() });
    }
    let authorization_details_types = dedup(reg.authorization_details_types);
    if let Some(bad) = authorization_details_types
        .iter()
        .find(|t| !is_details_type(t))
    {
        return Err(ClientError::InvalidAuthorizationDetailsType { ty: bad.clone() });
    }
    Ok(Client {
        client_id,
        client_name: reg.client_name,
        redirect_uris,
        jwks,
        token_endpoint_auth_method,
        dpop_bound_access_tokens: reg.dpop_bound_access_tokens,
        tls_client_certificate_bound_access_tokens: reg.tls_client_certificate_bound_access_tokens,
        tls_client_auth_subject,
        pinned_certificates,
        revoked_certificates,
        require_dpop_nonce: reg.require_dpop_nonce,
        scope,
        authorization_details_types,
        grant_types,
        native_loopback_redirects: reg.native_loopback_redirects,
        backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint: reg.backchannel_client_notification_endpoint,
        created_at: now,
        updated_at: now,
    })
}

fn dedup(values: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

fn check_client_name(name: &str) -> Result<(), ClientError> {
    if name.is_empty() {
        return Err(ClientError::ClientNameEmpty);
    }
    if name.chars().count() > MAX_CLIENT_NAME_CHARS {
        return Err(ClientError::ClientNameTooLong {
            max: MAX_CLIENT_NAME_CHARS,
        });
    }
    // The name is shown on the consent page: the displayed-text rule applies.
    if !shonin_types::text::is_displayable(name) {
        return Err(ClientError::ClientNameControlCharacter);
    }
    Ok(())
}

fn auth_method(method: &str) -> Result<TokenEndpointAuthMethod, ClientError> {
    TokenEndpointAuthMethod::parse(method).ok_or_else(|| ClientError::UnsupportedAuthMethod {
        method: method.to_owned(),
    })
}

/// The longest registered subject value, in bytes.
const MAX_TLS_SUBJECT_LEN: usize = 1024;

/// RFC 8705 §2.1.2: `tls_client_auth` registers exactly one subject value; other methods none.
fn tls_subject(
    reg: &ClientRegistration,
    method: TokenEndpointAuthMethod,
) -> Result<Option<TlsClientAuthSubject>, ClientError> {
    let given: Vec<(&'static str, &String)> = [
        (
            "tls_client_auth_subject_dn",
            &reg.tls_client_auth_subject_dn,
        ),
        ("tls_client_auth_san_dns", &reg.tls_client_auth_san_dns),
        ("tls_client_auth_san_uri", &reg.tls_client_auth_san_uri),
        ("tls_client_auth_san_ip", &reg.tls_client_auth_san_ip),
        ("tls_client_auth_san_email", &reg.tls_client_auth_san_email),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    .collect();
    if method != TokenEndpointAuthMethod::TlsClientAuth {
        return match given.first() {
            Some((field, _)) => Err(ClientError::TlsSubjectWithoutTlsClientAuth { field }),
            None => Ok(None),
        };
    }
    let (field, value) = match given.as_slice() {
        [] => return Err(ClientError::TlsSubjectRequired),
        [one] => *one,
        [_, (field, _), ..] => return Err(ClientError::TlsSubjectAmbiguous { field }),
    };
    let invalid = |reason| ClientError::TlsSubjectInvalid { field, reason };
    if value.trim().is_empty() {
        return Err(invalid("must not be empty"));
    }
    if value.len() > MAX_TLS_SUBJECT_LEN {
        return Err(invalid("must be at most 1024 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters"));
    }
    let subject = match field {
        "tls_client_auth_subject_dn" => {
            if Rdns::parse_rfc4514(value).is_none() {
                return Err(invalid(
                    "is not an RFC 4514 distinguished name with known attribute types \
                     (CN, O, OU, C, L, ST, STREET, DC, UID, serialNumber, emailAddress, \
                     organizationIdentifier, postalCode, or a dotted OID); #hex values are \
                     not supported",
                ));
            }
            TlsClientAuthSubject::SubjectDn(value.clone())
        }
        "tls_client_auth_san_dns" => TlsClientAuthSubject::SanDns(value.clone()),
        "tls_client_auth_san_uri" => {
            if absolute(value).is_none() {
                return Err(invalid("is not an absolute URI"));
            }
            TlsClientAuthSubject::SanUri(value.clone())
        }
        "tls_client_auth_san_ip" => TlsClientAuthSubject::SanIp(
            value
                .parse()
                .map_err(|_| invalid("is not an IPv4 or IPv6 address"))?,
        ),
        _ => {
            if !value.contains('@') {
                return Err(invalid("is not an email address"));
            }
            TlsClientAuthSubject::SanEmail(value.clone())
        }
    };
    Ok(Some(subject))
}

fn thumbprints(field: &'static str, values: Vec<String>) -> Result<Vec<String>, ClientError> {
    let values = dedup(values);
    if let Some(bad) = values.iter().find(|v| !is_thumbprint(v)) {
        return Err(ClientError::InvalidCertificateThumbprint {
            field,
            value: bad.chars().take(64).collect(),
        });
    }
    Ok(values)
}

fn grant_types(names: &[String]) -> Result<Vec<GrantType>, ClientError> {
    if names.is_empty() {
        return Err(ClientError::NoGrantTypes);
    }
    let mut grants = Vec::with_capacity(names.len());
    for name in names {
        let grant = match name.as_str() {
            // FAPI 2.0 §5.3.2.1 item 2 (password), §5.3.2.2 item 1 (response_type=code only).
            "password" | "implicit" => {
                return Err(ClientError::ForbiddenGrantType {
                    grant: name.clone(),
                });
            }
            other => GrantType::parse(other).ok_or_else(|| ClientError::UnsupportedGrantType {
                grant: name.clone(),
            })?,
        };
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.contains(&GrantType::RefreshToken)
        && !grants.contains(&GrantType::AuthorizationCode)
        && !grants.contains(&GrantType::Ciba)
    {
        return Err(ClientError::RefreshTokenWithoutAuthorizationCode);
    }
    Ok(grants)
}

/// `true` if the URI text has something a URL parser would silently drop or rewrite.
fn has_space_or_control(uri: &str) -> bool {
    uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Parses `uri` as an absolute `scheme://host…` URI, exactly as written.
fn absolute(uri: &str) -> Option<Url> {
    if has_space_or_control(uri) {
        return None;
    }
    let url = Url::parse(uri).ok()?;
    // `Url::parse` accepts `https:host` and `https:/host` for special schemes; insist on the
    // authority form so the registered string is what it appears to be.
    let authority = uri
        .get(..url.scheme().len() + 3)
        .is_some_and(|p| p.eq_ignore_ascii_case(&format!("{}://", url.scheme())));
    let has_host = url.host_str().is_some_and(|h| !h.is_empty());
    (authority && has_host).then_some(url)
}

fn check_redirect_uri(index: usize, uri: &str, native_loopback: bool) -> Result<(), ClientError> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(ClientError::RedirectUriTooLong {
            index,
            max: MAX_REDIRECT_URI_LEN,
        });
    }
    let owned = || uri.to_owned();
    // Checked before parsing: `*` is legal in a URL path, so only this rule catches it.
    if uri.contains('*') {
        return Err(ClientError::RedirectUriWildcard { uri: owned() });
    }
    let url = absolute(uri).ok_or_else(|| ClientError::RedirectUriNotAbsolute { uri: owned() })?;
    // RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment component.
    if url.fragment().is_some() {
        return Err(ClientError::RedirectUriFragment { uri: owned() });
    }
    match url.scheme() {
        "https" => Ok(()),
        // FAPI 2.0 §5.3.2.2 item 6 and RFC 8252 §7.3: http only to a loopback IP literal, written
        // as such (not `localhost`, RFC 8252 §8.3, and not another spelling the parser would
        // normalise, such as `http://0x7f.1`).
        "http" if is_loopback_literal(&url, uri) => {
            if native_loopback {
                Ok(())
            } else {
                Err(ClientError::LoopbackRedirectNotAllowed { uri: owned() })
            }
        }
        _ => Err(ClientError::RedirectUriNotHttps { uri: owned() }),
    }
}

fn is_loopback_literal(url: &Url, uri: &str) -> bool {
    let literal = |prefix: &str| {
        uri.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && matches!(uri.as_bytes().get(prefix.len()), None | Some(b':' | b'/'))
    };
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST && literal("http://127.0.0.1"),
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST && literal("http://[::1]"),
        _ => false,
    }
}

fn check_jwks_uri(uri: &str) -> Result<(), ClientError> {
    let owned = || uri.to_owned();
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(ClientError::JwksUriNotAbsolute {
            uri: uri.chars().take(64).collect(),
        });
    }
    let url = absolute(uri).ok_or_else(|| ClientError::JwksUriNotAbsolute { uri: owned() })?;
    if url.fragment().is_some() {
        return Err(ClientError::JwksUriFragment { uri: owned() });
    }
    // FAPI 2.0 §5.4: jwks_uri served only over TLS.
    if url.scheme() != "https" {
        return Err(ClientError::JwksUriNotHttps { uri: owned() });
    }
    Ok(())
}

/// CIBA Core §4: a client with the CIBA grant names its delivery mode, `poll` or `ping` (`push`
/// is not offered: FAPI-CIBA §5.2.2 item 2 forbids it); a `ping` client names an https
/// notification endpoint; a client without the grant names neither.
fn backchannel(
    ciba: bool,
    mode: Option<&str>,
    endpoint: Option<&str>,
) -> Result<Option<DeliveryMode>, ClientError> {
    let field = "backchannel_token_delivery_mode";
    let Some(mode) = mode else {
        return if ciba {
            Err(ClientError::Backchannel {
                field,
                rule: "is required with the CIBA grant type",
            })
        } else if endpoint.is_some() {
            Err(ClientError::Backchannel {
                field: "backchannel_client_notification_endpoint",
                rule: "is only for clients with the CIBA grant type in ping mode",
            })
        } else {
            Ok(None)
        };
    };
    if !ciba {
        return Err(ClientError::Backchannel {
            field,
            rule: "is only for clients with the CIBA grant type",
        });
    }
    let mode = DeliveryMode::parse(mode).ok_or(ClientError::Backchannel {
        field,
        rule: "must be \"poll\" or \"ping\" (push is not supported)",
    })?;
    let field = "backchannel_client_notification_endpoint";
    match (mode, endpoint) {
        (DeliveryMode::Poll, None) => {}
        (DeliveryMode::Poll, Some(_)) => {
            return Err(ClientError::Backchannel {
                field,
                rule: "is only for ping mode",
            });
        }
        (DeliveryMode::Ping, None) => {
            return Err(ClientError::Backchannel {
                field,
                rule: "is required for ping mode",
            });
        }
        (DeliveryMode::Ping, Some(uri)) => {
            let ok = uri.len() <= MAX_REDIRECT_URI_LEN
                && absolute(uri).is_some_and(|u| {
                    u.scheme() == "https"
                        && u.fragment().is_none()
                        && u.username().is_empty()
                        && u.password().is_none()
                });
            if !ok {
                return Err(ClientError::Backchannel {
                    field,
                    rule: "must be an absolute https URL without a fragment or user info",
                });
            }
        }
    }
    Ok(Some(mode))
}

fn check_jwks(set: &Value) -> Result<(), ClientError> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(ClientError::JwksNotASet)?;
    if keys.is_empty() {
        return Err(ClientError::JwksEmpty);
    }
    if keys.len() > MAX_JWKS_KEYS {
        return Err(ClientError::JwksTooManyKeys { max: MAX_JWKS_KEYS });
    }
    let mut kids = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let key = key.as_object().ok_or(ClientError::JwksNotASet)?;
        check_key(index, key)?;
        match key.get("kid") {
            Some(Value::String(kid)) if !kids.insert(kid.as_str()) => {
                return Err(ClientError::JwksDuplicateKid { kid: kid.clone() });
            }
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(ClientError::JwksKeyUnusable {
                    index,
                    reason: JoseError::InvalidJwk("kid"),
                });
            }
            None if keys.len() > 1 => return Err(ClientError::JwksKidMissing { index }),
            None => {}
        }
    }
    Ok(())
}

/// One key: public, and a valid key for the algorithm it declares or, without `alg`, the one
/// algorithm its key type allows.
fn check_key(index: usize, key: &Map<String, Value>) -> Result<(), ClientError> {
    if PRIVATE_JWK_MEMBERS.iter().any(|m| key.contains_key(*m)) {
        return Err(ClientError::JwksPrivateKey { index });
    }
    let unusable = |reason| ClientError::JwksKeyUnusable { index, reason };
    let alg = match key.get("alg") {
        Some(Value::String(a)) => {
            a.parse::<Alg>()
                .map_err(|_| ClientError::JwksKeyAlgNotAllowed {
                    index,
                    alg: a.chars().take(32).collect(),
                })?
        }
        Some(_) => return Err(unusable(JoseError::InvalidJwk("alg"))),
        None => match key.get("kty").and_then(Value::as_str) {
            Some("EC") => Alg::ES256,
            Some("RSA") => Alg::PS256,
            Some("OKP") => Alg::EdDSA,
            Some(_) => return Err(unusable(JoseError::UnsupportedKty)),
            None => return Err(unusable(JoseError::InvalidJwk("kty"))),
        },
    };
    let as_value = Value::Object(key.clone());
    validate_public_jwk(&as_value, alg).map_err(|e| match e {
        JoseError::PrivateJwk => ClientError::JwksPrivateKey { index },
        other => unusable(other),
    })
}

/// The scopes of `requested` that `supported` (the server's `oauth.scopes`) does not list, for
/// an error message.
pub fn unsupported_scopes<'a>(supported: &[String], requested: &'a [String]) -> Vec<&'a str> {
    requested
        .iter()
        .filter(|s| !supported.contains(s))
        .map(String::as_str)
        .collect()
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, at most
/// [`MAX_SCOPE_TOKEN_LEN`] bytes.
pub fn is_scope_token(s: &str) -> bool {
    (1..=MAX_SCOPE_TOKEN_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

fn is_details_type(s: &str) -> bool {
    (1..=MAX_DETAILS_TYPE_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_is_the_rfc_6749_character_set() {
        for ok in ["openid", "accounts:read", "a!#[]^~", "x"] {
            assert!(is_scope_token(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", &"s".repeat(129)] {
            assert!(!is_scope_token(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_must_be_written_as_a_literal() {
        let check = |uri: &str| {
            let url = Url::parse(uri).unwrap();
            is_loopback_literal(&url, uri)
        };
        assert!(check("http://127.0.0.1:8080/cb"));
        assert!(check("http://127.0.0.1/cb"));
        assert!(check("http://[::1]:9000/cb"));
        assert!(!check("http://0x7f.0.0.1/cb"));
        assert!(!check("http://127.1/cb"));
        assert!(!check("http://127.0.0.10/cb"));
        assert!(!check("http://localhost/cb"));
    }

    #[test]
    fn absolute_insists_on_the_authority_form() {
        assert!(absolute("https://rp.example/cb").is_some());
        assert!(absolute("https:rp.example/cb").is_none());
        assert!(absolute("https:/rp.example/cb").is_none());
        assert!(absolute("/cb").is_none());
        assert!(absolute(" https://rp.example/cb").is_none());
        assert!(absolute("https://rp.example/c\nb").is_none());
        assert!(absolute("com.example.app:/cb").is_none());
    }
}
