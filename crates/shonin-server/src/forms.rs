//! Form posts: the strict `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 9126
//! §2.1), and the extractor [`CsrfForm`] for the forms of Shonin's own pages. A handler that takes
//! a `CsrfForm<A>` runs only for a well-formed form whose `csrf` field equals the browser's CSRF
//! cookie (double submit, `crate::oauth::session`); any other post is refused before it, audited
//! under `A::ACTION` and answered with the error page (and a CSRF cookie if the browser had none).

use crate::audit_events::user_failure;
use crate::error::OAuthError;
use crate::error::error_page;
use crate::oauth::session;
use crate::pages::with_cookie;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use shonin_oauth::form::FormParams;
use shonin_types::ErrorCode;
use std::marker::PhantomData;

/// The error page's message for a form that failed its CSRF check.
pub const FORM_REFUSED: &str =
    "The form has expired or did not come from this site. Go back and try again.";

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

/// What a page form does, named by its audit action.
pub trait FormAction: Send + Sync + 'static {
    const ACTION: &'static str;
}

/// Declares marker types for [`FormAction`]s: `form_actions!(Rename = "passkey.rename");`.
macro_rules! form_actions {
    ($($(#[$doc:meta])* $name:ident = $action:literal;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;
            impl $crate::forms::FormAction for $name {
                const ACTION: &'static str = $action;
            }
        )+
    };
}
pub(crate) use form_actions;

/// A page's form post, parsed and CSRF-checked before the handler runs.
#[derive(Debug)]
pub struct CsrfForm<A> {
    pub meta: RequestMeta,
    pub headers: HeaderMap,
    pub params: FormParams,
    action: PhantomData<A>,
}

impl<A: FormAction> FromRequest<AppState> for CsrfForm<A> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (meta, headers, body) = RequestMeta::with_body(req, state).await?;
        let params = checked(state, &meta, &headers, &body, A::ACTION).await?;
        Ok(CsrfForm {
            meta,
            headers,
            params,
            action: PhantomData,
        })
    }
}

/// Parses a page's form and checks its CSRF field; a refusal is audited under `action` and shown
/// as the error page.
async fn checked(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &[u8],
    action: &str,
) -> Result<FormParams, Response> {
    let Ok(params) = form_body(headers, body) else {
        user_failure(state, meta, action, None, "malformed form").await;
        return Err(error_page(
            meta.lang,
            StatusCode::BAD_REQUEST,
            "The form is malformed.",
            meta.request_id.as_deref(),
        ));
    };
    if !session::csrf_ok(headers, params.get("csrf")) {
        user_failure(state, meta, action, None, "csrf").await;
        let (_, cookie) = session::csrf(headers);
        return Err(with_cookie(
            error_page(
                meta.lang,
                StatusCode::FORBIDDEN,
                FORM_REFUSED,
                meta.request_id.as_deref(),
            ),
            cookie,
        ));
    }
    Ok(params)
}
