//! `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9, FAPI 2.0 §5.3.2.1
//! item 5) at the PAR, token, introspection and revocation endpoints.

use super::reject::OAuthError;
use crate::state::AppState;
use shonin_oauth::client::{ClientJwks, TokenEndpointAuthMethod};
use shonin_oauth::form::FormParams;
use shonin_oauth::{Client, ClientAssertionParams, ClientAuthError, ClientId, ClientStore};

/// Authenticates the client of a form request received at `endpoint_url`. Confidential clients
/// only: a request without a client assertion is `invalid_client` (FAPI 2.0 §5.3.2.1 item 3).
pub async fn authenticate(
    state: &AppState,
    form: &FormParams,
    endpoint_url: &str,
) -> Result<Client, (Option<String>, OAuthError)> {
    let (Some(assertion), Some(assertion_type)) = (
        form.get("client_assertion"),
        form.get("client_assertion_type"),
    ) else {
        let id = form.get("client_id").map(str::to_owned);
        return Err((
            id,
            OAuthError::new(
                "invalid_client",
                "client authentication is required (private_key_jwt)",
            ),
        ));
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
        .map_err(|_| fail(OAuthError::new("invalid_client", "unknown client")))?;
    let client = state
        .store
        .get_client(&id)
        .await
        .map_err(|e| fail(OAuthError::new("server_error", e.to_string())))?
        .ok_or_else(|| fail(OAuthError::new("invalid_client", "unknown client")))?;
    if client.token_endpoint_auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
        return Err(fail(OAuthError::new(
            "invalid_client",
            "the client is registered for another authentication method",
        )));
    }
    let oauth = &state.oauth;
    let now = state.clock.now();
    let verify = async |jwks: &serde_json::Value| {
        let keys = shonin_oauth::ClientJwks {
            client_id: client.client_id.as_str(),
            jwks,
        };
        oauth
            .assertions
            .verify(&params, keys, endpoint_url, now, &state.store)
            .await
    };
    let verified = match &client.jwks {
        ClientJwks::Inline(jwks) => verify(jwks).await,
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
    verified.map_err(|e| fail(OAuthError::new(e.oauth_error(), e.to_string())))?;
    Ok(client)
}

/// A `jwks_uri` that could not be fetched or held no usable key set; the details are logged by
/// the fetcher, never sent to the client.
fn jwks_unusable() -> OAuthError {
    OAuthError::new(
        "invalid_client",
        "the client's registered jwks_uri did not provide a usable key set",
    )
}
