//! `POST /revoke` (RFC 7009). A client revokes its own tokens; revoking a refresh token also
//! revokes the access tokens of its grant (§2.1). The answer is 200 whether or not the token
//! existed (§2.2), so the endpoint does not reveal which tokens are valid.

use super::client_form::{ClientEndpoint, ClientForm, ClientRequest, Refused, respond};
use crate::error::OAuthError;
use crate::oauth::commit::{Success, commit};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shonin_audit::{Actor, ActorKind};
use shonin_oauth::metadata::REVOCATION_ENDPOINT_PATH;
use shonin_oauth::token_record::{revoke_grant_update, revoke_token_update};
use shonin_oauth::{TokenKind, TokenStore, token_hash};
use shonin_types::ErrorCode;

const ACTION: &str = "oauth.revoke";

/// The revocation endpoint (RFC 7009), for [`ClientForm`].
#[derive(Debug)]
pub struct Revoke;

impl ClientEndpoint for Revoke {
    const ACTION: &'static str = ACTION;
    const PATH: &'static str = REVOCATION_ENDPOINT_PATH;
}

pub async fn revoke(State(state): State<AppState>, form: ClientForm<Revoke>) -> Response {
    let result = answer(&state, &form.meta, form.req).await;
    respond::<Revoke>(&state, &form.meta, result).await
}

async fn answer(
    state: &AppState,
    meta: &RequestMeta,
    mut req: ClientRequest,
) -> Result<Response, Refused> {
    let mut unit = std::mem::take(&mut req.unit);
    let fail = |e: OAuthError| req.refuse(e);
    let (form, client) = (&req.form, &req.client);
    let token = form.get("token").ok_or_else(|| {
        fail(OAuthError::new(
            ErrorCode::InvalidRequest,
            "token is required",
        ))
    })?;
    let now = state.clock.now();
    let server = |e: shonin_types::StorageError| fail(OAuthError::storage(&e));
    let hash = token_hash(token);
    let mut success = None;
    if let Some(record) = state.store.get_token(&hash).await.map_err(server)?
        && record.client_id == client.client_id
    {
        unit.update(if record.kind == TokenKind::Refresh {
            revoke_grant_update(&record.grant_id, now)
        } else {
            revoke_token_update(&hash, now)
        });
        success = Some(Success {
            action: ACTION,
            actor: Actor {
                kind: ActorKind::Client,
                id: client.client_id.as_str().to_owned(),
            },
            target: record.kind.as_str(),
        });
    }
    // The assertion's jti, the revocation and its entry in one commit; a token that is not
    // this client's changes nothing but the claim (RFC 7009 §2.2: the answer is the same). The
    // revocations match any number of rows, so there is no conflict to lose.
    let _ = commit(state, meta, unit, success).await.map_err(fail)?;
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}
