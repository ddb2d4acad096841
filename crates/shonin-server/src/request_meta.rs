//! Who is asking and from where: the extractor every handler that audits or answers with a page
//! takes.

use crate::layers::request_id::RequestId;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Who is asking and from where, for audit entries; the client certificate the request came
/// with (decided by [`crate::oauth::mtls::certificate_source`]); and, on the separate mTLS
/// listener, the base URL the client addressed (RFC 8705 §5 `mtls_endpoint_aliases`).
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub addr: ClientAddr,
    pub request_id: Option<String>,
    pub certificate: Option<crate::oauth::mtls::PresentedCertificate>,
    pub endpoint_base: Option<EndpointBase>,
    /// The language of any page shown in answer (cookie, then `Accept-Language`).
    pub lang: crate::i18n::Lang,
}

impl RequestMeta {
    /// What a form extractor reads first: who is asking, the headers, and the body. The body
    /// limit layer bounds the body; its refusal is shaped like any other.
    pub async fn with_body(
        req: Request,
        state: &AppState,
    ) -> Result<(RequestMeta, HeaderMap, Bytes), Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(meta) = RequestMeta::from_request_parts(&mut parts, state).await;
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok((meta, headers, body))
    }

    /// The base URL of the mTLS alias listener the request arrived on, if it did.
    pub fn endpoint_base(&self) -> Option<&str> {
        self.endpoint_base.as_ref().map(|b| &*b.0)
    }
}

/// The public base URL of the listener a request arrived on, when it is not the issuer (the
/// mTLS alias listener); an extension set by that listener's router.
#[derive(Debug, Clone)]
pub struct EndpointBase(pub std::sync::Arc<str>);

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let addr = ClientAddr::from_request_parts(parts, state).await?;
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        let certificate = parts
            .extensions
            .get::<Option<crate::oauth::mtls::PresentedCertificate>>()
            .cloned()
            .flatten();
        let endpoint_base = parts.extensions.get::<EndpointBase>().cloned();
        Ok(RequestMeta {
            addr,
            request_id,
            certificate,
            endpoint_base,
            lang: crate::i18n::lang_of(&parts.headers),
        })
    }
}
