//! `POST /par` — pushed authorization requests (RFC 9126), the only way in (FAPI 2.0 §5.3.2.2).

use super::client_form::{ClientEndpoint, ClientForm, ClientRequest, Refused, respond};
use crate::error::OAuthError;
use crate::oauth::commit::{Committed, Success, commit};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shonin_audit::{Actor, ActorKind};
use shonin_oauth::GrantType;
use shonin_oauth::metadata::PAR_ENDPOINT_PATH;
use shonin_oauth::par::ParState;
use shonin_oauth::par::{self, ClientPolicy, PushedRequest};
use shonin_types::ErrorCode;
use shonin_types::flow::Flow;

const ACTION: &str = "oauth.par";

/// What is stored under the request_uri's reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParRecord {
    pub request: PushedRequest,
    /// When the request was pushed (unix seconds): `prompt=login` needs a sign-in after it.
    pub pushed_at: i64,
}

/// The pushed authorization request endpoint (RFC 9126), for [`ClientForm`].
#[derive(Debug)]
pub struct Par;

impl ClientEndpoint for Par {
    const ACTION: &'static str = ACTION;
    const PATH: &'static str = PAR_ENDPOINT_PATH;
    const DPOP: bool = true;
}

pub async fn par(State(state): State<AppState>, form: ClientForm<Par>) -> Response {
    let result = push(&state, &form.meta, form.req).await;
    respond::<Par>(&state, &form.meta, result).await
}

async fn push(
    state: &AppState,
    meta: &RequestMeta,
    mut req: ClientRequest,
) -> Result<Response, Refused> {
    let mut unit = std::mem::take(&mut req.unit);
    let fail = |e: OAuthError| req.refuse(e);
    let (form, client) = (&req.form, &req.client);
    // A client whose tokens are certificate-bound only never uses DPoP: a code bound to a DPoP
    // key here could not be redeemed, so say so now rather than at the token endpoint.
    if !client.dpop_bound_access_tokens && (req.dpop.is_some() || form.get("dpop_jkt").is_some()) {
        return Err(fail(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "this client's tokens are certificate-bound (RFC 8705); it must not use DPoP",
        )));
    }
    // RFC 9449 §10.1: a DPoP proof at PAR binds the code to its key.
    let proof_jkt = req
        .verify_dpop(state, &mut unit)
        .await
        .map_err(fail)?
        .map(|p| p.jkt);
    let policy = ClientPolicy {
        client_id: client.client_id.as_str(),
        redirect_uris: &client.redirect_uris,
        scopes: &client.scope,
        authorization_details_types: &client.authorization_details_types,
        allows_authorization_code: client.allows_grant(GrantType::AuthorizationCode),
    };
    let request = par::validate(form, policy, &state.oauth.details, proof_jkt.as_deref())
        .map_err(|e| fail(OAuthError::new(e.oauth_error(), e.to_string())))?;
    // A payment is approved by a passkey signature over it: one per request, and one this
    // server can show and sign (RFC 9396 §5: invalid_authorization_details).
    shonin_txn::consent::check_details(&request.authorization_details).map_err(|e| {
        fail(OAuthError::new(
            ErrorCode::InvalidAuthorizationDetails,
            format!("payment_initiation: {e}"),
        ))
    })?;
    let now = state.clock.now();
    let reference = shonin_oauth::claims::random_token(32)
        .map_err(|e| fail(OAuthError::new(ErrorCode::ServerError, e.to_string())))?;
    let record = ParRecord {
        request,
        pushed_at: now.unix_timestamp(),
    };
    let data = serde_json::to_vec(&record)
        .map_err(|e| fail(OAuthError::new(ErrorCode::ServerError, e.to_string())))?;
    let lifetime = state.oauth.par_lifetime;
    let pushed = Flow::new(
        reference.clone(),
        ParState::Pushed,
        data,
        par::expires_at(now, lifetime),
    );
    unit.rows.push(pushed.row());
    // The claims of the assertion's and the proof's jti, the pushed request and the success
    // entry in one commit.
    let success = Success {
        action: ACTION,
        actor: Actor {
            kind: ActorKind::Client,
            id: client.client_id.as_str().to_owned(),
        },
        target: client.client_id.as_str(),
    };
    match commit(state, meta, unit, Some(success))
        .await
        .map_err(fail)?
    {
        Committed::Done => {}
        // A new record and no update: nothing to lose a race on.
        Committed::Conflict { .. } => {
            return Err(fail(OAuthError::new(
                ErrorCode::ServerError,
                "a pushed request without updates reported a conflict",
            )));
        }
    }
    let body = json!({"request_uri": par::request_uri(&reference), "expires_in": lifetime.whole_seconds()});
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}
