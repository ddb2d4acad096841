//! Client authentication at the PAR, token, introspection and revocation endpoints (FAPI 2.0
//! §5.3.2.1 item 5): `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9), `tls_client_auth` and
//! `self_signed_tls_client_auth` (RFC 8705 §2), as each client is registered.

use super::mtls::{self, PresentedCertificate};
use crate::error::OAuthError;
use crate::state::AppState;
use shonin_oauth::client::{ClientJwks, TokenEndpointAuthMethod};
use shonin_oauth::form::FormParams;
use shonin_oauth::mtls::ClientCertificate;
use shonin_oauth::{Client, ClientAssertionParams, ClientAuthError, ClientId};
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;

/// An authenticated client, with the certificate that authenticated it (mTLS methods only).
#[derive(Debug)]
pub struct Authenticated {
    pub client: Client,
    pub certificate: Option<ClientCertificate>,
}

/// Authenticates the client of a form request. Confidential clients
/// only (FAPI 2.0 §5.3.2.1 item 3): a request that authenticates by no method is
/// `invalid_client`, and so is one that uses another method than the client is registered for
/// or more than one (RFC 6749 §2.3). The claim of the assertion's `jti` is staged in `unit`,
/// which the caller commits ([`super::commit::commit`]).
pub async fn authenticate(
    state: &AppState,
    form: &FormParams,
    presented: Option<&PresentedCertificate>,
    unit: &mut UnitOfWork,
) -> Result<Authenticated, (Option<String>, OAuthError)> {
    let (Some(assertion), Some(assertion_type)) = (
        form.get("client_assertion"),
        form.get("client_assertion_type"),
    ) else {
        return authenticate_mtls(state, form, presented).await;
    };
    let params = ClientAssertionParams {
        client_assertion: assertion,
        client_assertion_type: assertion_type,
        client_id: form.get("client_id"),
    };
    let claimed = params
        .claimed_client_id()
        .map_err(|e| (None, OAuthError::new(e.oauth_error(), e.to_string())))?;
    let fail = |e: OAuthError| (Some(claimed.clone()), e);
    let id = ClientId::try_from(claimed.as_str())
        .map_err(|_| fail(OAuthError::new(ErrorCode::InvalidClient, "unknown client")))?;
    let client = state
        .oauth
        .clients
        .get(&state.store, &id)
        .await
        .map_err(|e| fail(OAuthError::storage(&e)))?
        .ok_or_else(|| fail(OAuthError::new(ErrorCode::InvalidClient, "unknown client")))?;
    if client.token_endpoint_auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
        // RFC 6749 §2.3: one method per client; an mTLS client must not use an assertion.
        return Err(fail(OAuthError::new(
            ErrorCode::InvalidClient,
            format!(
                "the client is registered for {}, not private_key_jwt",
                client.token_endpoint_auth_method.as_str()
            ),
        )));
    }
    let oauth = &state.oauth;
    let now = state.clock.now();
    let verify = async |jwks: &serde_json::Value| {
        let keys = shonin_oauth::ClientJwks {
            client_id: client.client_id.as_str(),
            jwks,
        };
        let mut staged = UnitOfWork::new();
        let verified = oauth
            .assertions
            .verify(&params, keys, now, &mut staged)
            .await;
        verified.map(|_| staged)
    };
    let verified = match &client.jwks {
        ClientJwks::Inline(jwks) => verify(jwks).await,
        ClientJwks::None => Err(ClientAuthError::UnknownKey),
        ClientJwks::Uri(uri) => {
            let jwks = oauth
                .jwks
                .get(uri)
                .await
                .map_err(|_| fail(jwks_unusable()))?;
            match verify(&jwks).await {
                // The client may have rotated its keys since the set was cached.
                Err(ClientAuthError::UnknownKey) => {
                    match oauth
                        .jwks
                        .refetch(uri)
                        .await
                        .map_err(|_| fail(jwks_unusable()))?
                    {
                        Some(fresh) => verify(&fresh).await,
                        None => Err(ClientAuthError::UnknownKey),
                    }
                }
                other => other,
            }
        }
    };
    let staged = verified.map_err(|e| fail(OAuthError::new(e.oauth_error(), e.to_string())))?;
    unit.claims.extend(staged.claims);
    Ok(Authenticated {
        client,
        certificate: None,
    })
}

/// RFC 8705 §2: no client assertion, so the client names itself with `client_id` and proves it
/// with its TLS client certificate.
async fn authenticate_mtls(
    state: &AppState,
    form: &FormParams,
    presented: Option<&PresentedCertificate>,
) -> Result<Authenticated, (Option<String>, OAuthError)> {
    let claimed = form.get("client_id").map(str::to_owned);
    let required = || {
        OAuthError::new(
            ErrorCode::InvalidClient,
            "client authentication is required (private_key_jwt, tls_client_auth or \
             self_signed_tls_client_auth)",
        )
    };
    let Some(claimed) = claimed else {
        return Err((None, required()));
    };
    let fail = |e: OAuthError| (Some(claimed.clone()), e);
    let id = ClientId::try_from(claimed.as_str())
        .map_err(|_| fail(OAuthError::new(ErrorCode::InvalidClient, "unknown client")))?;
    let client = state
        .oauth
        .clients
        .get(&state.store, &id)
        .await
        .map_err(|e| fail(OAuthError::storage(&e)))?
        .ok_or_else(|| fail(OAuthError::new(ErrorCode::InvalidClient, "unknown client")))?;
    let certificate = match client.token_endpoint_auth_method {
        TokenEndpointAuthMethod::PrivateKeyJwt => {
            return Err(fail(OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication is required (private_key_jwt)",
            )));
        }
        TokenEndpointAuthMethod::TlsClientAuth => mtls::tls_client_auth(state, &client, presented)
            .map_err(|e| fail(mtls::invalid_client(&e)))?,
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
            mtls::self_signed_tls_client_auth(state, &client, presented)
                .await
                .map_err(fail)?
        }
    };
    Ok(Authenticated {
        client,
        certificate: Some(certificate),
    })
}

/// A `jwks_uri` that could not be fetched or held no usable key set; the details are logged by
/// the fetcher, never sent to the client.
pub(crate) fn jwks_unusable() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidClient,
        "the client's registered jwks_uri did not provide a usable key set",
    )
}
