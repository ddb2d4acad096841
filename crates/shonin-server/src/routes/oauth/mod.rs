//! The OAuth 2.0 / OpenID Connect endpoints. Each handler parses, authenticates, makes one call
//! into `shonin-oauth`, and maps the outcome; see `crate::oauth` for the shared pieces.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod par;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::oauth::client_auth;
use crate::oauth::mtls::PresentedCertificate;
use crate::oauth::reject::{OAuthError, RequestMeta};
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use shonin_oauth::Client;
use shonin_oauth::form::FormParams;
use shonin_oauth::mtls::ClientCertificate;
use shonin_types::unit::UnitOfWork;

/// Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 9126 §2.1).
pub fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<FormParams, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    FormParams::parse(body).map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))
}

/// A refusal, with the client it concerns when known (for the audit entry).
pub type Refused = (Option<String>, OAuthError);

/// An authenticated client's form request, and its unit of work (holding the claim of the
/// client assertion's `jti`, if it authenticated with one).
#[derive(Debug)]
pub struct ClientRequest {
    pub unit: UnitOfWork,
    pub form: FormParams,
    pub client: Client,
    /// The endpoint's public URL as this client addressed it (DPoP `htu`).
    pub url: String,
    /// The certificate that authenticated the client (mTLS methods, RFC 8705 §2).
    pub certificate: Option<ClientCertificate>,
    /// The certificate the request came with, authenticated or not (for binding, RFC 8705 §3).
    pub presented: Option<PresentedCertificate>,
}

impl ClientRequest {
    /// Attributes a refusal to this client.
    pub fn refuse(&self, e: OAuthError) -> Refused {
        (Some(self.client.client_id.as_str().to_owned()), e)
    }
}

/// Parses the form body and authenticates the client (`private_key_jwt` or mTLS) at `path`,
/// staging the claim of the assertion's `jti` in the request's unit of work.
pub async fn client_request(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> Result<ClientRequest, Refused> {
    let form = form_body(headers, body).map_err(|e| (None, e))?;
    let url = state.oauth.url_for(meta, path);
    let presented = meta.certificate.clone();
    let mut unit = UnitOfWork::new();
    let auth = client_auth::authenticate(state, &form, presented.as_ref(), &mut unit).await?;
    Ok(ClientRequest {
        unit,
        form,
        client: auth.client,
        url,
        certificate: auth.certificate,
        presented,
    })
}
