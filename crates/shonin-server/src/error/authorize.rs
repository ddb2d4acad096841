//! A refusal at `/authorize`: shown on a page while the client's redirect URI is not established
//! (no open redirect, RFC 9126 §4, FAPI 2.0 §5.3.2.1 item 6), sent to that redirect URI with a
//! typed OAuth error code once it is (RFC 6749 §4.1.2.1, RFC 9207 `iss`).

use crate::routes::oauth::par::ParRecord;
use axum::http::StatusCode;
use shonin_types::ErrorCode;

#[derive(Debug)]
pub enum Refusal {
    Page(StatusCode, &'static str),
    Redirect {
        record: Box<ParRecord>,
        error: ErrorCode,
        description: &'static str,
    },
}
