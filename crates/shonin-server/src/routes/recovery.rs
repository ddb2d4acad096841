//! Recovery codes on the account page: generating a set (a new sign-in method, so it needs the
//! same fresh sign-in as adding a passkey) and signing in with one. Wrong codes count towards the
//! account's sign-in lockout (PCI DSS 8.3.4), so codes cannot be guessed online; every attempt
//! is audit-logged; unknown, disabled and locked accounts get the same answer as a wrong code.

use crate::audit_events::record_success;
use crate::audit_events::{user_actor, user_failure};
use crate::error::{error_page, unavailable_page};
use crate::forms::FormAction;
use crate::i18n::Lang;
use crate::oauth::session;
use crate::pages::{self, Frame, RecoveryCodesPage, SignInPage, see_other, with_cookie};
use crate::request_meta::RequestMeta;
use crate::routes::account::{AccountForm, GenerateRecoveryCodes};
use crate::routes::passkeys::user_for_change;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use shonin_identity::{Session, SignInMethod, UserStore, Username};
use shonin_passkeys::{RecoveryCodeStore, generate_recovery_codes, hash_code};

fn malformed(meta: &RequestMeta, status: StatusCode, message: &str) -> Response {
    error_page(meta.lang, status, message, meta.request_id.as_deref())
}

/// `POST /account/recovery-codes`: a new set, shown once; the old set stops working.
pub async fn generate(
    State(state): State<AppState>,
    form: AccountForm<GenerateRecoveryCodes>,
) -> Response {
    const ACTION: &str = GenerateRecoveryCodes::ACTION;
    let AccountForm { meta, headers, .. } = form;
    let (_, user, _) = match user_for_change(&state, &meta, &headers, ACTION).await {
        Ok(v) => v,
        Err(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => return r,
        Err(_) => return see_other("/account?error=reauth"),
    };
    let (codes, hashes) = match generate_recovery_codes() {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "recovery codes");
            return unavailable_page(meta.lang, meta.request_id.as_deref());
        }
    };
    let now = state.clock.now();
    if state
        .store
        .replace_recovery_codes(&user.id, &hashes, now)
        .await
        .is_err()
    {
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    }
    let actor = user_actor(&user.id);
    if record_success(&state, &meta, ACTION, actor, "10 codes")
        .await
        .is_err()
    {
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    }
    pages::render(
        StatusCode::OK,
        &RecoveryCodesPage {
            f: Frame::new(meta.lang, "/account"),
            codes: &codes,
        },
        None,
    )
}

fn sign_in_page(
    lang: Lang,
    status: StatusCode,
    csrf: &str,
    cookie: Option<HeaderValue>,
) -> Response {
    let resp = pages::render(
        status,
        &SignInPage {
            f: Frame::new(lang, "/account"),
            client_name: "",
            client_id: "",
            request_uri: "",
            action: "/account/sign-in",
            next: "/account",
            csrf,
            username: "",
            error: Some(lang.texts().recovery_invalid),
            step_up: false,
        },
        None,
    );
    with_cookie(resp, cookie)
}

/// `POST /account/recovery-sign-in`: username and one recovery code.
pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const ACTION: &str = "user.sign_in";
    let params = match crate::forms::form_body(&headers, &body) {
        Ok(p) => p,
        Err(_) => {
            user_failure(&state, &meta, ACTION, None, "recovery: malformed form").await;
            return malformed(&meta, StatusCode::BAD_REQUEST, "The form is malformed.");
        }
    };
    let (csrf, cookie) = session::csrf(&headers);
    let refuse = || sign_in_page(meta.lang, StatusCode::UNAUTHORIZED, &csrf, cookie.clone());
    if !session::csrf_ok(&headers, params.get("csrf")) {
        user_failure(&state, &meta, ACTION, None, "recovery: csrf").await;
        return refuse();
    }
    let now = state.clock.now();
    let username = params
        .get_bounded("username", 256)
        .ok()
        .flatten()
        .unwrap_or_default();
    let code = params
        .get_bounded("code", 64)
        .ok()
        .flatten()
        .unwrap_or_default();
    let user = match Username::new(username) {
        Ok(name) => match state.store.get_user_by_username(&name).await {
            Ok(u) => u,
            Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
        },
        Err(_) => None,
    };
    let Some(user) = user else {
        user_failure(&state, &meta, ACTION, None, "recovery: unknown_user").await;
        return refuse();
    };
    if user.disabled || user.is_locked(now) {
        let why = if user.disabled {
            "recovery: disabled"
        } else {
            "recovery: locked"
        };
        user_failure(&state, &meta, ACTION, Some(&user.id), why).await;
        return refuse();
    }
    let used = match hash_code(code) {
        Some(hash) => match state.store.use_recovery_code(&user.id, &hash, now).await {
            Ok(used) => used,
            Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
        },
        None => false,
    };
    if !used {
        let policy = state.oauth.sign_in.lockout();
        match state
            .store
            .record_failed_sign_in(&user.id, now, policy.max_failures(), policy.lock_for())
            .await
        {
            Ok(Some(f)) => crate::alerts::after_failure(
                &state,
                &meta,
                &user.id,
                user.username.as_str(),
                f.count,
            ),
            Ok(None) => {}
            Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
        }
        user_failure(
            &state,
            &meta,
            ACTION,
            Some(&user.id),
            "recovery: wrong_or_used_code",
        )
        .await;
        return refuse();
    }
    if state
        .store
        .reset_failed_sign_ins(&user.id, now)
        .await
        .is_err()
    {
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    }
    let actor = user_actor(&user.id);
    if record_success(&state, &meta, ACTION, actor, "recovery code")
        .await
        .is_err()
    {
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    }
    let s = Session::new(&user, SignInMethod::RecoveryCode, now);
    match session::start(&state, &s, now).await {
        Ok(c) => {
            let mut resp = see_other("/account");
            resp.headers_mut().append(header::SET_COOKIE, c);
            resp
        }
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}
