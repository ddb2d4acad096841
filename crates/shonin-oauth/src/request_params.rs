//! Parameters that the pushed authorization request (RFC 9126) and the backchannel
//! authentication request (OpenID CIBA Core §7.1) read the same way: `scope` against the
//! client's registration, RFC 9396 `authorization_details` under the shipped policy, and
//! `acr_values`.

use crate::form::{FormError, FormParams};
use crate::rar::{AuthorizationDetailsPolicy, RarError};
use serde_json::Value;

const MAX_SCOPE: usize = 1024;
const MAX_ACR_VALUES: usize = 512;
const MAX_AUTHORIZATION_DETAILS: usize = 16 * 1024;

/// Why `scope` was refused.
#[derive(Debug)]
pub(crate) enum ScopeRefusal {
    Form(FormError),
    /// A value outside RFC 6749 §3.3's scope-token characters, or longer than a registered scope
    /// may be ([`crate::client::MAX_SCOPE_TOKEN_LEN`]).
    Syntax,
    /// A value the client is not registered for (at most 64 characters of it).
    NotAllowed(String),
}

/// The `scope` values, each registered for the client (`allowed`), once each in the order
/// given; `None` when the parameter is absent.
pub(crate) fn scopes(
    params: &FormParams,
    allowed: &[String],
) -> Result<Option<Vec<String>>, ScopeRefusal> {
    let Some(text) = params
        .get_bounded("scope", MAX_SCOPE)
        .map_err(ScopeRefusal::Form)?
    else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        if !crate::client::is_scope_token(token) {
            return Err(ScopeRefusal::Syntax);
        }
        if !allowed.iter().any(|a| a == token) {
            return Err(ScopeRefusal::NotAllowed(token.chars().take(64).collect()));
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_owned());
        }
    }
    Ok(Some(out))
}

/// Why `authorization_details` was refused.
#[derive(Debug)]
pub(crate) enum DetailsRefusal {
    Form(FormError),
    Rar(RarError),
}

/// RFC 9396 `authorization_details`, each of a type the client may request (`types`), checked
/// against its JSON schema; empty when absent.
pub(crate) fn authorization_details(
    params: &FormParams,
    policy: &AuthorizationDetailsPolicy,
    types: &[String],
) -> Result<Vec<Value>, DetailsRefusal> {
    match params
        .get_bounded("authorization_details", MAX_AUTHORIZATION_DETAILS)
        .map_err(DetailsRefusal::Form)?
    {
        None => Ok(Vec::new()),
        Some(raw) => Ok(policy
            .parse(raw, types)
            .map_err(DetailsRefusal::Rar)?
            .into_iter()
            .map(|d| d.into_value())
            .collect()),
    }
}

/// The space-separated `acr_values`; empty when absent.
pub(crate) fn acr_values(params: &FormParams) -> Result<Vec<String>, FormError> {
    Ok(params
        .get_bounded("acr_values", MAX_ACR_VALUES)?
        .map(|v| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}
