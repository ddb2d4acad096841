//! Why a client registration was refused, as the operator should read it: the field, as a path
//! into the registration document (`redirect_uris[0]`, `jwks.keys[1]`, `grant_types[2]`), and
//! the rule. Shared by `shonin clients`, `[[clients]]` validation and the clients' sync.

use super::{ClientError, ClientRegistration};

/// A refused registration: the field, as a path into the registration, and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// E.g. `client_id`, `redirect_uris[0]`, `jwks.keys[1]`, `grant_types[2]`.
    pub field: String,
    pub rule: String,
}

/// Names the field of `reg` that `err` is about, with its index in a list where it has one.
pub fn explain(err: &ClientError, reg: &ClientRegistration) -> Refusal {
    use ClientError as E;
    let at = |list: &[String], name: &str, value: &str| match list.iter().position(|v| v == value) {
        Some(i) => format!("{name}[{i}]"),
        None => name.to_owned(),
    };
    let field = match err {
        E::InvalidClientId => "client_id".to_owned(),
        E::ClientNameEmpty | E::ClientNameTooLong { .. } | E::ClientNameControlCharacter => {
            "client_name".to_owned()
        }
        E::RedirectUriTooLong { index, .. } => format!("redirect_uris[{index}]"),
        E::RedirectUriNotAbsolute { uri }
        | E::RedirectUriFragment { uri }
        | E::RedirectUriWildcard { uri }
        | E::RedirectUriNotHttps { uri }
        | E::LoopbackRedirectNotAllowed { uri } => at(&reg.redirect_uris, "redirect_uris", uri),
        E::NoRedirectUris => "redirect_uris".to_owned(),
        E::MissingJwks | E::JwksAndJwksUri | E::JwksNotASet => "jwks".to_owned(),
        E::JwksEmpty | E::JwksTooManyKeys { .. } | E::JwksDuplicateKid { .. } => {
            "jwks.keys".to_owned()
        }
        E::JwksPrivateKey { index }
        | E::JwksKeyAlgNotAllowed { index, .. }
        | E::JwksKeyUnusable { index, .. }
        | E::JwksKidMissing { index } => format!("jwks.keys[{index}]"),
        E::JwksUriNotAbsolute { .. } | E::JwksUriNotHttps { .. } | E::JwksUriFragment { .. } => {
            "jwks_uri".to_owned()
        }
        E::UnsupportedAuthMethod { .. } => "token_endpoint_auth_method".to_owned(),
        E::SenderConstraintRequired => "dpop_bound_access_tokens".to_owned(),
        E::TlsSubjectRequired => "tls_client_auth_subject_dn".to_owned(),
        E::TlsSubjectAmbiguous { field }
        | E::TlsSubjectWithoutTlsClientAuth { field }
        | E::TlsSubjectInvalid { field, .. }
        | E::InvalidCertificateThumbprint { field, .. }
        | E::Backchannel { field, .. } => (*field).to_owned(),
        E::NoGrantTypes | E::RefreshTokenWithoutAuthorizationCode => "grant_types".to_owned(),
        E::ForbiddenGrantType { grant } | E::UnsupportedGrantType { grant } => {
            at(&reg.grant_types, "grant_types", grant)
        }
        E::InvalidScope { scope } => at(&reg.scope, "scope", scope),
        E::InvalidAuthorizationDetailsType { ty } => at(
            &reg.authorization_details_types,
            "authorization_details_types",
            ty,
        ),
    };
    let message = err.to_string();
    // Messages of the form "redirect_uris: …" already start with the list's name.
    let rule = field
        .split('[')
        .next()
        .and_then(|name| message.strip_prefix(&format!("{name}: ")))
        .map_or_else(|| message.clone(), str::to_owned);
    Refusal { field, rule }
}
