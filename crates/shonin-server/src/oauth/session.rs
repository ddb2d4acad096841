//! The browser side of `/authorize`: the sign-in session cookie and the CSRF cookie.
//!
//! Both cookies use the `__Host-` prefix (Secure, Path=/, no Domain), so no sibling host can set
//! them. The CSRF cookie is `SameSite=Strict` and must equal the form's hidden field (double
//! submit): a cross-site form post never carries it, which also stops login CSRF. The session
//! cookie is `SameSite=Lax` so the top-level redirect from the client to `/authorize` carries it.
//! The session itself, its `amr`/`acr` and its flow record (keyed by the SHA-256 of the cookie
//! value, so any node can continue a flow another began) are `shonin_identity::session`'s.

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use shonin_identity::session::{self as sessions, Session};
use shonin_types::StorageError;
use time::OffsetDateTime;

pub const SESSION_COOKIE: &str = "__Host-shonin_session";
pub const CSRF_COOKIE: &str = "__Host-shonin_csrf";

/// The value of cookie `name`, if the request carries exactly one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found
}

/// The session behind the request's cookie, if it is valid and unexpired, and its user still
/// enabled and not signed out everywhere since (`User::session_valid`): disabling a user or
/// `shonin users sessions revoke` ends their sessions on every node at once.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, StorageError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if value.len() > 128 {
        return Ok(None);
    }
    let Some(session) = sessions::load(&state.store, value, state.clock.now()).await? else {
        return Ok(None);
    };
    let user = shonin_identity::UserStore::get_user(&state.store, &session.user_id).await?;
    Ok(user
        .is_some_and(|u| u.session_valid(session.auth_time))
        .then_some(session))
}

/// Ends the request's session (in the store, so on every node) and returns the `Set-Cookie`
/// header that removes the cookie.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, StorageError> {
    if let Some(value) = cookie(headers, SESSION_COOKIE).filter(|v| v.len() <= 128) {
        sessions::end(&state.store, value, state.clock.now()).await?;
    }
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Stores a new session and returns the `Set-Cookie` header for it.
pub async fn start(
    state: &AppState,
    session: &Session,
    now: OffsetDateTime,
) -> Result<HeaderValue, StorageError> {
    let value = shonin_oauth::claims::random_token(32)
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let lifetime = state.oauth.session_lifetime;
    sessions::create(&state.store, &value, session, now, lifetime).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        lifetime.whole_seconds()
    );
    HeaderValue::from_str(&cookie).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The CSRF value of this browser, and a `Set-Cookie` header when a new one had to be minted.
pub fn csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(v) = cookie(headers, CSRF_COOKIE).filter(|v| v.len() == 43) {
        return (v.to_owned(), None);
    }
    let value = shonin_oauth::claims::random_token(32).unwrap_or_default();
    let header = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .ok();
    (value, header)
}

/// A form post that needs no hidden token (the language switcher, on every page including error
/// pages) is still refused when it comes from another site: the browser's Fetch Metadata
/// (`Sec-Fetch-Site`) or, without it, `Origin` must name this server (OWASP CSRF Prevention
/// Cheat Sheet, "Fetch Metadata headers" and "Verifying Origin with standard headers"). A request
/// with neither header is not from a browser that could be made to send it.
pub fn same_origin_post(headers: &HeaderMap, issuer: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    // RFC 6454 §6.2 serialization, as browsers send it (no default port); an opaque origin
    // ("null") never equals it.
    let ours = url::Url::parse(issuer).map(|u| u.origin().ascii_serialization());
    origin
        .to_str()
        .is_ok_and(|o| ours.is_ok_and(|ours| o == ours))
}

/// The form's CSRF field equals this browser's CSRF cookie (constant time).
pub fn csrf_ok(headers: &HeaderMap, form_value: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), form_value) {
        (Some(c), Some(f)) if !c.is_empty() => {
            shonin_types::constant_time_eq(c.as_bytes(), f.as_bytes())
        }
        _ => false,
    }
}
