//! Errors shown to a person as a page: on Shonin's own pages, and at `/authorize` when the
//! client's redirect URI is not established, so the error cannot be sent back to it.

use crate::i18n::Lang;
use crate::pages::{ErrorPage, Frame, render};
use axum::http::StatusCode;
use axum::response::Response;

/// The page for a storage or audit failure while serving a browser, with the request id the
/// operator finds in the log.
pub fn unavailable_page(lang: Lang, request_id: Option<&str>) -> Response {
    error_page(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is unavailable; try again shortly.",
        request_id,
    )
}

/// The error page: shown when the client's redirect URI is not known to be valid, so the error
/// cannot be sent back to it (no open redirect, RFC 9126 §4, FAPI 2.0 §5.3.2.1 item 6).
pub fn error_page(
    lang: Lang,
    status: StatusCode,
    message: &str,
    request_id: Option<&str>,
) -> Response {
    render(
        status,
        &ErrorPage {
            f: Frame::new(lang, "/account"),
            message,
            request_id: request_id.unwrap_or_default(),
        },
        None,
    )
}
