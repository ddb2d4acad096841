//! The account page: a signed-in user sees their passkeys (provider, created, last used, synced
//! or device-bound), renames or removes them, adds one, and sets their passkey-only policy.
//! Adding or removing a sign-in method, and switching passkey-only off, need a sign-in within
//! `passkeys.reauthentication_window_secs` with the user's strongest method; those rules are
//! `shonin_identity::MethodPolicy`'s. Forms carry the CSRF value (double submit).

use crate::audit_events::record_success;
use crate::audit_events::{user_actor, user_failure};
use crate::error::{error_page, unavailable_page};
use crate::forms::{CsrfForm, FORM_REFUSED, FormAction, form_actions};
use crate::i18n::Lang;
use crate::oauth::session;
use crate::pages::{self, AccountPage, Frame, PasskeyRow, SignInPage, see_other, with_cookie};
use crate::request_meta::RequestMeta;
use crate::routes::passkeys::safe_next;
use crate::sign_in::{PasswordOutcome, password_field, password_sign_in};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use shonin_identity::{
    Argon2Params, PasskeyOnlyChange, PasskeyRemoval, Password, Session, User, UserStore,
    hash_password,
};
use shonin_oauth::form::FormParams;
use shonin_passkeys::{PasskeyStore, RecoveryCodeStore, StoredPasskey, validate_name};
use std::marker::PhantomData;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const HERE: &str = "/account";

fn when(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// The signed-in user behind the request, if any.
async fn current_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, Response> {
    let meta_unavailable = || {
        error_page(
            crate::i18n::lang_of(headers),
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is unavailable; try again shortly.",
            None,
        )
    };
    let Some(session) = session::current(state, headers)
        .await
        .map_err(|_| meta_unavailable())?
    else {
        return Ok(None);
    };
    match state.store.get_user(&session.user_id).await {
        Ok(Some(user)) if !user.disabled => Ok(Some((session, user))),
        Ok(_) => Ok(None),
        Err(_) => Err(meta_unavailable()),
    }
}

fn sign_in_page(
    lang: Lang,
    status: StatusCode,
    csrf: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    pages::render(
        status,
        &SignInPage {
            f: Frame::new(lang, HERE),
            client_name: "",
            client_id: "",
            request_uri: "",
            action: "/account/sign-in",
            next: HERE,
            csrf,
            username,
            error,
            step_up: false,
        },
        None,
    )
}

/// `GET /account`
pub async fn page(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = meta.lang;
    let t = lang.texts();
    let (csrf, csrf_cookie) = session::csrf(&headers);
    let (session, user) = match current_user(&state, &headers).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return with_cookie(
                sign_in_page(lang, StatusCode::OK, &csrf, "", None),
                csrf_cookie,
            );
        }
        Err(r) => return r,
    };
    let passkeys = match state.store.list_passkeys(&user.id).await {
        Ok(p) => p,
        Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
    };
    let recovery_unused = match state.store.unused_recovery_codes(&user.id).await {
        Ok(n) => n,
        Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
    };
    // Only fixed messages are shown: the query names one, it never supplies text.
    let params = FormParams::parse(query.as_deref().unwrap_or_default().as_bytes()).ok();
    let pick = |name: &str| params.as_ref().and_then(|p| p.get(name).map(str::to_owned));
    let notice = match pick("notice").as_deref() {
        Some("added") => Some(t.notice_added),
        Some("renamed") => Some(t.notice_renamed),
        Some("removed") => Some(t.notice_removed),
        Some("policy") => Some(t.notice_policy),
        Some("password") => Some(t.notice_password),
        _ => None,
    };
    let error = match pick("error").as_deref() {
        Some("reauth") => Some(t.error_reauth),
        Some("not_found") => Some(t.error_not_found),
        Some("name") => Some(t.error_name),
        Some("last_passkey") => Some(t.error_last_passkey),
        Some("password") => Some(t.invalid_credentials),
        Some("password_mismatch") => Some(t.error_password_mismatch),
        Some("password_rule") => Some(t.error_password_rule),
        _ => None,
    };
    let now = state.clock.now();
    let fresh = state
        .passkeys
        .methods
        .may_change_methods(&session, !passkeys.is_empty(), now);
    let rows = passkeys
        .iter()
        .map(|p| row(&state, lang, p))
        .collect::<Vec<_>>();
    let page = pages::render(
        StatusCode::OK,
        &AccountPage {
            f: Frame::new(lang, HERE),
            csrf: &csrf,
            username: user.username.as_str(),
            passkeys: rows,
            fresh,
            has_password: user.password_hash.is_some(),
            user_passkey_only: user.passkey_only,
            global_passkey_only: state.passkeys.methods.passkey_only,
            notice,
            error,
            recovery_unused,
        },
        None,
    );
    with_cookie(page, csrf_cookie)
}

fn row(state: &AppState, lang: Lang, p: &StoredPasskey) -> PasskeyRow {
    let t = lang.texts();
    PasskeyRow {
        id: p.credential_id.clone(),
        name: p.name.clone(),
        provider: state
            .passkeys
            .names
            .name(&p.aaguid)
            .map_or_else(|| t.unknown_provider.to_owned(), str::to_owned),
        created: when(p.created_at),
        last_used: p.last_used_at.map_or_else(|| t.never.to_owned(), when),
        kind: if p.backup_eligible {
            t.synced
        } else {
            t.device_bound
        },
    }
}

form_actions! {
    /// `POST /account/sign-in`, `POST /account/reauthenticate`.
    SignIn = "user.sign_in";
    RenamePasskey = "passkey.rename";
    RemovePasskey = "passkey.remove";
    PasskeyOnly = "user.passkey_only";
    SignOut = "user.sign_out";
    ChangePassword = "user.password_change";
    GenerateRecoveryCodes = "recovery_codes.generate";
}

/// A form post from the account page: parsed and CSRF-checked ([`CsrfForm`]), with the signed-in
/// user. Without one the browser is sent back to the account page, and the post is audited.
#[derive(Debug)]
pub struct AccountForm<A> {
    pub meta: RequestMeta,
    pub headers: HeaderMap,
    pub params: FormParams,
    pub session: Session,
    pub user: User,
    action: PhantomData<A>,
}

impl<A: FormAction> FromRequest<AppState> for AccountForm<A> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let CsrfForm {
            meta,
            headers,
            params,
            ..
        } = CsrfForm::<A>::from_request(req, state).await?;
        match current_user(state, &headers).await? {
            Some((session, user)) => Ok(AccountForm {
                meta,
                headers,
                params,
                session,
                user,
                action: PhantomData,
            }),
            None => {
                user_failure(state, &meta, A::ACTION, None, "not signed in").await;
                Err(see_other(HERE))
            }
        }
    }
}

/// Records the user's successful `action` on `target`, then sends the browser to `location`; the
/// error page when the audit entry cannot be written (nothing is reported done unaudited).
async fn audited_redirect(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    user_id: &str,
    target: &str,
    location: &str,
) -> Response {
    match record_success(state, meta, action, user_actor(user_id), target).await {
        Ok(()) => see_other(location),
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/sign-in`: password sign-in from the account page.
pub async fn sign_in(State(state): State<AppState>, form: CsrfForm<SignIn>) -> Response {
    let CsrfForm {
        meta,
        headers,
        params,
        ..
    } = form;
    let (csrf, cookie) = session::csrf(&headers);
    let username = params
        .get_bounded("username", 256)
        .ok()
        .flatten()
        .unwrap_or_default();
    let password = password_field(&params, "password");
    match password_sign_in(&state, &meta, username, &password).await {
        PasswordOutcome::SignedIn(s) => match session::start(&state, &s, state.clock.now()).await {
            Ok(c) => with_cookie(see_other(HERE), Some(c)),
            Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
        },
        PasswordOutcome::Refused => with_cookie(
            sign_in_page(
                meta.lang,
                StatusCode::UNAUTHORIZED,
                &csrf,
                crate::sign_in::echoable_username(username),
                Some(meta.lang.texts().invalid_credentials),
            ),
            cookie,
        ),
        PasswordOutcome::Unavailable => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/reauthenticate`: the signed-in user confirms with their password (offered
/// only to users without a passkey; with one, the passkey sign-in is the confirmation).
pub async fn reauthenticate(State(state): State<AppState>, form: AccountForm<SignIn>) -> Response {
    let AccountForm {
        meta,
        params,
        session,
        ..
    } = form;
    let password = password_field(&params, "password");
    match password_sign_in(&state, &meta, &session.username, &password).await {
        PasswordOutcome::SignedIn(s) => match session::start(&state, &s, state.clock.now()).await {
            Ok(c) => with_cookie(see_other(HERE), Some(c)),
            Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
        },
        PasswordOutcome::Refused => see_other("/account?error=password"),
        PasswordOutcome::Unavailable => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/passkeys/rename`
pub async fn rename(State(state): State<AppState>, form: AccountForm<RenamePasskey>) -> Response {
    const ACTION: &str = RenamePasskey::ACTION;
    let AccountForm {
        meta, params, user, ..
    } = form;
    let id = params.get("credential_id").unwrap_or_default();
    let Ok(name) = validate_name(params.get("name").unwrap_or_default()) else {
        user_failure(&state, &meta, ACTION, Some(&user.id), "invalid_name").await;
        return see_other("/account?error=name");
    };
    match state.store.rename_passkey(&user.id, id, &name).await {
        Ok(true) => {
            let target = format!("passkey {id}");
            audited_redirect(
                &state,
                &meta,
                ACTION,
                &user.id,
                &target,
                "/account?notice=renamed",
            )
            .await
        }
        Ok(false) => {
            user_failure(&state, &meta, ACTION, Some(&user.id), "no such passkey").await;
            see_other("/account?error=not_found")
        }
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/passkeys/remove`
pub async fn remove(State(state): State<AppState>, form: AccountForm<RemovePasskey>) -> Response {
    const ACTION: &str = RemovePasskey::ACTION;
    let AccountForm {
        meta,
        params,
        session,
        user,
        ..
    } = form;
    let id = params.get("credential_id").unwrap_or_default();
    let passkeys = match state.store.list_passkeys(&user.id).await {
        Ok(p) => p,
        Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
    };
    let found = passkeys.iter().any(|p| p.credential_id == id);
    let decision = state.passkeys.methods.remove_passkey(
        &session,
        &user,
        passkeys.len(),
        found,
        state.clock.now(),
    );
    let refusal = match decision {
        PasskeyRemoval::Allowed => None,
        PasskeyRemoval::ReauthenticationRequired => {
            Some(("reauthentication required", "/account?error=reauth"))
        }
        PasskeyRemoval::NotFound => Some(("no such passkey", "/account?error=not_found")),
        PasskeyRemoval::LastPasskeyUnderPasskeyOnly => Some((
            "last passkey under passkey-only",
            "/account?error=last_passkey",
        )),
    };
    if let Some((reason, location)) = refusal {
        user_failure(&state, &meta, ACTION, Some(&user.id), reason).await;
        return see_other(location);
    }
    match state.store.remove_passkey(&user.id, id).await {
        Ok(true) => {
            let target = format!("passkey {id}");
            audited_redirect(
                &state,
                &meta,
                ACTION,
                &user.id,
                &target,
                "/account?notice=removed",
            )
            .await
        }
        Ok(false) => see_other("/account?error=not_found"),
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/passkey-only`: the user's own policy. Turning it on needs a passkey;
/// turning it off brings the password back, so it needs a fresh passkey sign-in.
pub async fn passkey_only(
    State(state): State<AppState>,
    form: AccountForm<PasskeyOnly>,
) -> Response {
    const ACTION: &str = PasskeyOnly::ACTION;
    let AccountForm {
        meta,
        params,
        session,
        user,
        ..
    } = form;
    let on = match params.get("on") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            user_failure(&state, &meta, ACTION, Some(&user.id), "no decision").await;
            return see_other(HERE);
        }
    };
    let has_passkey = match state.store.list_passkeys(&user.id).await {
        Ok(p) => !p.is_empty(),
        Err(_) => return unavailable_page(meta.lang, meta.request_id.as_deref()),
    };
    let decision =
        state
            .passkeys
            .methods
            .set_passkey_only(&session, on, has_passkey, state.clock.now());
    let refusal = match decision {
        PasskeyOnlyChange::Allowed => None,
        PasskeyOnlyChange::NoPasskey => Some(("no passkey", HERE)),
        PasskeyOnlyChange::ReauthenticationRequired => {
            Some(("reauthentication required", "/account?error=reauth"))
        }
    };
    if let Some((reason, location)) = refusal {
        user_failure(&state, &meta, ACTION, Some(&user.id), reason).await;
        return see_other(location);
    }
    match state.store.set_passkey_only(&user.id, on).await {
        Ok(true) => {
            let target = if on { "on" } else { "off" };
            audited_redirect(
                &state,
                &meta,
                ACTION,
                &user.id,
                target,
                "/account?notice=policy",
            )
            .await
        }
        Ok(false) => see_other(HERE),
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /account/sign-out`
pub async fn sign_out(State(state): State<AppState>, form: AccountForm<SignOut>) -> Response {
    let AccountForm {
        meta,
        headers,
        user,
        ..
    } = form;
    match session::end(&state, &headers).await {
        Ok(cookie) => {
            if record_success(
                &state,
                &meta,
                SignOut::ACTION,
                user_actor(&user.id),
                "session",
            )
            .await
            .is_err()
            {
                return unavailable_page(meta.lang, meta.request_id.as_deref());
            }
            with_cookie(see_other(HERE), Some(cookie))
        }
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

/// `POST /language`: the switcher on every page. Returns to the page it came from (only our
/// own pages: see [`safe_next`]). A post from another site is refused (see
/// [`session::same_origin_post`]) and audited.
pub async fn language(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !session::same_origin_post(&headers, &state.config.issuer) {
        let rid = meta
            .request_id
            .clone()
            .map(crate::layers::request_id::RequestId);
        crate::audit_events::rejection(&state, Some(meta.addr), rid.as_ref(), "/language", "csrf")
            .await;
        return error_page(
            meta.lang,
            StatusCode::FORBIDDEN,
            FORM_REFUSED,
            meta.request_id.as_deref(),
        );
    }
    let params = crate::forms::form_body(&headers, &body).ok();
    let get = |n: &str| params.as_ref().and_then(|p| p.get(n).map(str::to_owned));
    let lang = get("lang").as_deref().and_then(Lang::from_code);
    let next = safe_next(get("next").as_deref());
    let mut resp = see_other(&next);
    if let Some(cookie) = lang.and_then(crate::i18n::lang_cookie) {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

/// `POST /account/password`: sets a new password (NIST SP 800-63B §3.1.1.2 length rules). A change
/// of authentication method, so it needs the same fresh sign-in with the strongest method as
/// adding a passkey.
pub async fn change_password(
    State(state): State<AppState>,
    form: AccountForm<ChangePassword>,
) -> Response {
    const ACTION: &str = ChangePassword::ACTION;
    let AccountForm {
        meta,
        headers,
        params,
        ..
    } = form;
    let user = match crate::routes::passkeys::user_for_change(&state, &meta, &headers, ACTION).await
    {
        Ok((_, user, _)) => user,
        Err(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => return r,
        Err(_) => return see_other("/account?error=reauth"),
    };
    let new = params
        .get_bounded("new_password", 1024)
        .ok()
        .flatten()
        .unwrap_or_default();
    let confirm = params
        .get_bounded("confirm_password", 1024)
        .ok()
        .flatten()
        .unwrap_or_default();
    if !shonin_types::constant_time_eq(new.as_bytes(), confirm.as_bytes()) {
        user_failure(
            &state,
            &meta,
            ACTION,
            Some(&user.id),
            "confirmation differs",
        )
        .await;
        return see_other("/account?error=password_mismatch");
    }
    let Ok(password) = Password::new(new.to_owned()) else {
        user_failure(&state, &meta, ACTION, Some(&user.id), "password rule").await;
        return see_other("/account?error=password_rule");
    };
    let hashed =
        tokio::task::spawn_blocking(move || hash_password(&password, &Argon2Params::OWASP)).await;
    let Ok(Ok(hash)) = hashed else {
        tracing::error!("password hashing failed");
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    };
    match state.store.set_password_hash(&user.id, &hash).await {
        Ok(true) => {
            audited_redirect(
                &state,
                &meta,
                ACTION,
                &user.id,
                "password",
                "/account?notice=password",
            )
            .await
        }
        Ok(false) => see_other(HERE),
        Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}
