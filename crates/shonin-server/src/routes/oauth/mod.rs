//! The OAuth 2.0 / OpenID Connect endpoints. Each handler parses, authenticates, makes one call
//! into `shonin-oauth`, and maps the outcome; see `crate::oauth` for the shared pieces.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod par;
pub mod payment;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::oauth::client_auth;
use crate::oauth::mtls::PresentedCertificate;
use crate::oauth::reject::{OAuthError, RequestMeta, audited};
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shonin_oauth::Client;
use shonin_oauth::form::FormParams;
use shonin_oauth::metadata as paths;
use shonin_oauth::mtls::ClientCertificate;
use shonin_types::ErrorCode;
use shonin_types::unit::UnitOfWork;
use std::marker::PhantomData;

/// The authorization server's routes (FAPI 2.0): discovery, PAR, the authorization pages,
/// token, userinfo, introspection and revocation.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::OPENID_CONFIGURATION_PATH, get(discovery::metadata))
        .route(
            paths::OAUTH_AUTHORIZATION_SERVER_PATH,
            get(discovery::metadata),
        )
        .route(paths::PAR_ENDPOINT_PATH, post(par::par))
        .route(
            paths::AUTHORIZATION_ENDPOINT_PATH,
            get(authorize::authorize),
        )
        .route("/authorize/sign-in", post(authorize::sign_in))
        .route("/authorize/consent", post(authorize::consent))
        .route("/authorize/payment/options", post(payment::options))
        .route("/authorize/payment", post(payment::approve))
        .route(paths::TOKEN_ENDPOINT_PATH, post(token::token))
        .route(
            paths::USERINFO_ENDPOINT_PATH,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            paths::INTROSPECTION_ENDPOINT_PATH,
            post(introspect::introspect),
        )
        .route(paths::REVOCATION_ENDPOINT_PATH, post(revoke::revoke))
}

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
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    FormParams::parse(body).map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))
}

/// A refusal, with the client it concerns when known (for the audit entry).
pub type Refused = (Option<String>, OAuthError);

/// An endpoint whose requests are client-authenticated forms (PAR, token, introspection,
/// revocation): its audit action and its path (for DPoP `htu` and the client assertion).
pub trait ClientEndpoint: Send + Sync + 'static {
    const ACTION: &'static str;
    const PATH: &'static str;
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
        let (mut parts, body) = req.into_parts();
        let Ok(meta) = RequestMeta::from_request_parts(&mut parts, state).await;
        let headers = parts.headers.clone();
        // The body limit layer bounds what this reads; its refusal is shaped like any other.
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        match client_request(state, &meta, &headers, &body, E::PATH).await {
            Ok(req) => Ok(ClientForm {
                meta,
                headers,
                req,
                endpoint: PhantomData,
            }),
            Err((client_id, e)) => {
                Err(audited(state, &meta, E::ACTION, client_id.as_deref(), e).await)
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
        Err((client_id, e)) => audited(state, meta, E::ACTION, client_id.as_deref(), e).await,
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
