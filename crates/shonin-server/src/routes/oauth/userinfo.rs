//! `GET|POST /userinfo` (OIDC Core §5.3) behind the resource-server checks of FAPI 2.0 §5.3.3.

use crate::audit_events::oauth_refusal;
use crate::error::OAuthError;
use crate::oauth::access::{Access, refusal, replay_challenge};
use crate::oauth::commit::commit;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shonin_identity::{User, UserStore};
use shonin_oauth::resource::ResourceError;

const ACTION: &str = "oauth.userinfo";

pub async fn userinfo(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
) -> Response {
    match answer(&state, &meta, access).await {
        Ok(resp) => resp,
        Err(e) => oauth_refusal(&state, &meta, ACTION, None, e).await,
    }
}

async fn answer(
    state: &AppState,
    meta: &RequestMeta,
    access: Result<Access, OAuthError>,
) -> Result<Response, OAuthError> {
    let access = access?;
    // The proof's jti is claimed before anything is revealed (RFC 9449 §11.1); a replay is
    // refused with the resource challenge.
    let Access {
        token,
        unit,
        scheme,
    } = access;
    let _ = commit(state, meta, unit, None)
        .await
        .map_err(replay_challenge)?;
    if !token.has_scope("openid") {
        return Err(refusal(
            scheme,
            &ResourceError::InsufficientScope("openid".into()),
        ));
    }
    let sub = token.subject().unwrap_or_default().to_owned();
    let user: Option<User> = state
        .store
        .get_user(&sub)
        .await
        .map_err(|e| OAuthError::storage(&e))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(refusal(scheme, &ResourceError::Inactive));
    };
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), json!(sub));
    body.insert("preferred_username".into(), json!(user.username.as_str()));
    if let Some(name) = &user.display_name {
        body.insert("name".into(), json!(name));
    }
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::Value::Object(body)),
    )
        .into_response())
}
