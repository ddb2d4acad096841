//! `/authorize`: the browser part of the code flow. Only `client_id` and a pushed `request_uri`
//! are accepted (FAPI 2.0 §5.3.2.2 item 2); the user signs in, sees the client and what it asks
//! for rendered from the server's stored copy, and approves or denies. The answer is a 303
//! redirect (FAPI 2.0 §5.3.2.2 item 8) carrying `code`, `state` and `iss` (RFC 9207).

use super::par::ParRecord;
use crate::audit_events::failure;
use crate::audit_events::record_success;
use crate::error::authorize::Refusal;
use crate::error::{error_page, unavailable_page};
use crate::i18n::Lang;
use crate::oauth::session;
use crate::pages::{self, ConsentPage, Frame, SignInPage, see_other, with_cookie};
use crate::request_meta::RequestMeta;
use crate::sign_in::{PasswordOutcome, password_field, password_sign_in};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shonin_audit::{Actor, ActorKind};
use shonin_identity::Session;
use shonin_identity::session::requests_known_acr;
use shonin_oauth::form::FormParams;
use shonin_oauth::grant::{self, CodeGrant};
use shonin_oauth::metadata::AUTHORIZATION_ENDPOINT_PATH;
use shonin_oauth::par::ParState;
use shonin_oauth::{Client, ClientId, par};
use shonin_txn::consent::payment_detail;
use shonin_types::ErrorCode;
use shonin_types::flow::{self, Flow};
use shonin_types::unit::UnitOfWork;

const UNAVAILABLE: &str = "The service is unavailable; try again shortly.";

pub(super) struct Loaded {
    pub reference: String,
    pub record: ParRecord,
    pub client: Client,
    pub stored: Flow<ParState>,
}

pub(super) fn client_actor(id: &str) -> Actor {
    Actor {
        kind: ActorKind::Client,
        id: id.to_owned(),
    }
}

/// Finds the pushed request named by `client_id` and `request_uri`.
pub(super) async fn load(
    state: &AppState,
    client_id: Option<&str>,
    request_uri: Option<&str>,
) -> Result<Loaded, Refusal> {
    let request_uri = request_uri.ok_or(Refusal::Page(
        StatusCode::BAD_REQUEST,
        "Authorization requests must be pushed first (PAR): request_uri is missing.",
    ))?;
    let reference = par::reference_of(request_uri).ok_or(Refusal::Page(
        StatusCode::BAD_REQUEST,
        "The request_uri is not one this server issued.",
    ))?;
    let now = state.clock.now();
    let stored = flow::get::<ParState>(&state.store, reference, now)
        .await
        .map_err(|_| Refusal::Page(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE))?
        .ok_or(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "This authorization request is unknown or has expired.",
        ))?;
    let record: ParRecord = serde_json::from_slice(&stored.data).map_err(|_| {
        Refusal::Page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The stored request could not be read.",
        )
    })?;
    if client_id != Some(record.request.client_id.as_str()) {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "client_id does not match the pushed request.",
        ));
    }
    if stored.state == ParState::Done {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "This authorization request was already used.",
        ));
    }
    let id = ClientId::try_from(record.request.client_id.as_str())
        .map_err(|_| Refusal::Page(StatusCode::BAD_REQUEST, "Unknown client."))?;
    let client = state
        .oauth
        .clients
        .get(&state.store, &id)
        .await
        .map_err(|_| Refusal::Page(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE))?
        .ok_or(Refusal::Page(StatusCode::BAD_REQUEST, "Unknown client."))?;
    // The registration may have changed since the push.
    if !client.has_redirect_uri(&record.request.redirect_uri) {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is no longer registered.",
        ));
    }
    Ok(Loaded {
        reference: reference.to_owned(),
        record,
        client,
        stored,
    })
}

/// `redirect_uri` with the response parameters (RFC 6749 §4.1.2, RFC 9207 §2).
pub(super) fn response_url(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Some(url.into())
}

/// The code response's parameters: `code`, `iss` and the client's `state`.
pub(super) fn code_response_url(
    state: &AppState,
    record: &ParRecord,
    code: &str,
) -> Option<String> {
    let mut params = vec![("code", code), ("iss", state.config.issuer.as_str())];
    if let Some(s) = &record.request.state {
        params.push(("state", s.as_str()));
    }
    response_url(&record.request.redirect_uri, &params)
}

/// A 303 to `redirect_uri` with the response parameters.
fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match response_url(redirect_uri, params).and_then(|u| HeaderValue::from_str(&u).ok()) {
        Some(loc) => (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response(),
        None => error_page(
            Lang::En,
            StatusCode::BAD_REQUEST,
            "The redirect URI is invalid.",
            None,
        ),
    }
}

fn error_redirect(
    state: &AppState,
    record: &ParRecord,
    error: ErrorCode,
    description: &str,
) -> Response {
    let mut params = vec![
        ("error", error.as_str()),
        ("error_description", description),
        ("iss", state.config.issuer.as_str()),
    ];
    if let Some(s) = &record.request.state {
        params.push(("state", s.as_str()));
    }
    redirect_to(&record.request.redirect_uri, &params)
}

pub(super) async fn refuse(
    state: &AppState,
    meta: &RequestMeta,
    client_id: Option<&str>,
    refusal: Refusal,
) -> Response {
    let actor = client_actor(client_id.unwrap_or("-"));
    match refusal {
        Refusal::Page(status, message) => {
            failure(state, meta, "oauth.authorize", actor, message).await;
            error_page(meta.lang, status, message, meta.request_id.as_deref())
        }
        Refusal::Redirect {
            record,
            error,
            description,
        } => {
            failure(state, meta, "oauth.authorize", actor, description).await;
            error_redirect(state, &record, error, description)
        }
    }
}

/// Whether the session satisfies `prompt=login`, `max_age` (OIDC Core §3.1.2.1) and
/// `acr_values` (see [`Session::acr_satisfied`]).
pub(super) fn session_fresh_enough(session: &Session, record: &ParRecord, now: i64) -> bool {
    let prompt_login = record
        .request
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == "login"));
    if prompt_login && session.auth_time < record.pushed_at {
        return false;
    }
    let recent = match record.request.max_age {
        Some(max) => {
            now.saturating_sub(session.auth_time) <= i64::try_from(max).unwrap_or(i64::MAX)
        }
        None => true,
    };
    recent && session.acr_satisfied(&record.request.acr_values)
}

/// `GET /authorize?client_id=…&request_uri=…`
pub async fn authorize(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match FormParams::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(_) => {
            return refuse(
                &state,
                &meta,
                None,
                Refusal::Page(StatusCode::BAD_REQUEST, "The request is malformed."),
            )
            .await;
        }
    };
    let client_id = params.get("client_id");
    let loaded = match load(&state, client_id, params.get("request_uri")).await {
        Ok(l) => l,
        Err(r) => return refuse(&state, &meta, client_id, r).await,
    };
    // Everything must come from the pushed request (FAPI 2.0 §5.3.2.2 item 2).
    if params
        .names()
        .any(|n| n != "client_id" && n != "request_uri")
    {
        let refusal = Refusal::Redirect {
            record: Box::new(loaded.record),
            error: ErrorCode::InvalidRequest,
            description: "authorization parameters must be sent by PAR only",
        };
        return refuse(&state, &meta, client_id, refusal).await;
    }
    if let Err(page) = arrive(&state, &meta, &loaded).await {
        return page;
    }
    let (csrf, csrf_cookie) = session::csrf(&headers);
    let request_uri = par::request_uri(&loaded.reference);
    let now = state.clock.now().unix_timestamp();
    let session = match session::current(&state, &headers).await {
        Ok(s) => s.filter(|s| session_fresh_enough(s, &loaded.record, now)),
        Err(_) => {
            return unavailable_page(meta.lang, meta.request_id.as_deref());
        }
    };
    let page = match session {
        None => sign_in_page(
            &meta,
            &loaded,
            &request_uri,
            &csrf,
            "",
            None,
            StatusCode::OK,
        ),
        Some(s) => consent_page(&meta, &loaded, &s, &request_uri, &csrf),
    };
    with_cookie(page, csrf_cookie)
}

/// The browser reached `/authorize` with a pushed request: from now on it is an authorization
/// session of `oauth.authorization_session_secs` (the request_uri's own 60 s only had to cover
/// getting here), still used once. Made once, by compare-and-set; a reload finds it arrived.
async fn arrive(state: &AppState, meta: &RequestMeta, loaded: &Loaded) -> Result<(), Response> {
    if loaded.stored.state != ParState::Pushed {
        return Ok(());
    }
    let now = state.clock.now();
    let until = now + state.oauth.authorization_session;
    let Ok(update) = loaded
        .stored
        .advance_until(ParState::Arrived, None, until, now)
    else {
        return Err(unavailable_page(meta.lang, meta.request_id.as_deref()));
    };
    let mut unit = UnitOfWork::new();
    unit.update(update);
    // A conflict is another tab's arrival (or the request's expiry): either way, nothing to do.
    match crate::oauth::commit::commit(state, meta, unit, None).await {
        Ok(_) => Ok(()),
        Err(_) => Err(unavailable_page(meta.lang, meta.request_id.as_deref())),
    }
}

/// The sign-in page for this request; passkey only when it asks for an `acr` a password cannot
/// give.
fn sign_in_page(
    meta: &RequestMeta,
    loaded: &Loaded,
    request_uri: &str,
    csrf: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let here = back_to_authorize(loaded);
    let step_up = !loaded.record.request.acr_values.is_empty()
        && requests_known_acr(&loaded.record.request.acr_values);
    pages::render(
        status,
        &SignInPage {
            f: Frame::new(meta.lang, &here),
            client_name: &loaded.client.client_name,
            client_id: loaded.client.client_id.as_str(),
            request_uri,
            action: "/authorize/sign-in",
            next: &here,
            csrf,
            username,
            error,
            step_up,
        },
        None,
    )
}

fn consent_page(
    meta: &RequestMeta,
    loaded: &Loaded,
    session: &Session,
    request_uri: &str,
    csrf: &str,
) -> Response {
    let t = meta.lang.texts();
    let payment = super::payment::view(loaded, meta.lang);
    let details = loaded
        .record
        .request
        .authorization_details
        .iter()
        .map(|d| pages::detail_view(t, d, payment.is_some()))
        .filter(|d| !d.rows.is_empty())
        .collect();
    let here = back_to_authorize(loaded);
    let origin = url::Url::parse(&loaded.record.request.redirect_uri)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    pages::render(
        StatusCode::OK,
        &ConsentPage {
            f: Frame::new(meta.lang, &here),
            client_name: &loaded.client.client_name,
            client_id: loaded.client.client_id.as_str(),
            username: &session.username,
            request_uri,
            csrf,
            scopes: &loaded.record.request.scope,
            details,
            payment,
            approve_button: payment_detail(&loaded.record.request.authorization_details).is_none(),
        },
        origin.as_deref(),
    )
}

/// Parses a form post from one of our pages and checks its CSRF field.
async fn page_form(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(FormParams, Loaded), Response> {
    let params = match crate::forms::form_body(headers, body) {
        Ok(p) => p,
        Err(_) => {
            return Err(refuse(
                state,
                meta,
                None,
                Refusal::Page(StatusCode::BAD_REQUEST, "The form is malformed."),
            )
            .await);
        }
    };
    let client_id = params.get("client_id");
    if !session::csrf_ok(headers, params.get("csrf")) {
        let refusal = Refusal::Page(StatusCode::FORBIDDEN, crate::forms::FORM_REFUSED);
        return Err(refuse(state, meta, client_id, refusal).await);
    }
    match load(state, client_id, params.get("request_uri")).await {
        Ok(l) => Ok((params, l)),
        Err(r) => Err(refuse(state, meta, client_id, r).await),
    }
}

fn back_to_authorize(loaded: &Loaded) -> String {
    let mut url = format!("{AUTHORIZATION_ENDPOINT_PATH}?");
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", loaded.client.client_id.as_str())
            .append_pair("request_uri", &par::request_uri(&loaded.reference))
            .finish(),
    );
    url
}

/// `POST /authorize/sign-in`
pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, loaded) = match page_form(&state, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let username = params
        .get_bounded("username", 256)
        .ok()
        .flatten()
        .unwrap_or_default();
    let password = password_field(&params, "password");
    if sign_in_needs_passkey(&loaded) {
        // The page offered no password form: a password cannot satisfy this request.
        failure(
            &state,
            &meta,
            "user.sign_in",
            client_actor(loaded.client.client_id.as_str()),
            "password refused: the request needs a passkey (acr_values)",
        )
        .await;
        return see_other(&back_to_authorize(&loaded));
    }
    match password_sign_in(&state, &meta, username, &password).await {
        PasswordOutcome::SignedIn(s) => match session::start(&state, &s, state.clock.now()).await {
            Ok(cookie) => {
                let mut resp = see_other(&back_to_authorize(&loaded));
                resp.headers_mut().append(header::SET_COOKIE, cookie);
                resp
            }
            Err(_) => unavailable_page(meta.lang, meta.request_id.as_deref()),
        },
        PasswordOutcome::Refused => {
            let (csrf, cookie) = session::csrf(&headers);
            let request_uri = par::request_uri(&loaded.reference);
            let page = sign_in_page(
                &meta,
                &loaded,
                &request_uri,
                &csrf,
                crate::sign_in::echoable_username(username),
                Some(meta.lang.texts().invalid_credentials),
                StatusCode::UNAUTHORIZED,
            );
            with_cookie(page, cookie)
        }
        PasswordOutcome::Unavailable => unavailable_page(meta.lang, meta.request_id.as_deref()),
    }
}

fn sign_in_needs_passkey(loaded: &Loaded) -> bool {
    requests_known_acr(&loaded.record.request.acr_values)
}

/// `POST /authorize/consent`
pub async fn consent(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, loaded) = match page_form(&state, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let client_id = loaded.client.client_id.as_str().to_owned();
    let now = state.clock.now();
    let session = match session::current(&state, &headers).await {
        Ok(Some(s)) if session_fresh_enough(&s, &loaded.record, now.unix_timestamp()) => s,
        Ok(_) => {
            let refusal = Refusal::Page(
                StatusCode::UNAUTHORIZED,
                "Your sign-in has expired. Go back and start again.",
            );
            return refuse(&state, &meta, Some(&client_id), refusal).await;
        }
        Err(_) => {
            return unavailable_page(meta.lang, meta.request_id.as_deref());
        }
    };
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return refuse(
                &state,
                &meta,
                Some(&client_id),
                Refusal::Page(StatusCode::BAD_REQUEST, "No decision was made."),
            )
            .await;
        }
    };
    let payment = payment_detail(&loaded.record.request.authorization_details).is_some();
    if approve && payment {
        // A payment is approved by a passkey signature over it, never by a button (PSD2 RTS
        // Art. 5(1), OWASP Transaction Authorization 1.1): see `payment.rs`.
        let refusal = Refusal::Page(
            StatusCode::BAD_REQUEST,
            "This payment must be approved with your passkey.",
        );
        return refuse(&state, &meta, Some(&client_id), refusal).await;
    }
    // One use of the pushed request, enforced at the point of authorization (FAPI 2.0 §5.3.2.2
    // note 3): exactly one caller moves it out of `pushed`.
    let stored = &loaded.stored;
    match flow::advance_now(&state.store, stored, ParState::Done, &stored.data, now).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let refusal = Refusal::Page(
                StatusCode::BAD_REQUEST,
                "This authorization request was already used.",
            );
            return refuse(&state, &meta, Some(&client_id), refusal).await;
        }
        Err(_) => {
            return unavailable_page(meta.lang, meta.request_id.as_deref());
        }
    }
    let user = Actor {
        kind: ActorKind::User,
        id: session.user_id.clone(),
    };
    if !approve {
        if payment {
            super::payment::reject(&state, &meta, &loaded, &session).await;
        }
        failure(
            &state,
            &meta,
            "oauth.consent",
            user,
            "access_denied by the user",
        )
        .await;
        return error_redirect(
            &state,
            &loaded.record,
            ErrorCode::AccessDenied,
            "the user denied the request",
        );
    }
    let req = &loaded.record.request;
    let code = match code_grant(&loaded, &session, req.authorization_details.clone(), now) {
        Ok(grant) => grant::issue_code(&state.store, &grant, now).await,
        Err(e) => Err(e),
    };
    let code = match code {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not issue a code");
            return unavailable_page(meta.lang, meta.request_id.as_deref());
        }
    };
    if record_success(&state, &meta, "oauth.consent", user, &client_id)
        .await
        .is_err()
    {
        return unavailable_page(meta.lang, meta.request_id.as_deref());
    }
    match code_response_url(&state, &loaded.record, &code)
        .and_then(|u| HeaderValue::from_str(&u).ok())
    {
        Some(loc) => (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response(),
        None => error_page(
            meta.lang,
            StatusCode::BAD_REQUEST,
            "The redirect URI is invalid.",
            None,
        ),
    }
}

/// What the code of this consent stands for: the pushed request, the signed-in user, and the
/// granted `details` (a payment's enriched with its approval).
pub(super) fn code_grant(
    loaded: &Loaded,
    session: &Session,
    details: Vec<serde_json::Value>,
    now: time::OffsetDateTime,
) -> Result<CodeGrant, grant::GrantError> {
    let req = &loaded.record.request;
    Ok(CodeGrant {
        client_id: loaded.client.client_id.as_str().to_owned(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        dpop_jkt: req.dpop_jkt.clone(),
        scope: req.scope.clone(),
        authorization_details: details,
        subject: session.user_id.clone(),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.clone(),
        nonce: req.nonce.clone(),
        grant_id: shonin_oauth::claims::new_grant_id(now)?,
    })
}
