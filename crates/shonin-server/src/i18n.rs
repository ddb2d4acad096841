//! The language of a request's pages (`shonin_i18n`): from the language cookie and the
//! `Accept-Language` header.

use axum::http::{HeaderMap, HeaderValue};
pub use shonin_i18n::{LANG_COOKIE, Lang, Texts};

/// The language for this request.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(crate::oauth::session::cookie(headers, LANG_COOKIE), accept)
}

/// `Set-Cookie` for the language switcher.
pub fn lang_cookie(lang: Lang) -> Option<HeaderValue> {
    HeaderValue::from_str(&lang.cookie_value()).ok()
}
