//! The passkey JSON API behind the pages' script (`/static/passkey.js`): begin and finish a
//! sign-in, begin and finish an enrolment. Each call must be `application/json` and carry the
//! page's CSRF value in `X-CSRF-Token` (double submit with the CSRF cookie); a cross-site page
//! can send neither. Every refusal is audit-logged and answered with one message that does not
//! say whether an account or credential exists.

use crate::audit_events::record_success;
use crate::audit_events::{user_actor, user_failure};
use crate::error::problem_response;
use crate::oauth::session;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shonin_identity::{Session, SignInMethod, User, UserStore, Username};
use shonin_oauth::form::FormParams;
use shonin_oauth::metadata::AUTHORIZATION_ENDPOINT_PATH;
use shonin_passkeys::{PasskeyError, PasskeyStore, UserRef};

/// The CSRF header of the JSON calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Deeper JSON than this is refused before it is parsed into a credential.
const MAX_JSON_DEPTH: usize = 12;

#[derive(Deserialize)]
struct FinishSignIn {
    ceremony: String,
    credential: serde_json::Value,
    #[serde(default)]
    next: Option<String>,
    /// Sign-in "with a username": the name the person typed before choosing a passkey. The
    /// options never name credentials (no enumeration); the passkey must then belong to it.
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct FinishEnrolment {
    ceremony: String,
    credential: serde_json::Value,
    name: String,
}

/// Where to go after a sign-in: back to `/authorize` with only its two parameters, to a
/// transaction's approval page, or the account page. Never anywhere else (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    if let Some(id) = next.and_then(|n| n.strip_prefix("/approve/"))
        && shonin_txn::is_valid_id(id)
    {
        return format!("/approve/{id}");
    }
    if let Some(id) = next.and_then(|n| n.strip_prefix("/ciba/"))
        && crate::routes::ciba::is_valid_id(id)
    {
        return format!("/ciba/{id}");
    }
    if let Some(query) =
        next.and_then(|n| n.strip_prefix(&format!("{AUTHORIZATION_ENDPOINT_PATH}?")))
        && let Ok(params) = FormParams::parse(query.as_bytes())
        && let (Some(client_id), Some(request_uri)) =
            (params.get("client_id"), params.get("request_uri"))
    {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri)
            .finish();
        return format!("{AUTHORIZATION_ENDPOINT_PATH}?{query}");
    }
    "/account".to_owned()
}

fn unavailable() -> Response {
    let mut r = problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        Some("The service is unavailable; try again shortly."),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    r
}

/// Content type and CSRF of a JSON call; the refusal otherwise (audit-logged).
pub(crate) async fn check_call(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    action: &str,
) -> Result<(), Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        user_failure(state, meta, action, None, "not application/json").await;
        return Err(problem_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            Some("the body must be application/json"),
        ));
    }
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !session::csrf_ok(headers, token) {
        user_failure(state, meta, action, None, "csrf").await;
        return Err(problem_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            Some("the request did not come from this site's page; reload it and try again"),
        ));
    }
    Ok(())
}

/// Parses a JSON body with a nesting limit and unique member names; the error is the 400
/// response's detail.
fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    if shonin_jose::json_depth_exceeds(body, MAX_JSON_DEPTH) {
        return Err("the JSON body is nested too deeply".to_owned());
    }
    let value = shonin_types::json::from_slice(body)
        .map_err(|e| format!("the JSON body is malformed: {e}"))?;
    serde_json::from_value(value).map_err(|e| format!("the JSON body is malformed: {e}"))
}

fn bad_request(detail: &str) -> Response {
    problem_response(StatusCode::BAD_REQUEST, "Bad Request", Some(detail))
}

/// `POST /passkeys/sign-in/options`: a challenge for a username-less sign-in.
pub async fn sign_in_options(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_call(&state, &meta, &headers, "passkey.sign_in").await {
        return r;
    }
    match state
        .passkeys
        .ceremonies
        .begin_authentication(state.clock.now())
        .await
    {
        Ok(challenge) => Json(challenge).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not begin a passkey sign-in");
            unavailable()
        }
    }
}

/// `POST /passkeys/sign-in`: finishes a sign-in, starts the session and says where to go.
pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const ACTION: &str = "user.sign_in";
    if let Err(r) = check_call(&state, &meta, &headers, ACTION).await {
        return r;
    }
    let t = crate::i18n::lang_of(&headers).texts();
    let refused = || {
        problem_response(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            Some(t.passkey_failed),
        )
    };
    let input: FinishSignIn = match parse_body(&body) {
        Ok(v) => v,
        Err(detail) => {
            user_failure(&state, &meta, ACTION, None, "passkey: malformed body").await;
            return bad_request(&detail);
        }
    };
    let now = state.clock.now();
    let signed = match state
        .passkeys
        .ceremonies
        .finish_authentication(&input.ceremony, &input.credential, now)
        .await
    {
        Ok(s) => s,
        Err(e) if e.is_refusal() => {
            if let PasskeyError::SignCountRegression { credential_id, .. } = &e {
                // Flagged separately: a cloned authenticator is an incident, not a typo.
                user_failure(
                    &state,
                    &meta,
                    "passkey.sign_count_regression",
                    e.user_id(),
                    credential_id,
                )
                .await;
            }
            let reason = format!("passkey: {}", e.reason());
            user_failure(&state, &meta, ACTION, e.user_id(), &reason).await;
            return refused();
        }
        Err(e) => {
            tracing::error!(error = %e, "passkey sign-in failed");
            return unavailable();
        }
    };
    let user = match state.store.get_user(&signed.user_id).await {
        Ok(Some(u)) if !u.disabled => u,
        Ok(found) => {
            let reason = if found.is_some() {
                "passkey: disabled"
            } else {
                "passkey: unknown_user"
            };
            user_failure(&state, &meta, ACTION, Some(&signed.user_id), reason).await;
            return refused();
        }
        Err(_) => return unavailable(),
    };
    let typed = input
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(typed) = typed
        && Username::new(typed).ok().as_ref() != Some(&user.username)
    {
        user_failure(
            &state,
            &meta,
            ACTION,
            Some(&user.id),
            "passkey: belongs to another username than the one typed",
        )
        .await;
        return refused();
    }
    let method = SignInMethod::Passkey {
        backup_eligible: signed.passkey.backup_eligible,
    };
    let s = Session::new(&user, method, now);
    if record_success(
        &state,
        &meta,
        ACTION,
        user_actor(&user.id),
        &format!("passkey {}", signed.passkey.credential_id),
    )
    .await
    .is_err()
    {
        return unavailable();
    }
    match session::start(&state, &s, now).await {
        Ok(cookie) => {
            let location = safe_next(input.next.as_deref());
            let mut resp = Json(serde_json::json!({ "location": location })).into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            resp
        }
        Err(_) => unavailable(),
    }
}

/// The signed-in user, when the session is fresh and strong enough to change sign-in methods.
/// The refusal otherwise (audit-logged).
pub async fn user_for_change(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    action: &str,
) -> Result<(Session, User, bool), Response> {
    let t = crate::i18n::lang_of(headers).texts();
    let session = match session::current(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            user_failure(state, meta, action, None, "not signed in").await;
            return Err(problem_response(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                Some(t.account_sign_in_lead),
            ));
        }
        Err(_) => return Err(unavailable()),
    };
    let user = match state.store.get_user(&session.user_id).await {
        Ok(Some(u)) if !u.disabled => u,
        Ok(_) => {
            user_failure(state, meta, action, Some(&session.user_id), "disabled").await;
            return Err(problem_response(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                Some(t.account_sign_in_lead),
            ));
        }
        Err(_) => return Err(unavailable()),
    };
    let has_passkey = match state.store.list_passkeys(&user.id).await {
        Ok(list) => !list.is_empty(),
        Err(_) => return Err(unavailable()),
    };
    if !state
        .passkeys
        .methods
        .may_change_methods(&session, has_passkey, state.clock.now())
    {
        user_failure(
            state,
            meta,
            action,
            Some(&user.id),
            "reauthentication required",
        )
        .await;
        return Err(problem_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            Some(t.error_reauth),
        ));
    }
    Ok((session, user, has_passkey))
}

/// `POST /account/passkeys/options`: a challenge to enrol a passkey (fresh sign-in required).
pub async fn enrol_options(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    const ACTION: &str = "passkey.enrol";
    if let Err(r) = check_call(&state, &meta, &headers, ACTION).await {
        return r;
    }
    let (_, user, _) = match user_for_change(&state, &meta, &headers, ACTION).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let display = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.username.as_str().to_owned());
    let who = UserRef {
        id: &user.id,
        username: user.username.as_str(),
        display_name: &display,
    };
    match state
        .passkeys
        .ceremonies
        .begin_registration(who, state.clock.now())
        .await
    {
        Ok(challenge) => Json(challenge).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not begin a passkey enrolment");
            unavailable()
        }
    }
}

/// `POST /account/passkeys`: finishes an enrolment.
pub async fn enrol(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const ACTION: &str = "passkey.enrol";
    if let Err(r) = check_call(&state, &meta, &headers, ACTION).await {
        return r;
    }
    let t = crate::i18n::lang_of(&headers).texts();
    let (_, user, _) = match user_for_change(&state, &meta, &headers, ACTION).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input: FinishEnrolment = match parse_body(&body) {
        Ok(v) => v,
        Err(detail) => {
            user_failure(&state, &meta, ACTION, Some(&user.id), "malformed body").await;
            return bad_request(&detail);
        }
    };
    let now = state.clock.now();
    match state
        .passkeys
        .ceremonies
        .finish_registration(
            &user.id,
            &input.ceremony,
            &input.credential,
            &input.name,
            now,
        )
        .await
    {
        Ok(stored) => {
            if record_success(
                &state,
                &meta,
                ACTION,
                user_actor(&user.id),
                &format!("passkey {} aaguid {}", stored.credential_id, stored.aaguid),
            )
            .await
            .is_err()
            {
                return unavailable();
            }
            Json(serde_json::json!({ "location": "/account?notice=added" })).into_response()
        }
        Err(e) if e.is_refusal() => {
            user_failure(&state, &meta, ACTION, Some(&user.id), &e.reason()).await;
            let detail = match e {
                PasskeyError::InvalidName(_) => t.error_name,
                _ => t.enrol_failed,
            };
            problem_response(StatusCode::BAD_REQUEST, "Bad Request", Some(detail))
        }
        Err(e) => {
            tracing::error!(error = %e, "passkey enrolment failed");
            unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_ever_authorize_or_account() {
        assert_eq!(safe_next(None), "/account");
        assert_eq!(safe_next(Some("https://evil.example/")), "/account");
        assert_eq!(safe_next(Some("//evil.example/authorize?x")), "/account");
        assert_eq!(safe_next(Some("/authorize?client_id=a")), "/account");
        assert_eq!(
            safe_next(Some(
                "/authorize?client_id=a%20b&request_uri=urn%3Ax&redirect_uri=https://evil"
            )),
            "/authorize?client_id=a+b&request_uri=urn%3Ax"
        );
    }
}
