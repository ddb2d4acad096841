//! The client-authenticated form endpoints (PAR, token, introspection, revocation): the
//! extractor [`ClientForm`] that parses the strict form and authenticates the client before the
//! handler runs, and [`respond`], which audits a refusal under the endpoint's action.

use crate::audit_events::oauth_refusal;
use crate::error::OAuthError;
use crate::forms::form_body;
use crate::oauth::client_auth;
use crate::oauth::dpop::proof_header;
use crate::oauth::mtls::PresentedCertificate;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::response::Response;
use shonin_oauth::form::FormParams;
use shonin_oauth::mtls::ClientCertificate;
use shonin_oauth::{Client, DpopRequest, Htu, VerifiedProof};
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;
use std::marker::PhantomData;

/// A refusal, with the client it concerns when known (for the audit entry).
pub type Refused = (Option<String>, OAuthError);

/// An endpoint whose requests are client-authenticated forms (PAR, token, introspection,
/// revocation): its audit action and its path (for DPoP `htu` and the client assertion).
pub trait ClientEndpoint: Send + Sync + 'static {
    const ACTION: &'static str;
    const PATH: &'static str;
    /// Whether the endpoint takes a DPoP proof (PAR, token: RFC 9449 §5, §10.1); the others
    /// ignore the header.
    const DPOP: bool = false;
}

/// The extractor of such a request: the strict form body, parsed, and the client,
/// authenticated, before the handler runs. A refusal is answered by the extractor, with its
/// audit entry, so a handler only ever sees an authenticated client.
#[derive(Debug)]
pub struct ClientForm<E> {
    pub meta: RequestMeta,
    pub headers: HeaderMap,
    pub req: ClientRequest,
    endpoint: PhantomData<E>,
}

impl<E: ClientEndpoint> FromRequest<AppState> for ClientForm<E> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (meta, headers, body) = RequestMeta::with_body(req, state).await?;
        match client_request(state, &meta, &headers, &body, E::PATH, E::DPOP).await {
            Ok(req) => Ok(ClientForm {
                meta,
                headers,
                req,
                endpoint: PhantomData,
            }),
            Err((client_id, e)) => {
                Err(oauth_refusal(state, &meta, E::ACTION, client_id.as_deref(), e).await)
            }
        }
    }
}

/// The answer to a client endpoint's request: the response, or the refusal with its audit
/// entry.
pub async fn respond<E: ClientEndpoint>(
    state: &AppState,
    meta: &RequestMeta,
    result: Result<Response, Refused>,
) -> Response {
    match result {
        Ok(resp) => resp,
        Err((client_id, e)) => oauth_refusal(state, meta, E::ACTION, client_id.as_deref(), e).await,
    }
}

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
    /// The request's one `DPoP` header (RFC 9449 §4.3 item 1), not yet verified.
    pub dpop: Option<String>,
}

impl ClientRequest {
    /// Attributes a refusal to this client.
    pub fn refuse(&self, e: OAuthError) -> Refused {
        (Some(self.client.client_id.as_str().to_owned()), e)
    }

    /// Verifies the request's DPoP proof, if it carries one, for `POST` at this endpoint's URL
    /// as the client addressed it, with a server nonce when the client requires them; stages
    /// the claim of its `jti` in `unit` (RFC 9449 §4.3, §11.1).
    pub async fn verify_dpop(
        &self,
        state: &AppState,
        unit: &mut UnitOfWork,
    ) -> Result<Option<VerifiedProof>, OAuthError> {
        let Some(proof) = self.dpop.as_deref() else {
            return Ok(None);
        };
        let now = state.clock.now();
        let htu = Htu::parse(&self.url)
            .map_err(|e| OAuthError::new(ErrorCode::ServerError, e.to_string()))?;
        let request = DpopRequest {
            method: "POST",
            uri: &htu,
            access_token: None,
            expected_jkt: None,
        };
        state
            .oauth
            .dpop_for(self.client.require_dpop_nonce)
            .verify_proof(proof, &request, now, unit)
            .await
            .map(Some)
            .map_err(|e| state.oauth.dpop_refusal(&e, now))
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
    dpop: bool,
) -> Result<ClientRequest, Refused> {
    let form = form_body(headers, body).map_err(|e| (None, e))?;
    let url = state.oauth.url_for(meta.endpoint_base(), path);
    let presented = meta.certificate.clone();
    let mut unit = UnitOfWork::new();
    let auth = client_auth::authenticate(state, &form, presented.as_ref(), &mut unit).await?;
    let client_id = Some(auth.client.client_id.as_str().to_owned());
    let dpop = if dpop {
        proof_header(headers)
            .map_err(|e| (client_id, state.oauth.dpop_refusal(&e, state.clock.now())))?
            .map(str::to_owned)
    } else {
        None
    };
    Ok(ClientRequest {
        unit,
        form,
        client: auth.client,
        url,
        certificate: auth.certificate,
        presented,
        dpop,
    })
}
