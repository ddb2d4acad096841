//! `POST /bc-authorize` — OpenID CIBA Core §7: a client-authenticated request for a user's
//! approval on their own device. The request is stored (flow kind `ciba`, under the hash of its
//! `auth_req_id`), the user is told through the operator's webhook (`ciba.approval_requested`,
//! with the approval page's URL), and the client gets `auth_req_id`, `expires_in` and
//! `interval` (§7.3). The client then polls the token endpoint, or waits for the ping. The
//! parameters may come signed, as a `request` JWT (§7.1.1).

use super::client_form::{ClientEndpoint, ClientForm, ClientRequest, Refused, respond};
use crate::error::OAuthError;
use crate::oauth::client_auth::jwks_unusable;
use crate::oauth::commit::{Committed, Success, commit};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shonin_audit::{Actor, ActorKind};
use shonin_identity::{UserStore as _, Username};
use shonin_jose::VerifyOptions;
use shonin_oauth::GrantType;
use shonin_oauth::ciba::{self, CibaRecord, CibaState, ClientSide};
use shonin_oauth::client::ClientJwks;
use shonin_oauth::form::FormParams;
use shonin_oauth::metadata::BACKCHANNEL_AUTHENTICATION_PATH;
use shonin_types::ErrorCode;
use shonin_types::flow::Flow;
use shonin_types::unit::{OneTimeClaim, UnitOfWork};

const ACTION: &str = "oauth.ciba";

/// The backchannel authentication endpoint, for [`ClientForm`] (no DPoP: tokens are bound at
/// the token endpoint).
#[derive(Debug)]
pub struct BackchannelAuthentication;

impl ClientEndpoint for BackchannelAuthentication {
    const ACTION: &'static str = ACTION;
    const PATH: &'static str = BACKCHANNEL_AUTHENTICATION_PATH;
}

/// The approval page of a request (what the user's notification links to).
pub fn approval_path(record_id: &str) -> String {
    format!("/ciba/{record_id}")
}

pub async fn backchannel(
    State(state): State<AppState>,
    form: ClientForm<BackchannelAuthentication>,
) -> Response {
    let result = authenticate(&state, &form.meta, form.req).await;
    respond::<BackchannelAuthentication>(&state, &form.meta, result).await
}

/// CIBA Core §7.1.1: a signed request's parameters, once its signature (the client's keys, the
/// algorithm policy, `exp`/`nbf`/`iat`) and claims hold; its `jti` is staged for one use.
async fn signed_request(
    state: &AppState,
    req: &ClientRequest,
    jwt: &str,
    unit: &mut UnitOfWork,
) -> Result<FormParams, OAuthError> {
    let invalid = |why: String| OAuthError::new(ErrorCode::InvalidRequest, why);
    let client = &req.client;
    let now = state.clock.now();
    let opts = VerifyOptions::new(now);
    let verify = |jwks: &serde_json::Value| shonin_jose::verify_jwt(jwt, jwks, &opts);
    let claims = match &client.jwks {
        ClientJwks::None => {
            return Err(invalid(
                "a signed request needs the client's registered keys (jwks or jwks_uri)".into(),
            ));
        }
        ClientJwks::Inline(jwks) => verify(jwks),
        ClientJwks::Uri(uri) => {
            let jwks = state
                .oauth
                .jwks
                .get(uri)
                .await
                .map_err(|_| jwks_unusable())?;
            match verify(&jwks) {
                // The client may have rotated its keys since the set was cached.
                Err(shonin_jose::JoseError::UnknownKey) => {
                    match state
                        .oauth
                        .jwks
                        .refetch(uri)
                        .await
                        .map_err(|_| jwks_unusable())?
                    {
                        Some(fresh) => verify(&fresh),
                        None => verify(&jwks),
                    }
                }
                other => other,
            }
        }
    }
    .map_err(|e| invalid(format!("the signed authentication request is invalid: {e}")))?;
    let params = ciba::signed_params(
        &claims,
        &req.form,
        client.client_id.as_str(),
        &state.config.issuer,
    )
    .map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))?;
    let jti = claims
        .get("jti")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok())
        .unwrap_or(now);
    unit.claim(OneTimeClaim {
        namespace: ciba::REQUEST_JTI_NAMESPACE,
        key: format!("{}:{jti}", client.client_id.as_str()),
        expires_at: exp.max(now) + time::Duration::seconds(60),
    });
    Ok(params)
}

async fn authenticate(
    state: &AppState,
    meta: &RequestMeta,
    mut req: ClientRequest,
) -> Result<Response, Refused> {
    let mut unit = std::mem::take(&mut req.unit);
    let fail = |e: OAuthError| req.refuse(e);
    let server_error =
        |e: &dyn std::fmt::Display| OAuthError::new(ErrorCode::ServerError, e.to_string());
    let client = &req.client;
    let side = ClientSide {
        scopes: &client.scope,
        authorization_details_types: &client.authorization_details_types,
        allows_ciba: client.allows_grant(GrantType::Ciba),
        mode: client.backchannel_token_delivery_mode,
    };
    let oauth = &state.oauth;
    let signed = match req.form.get("request") {
        Some(jwt) => Some(
            signed_request(state, &req, jwt, &mut unit)
                .await
                .map_err(fail)?,
        ),
        None => None,
    };
    let params = signed.as_ref().unwrap_or(&req.form);
    let request = ciba::validate(params, side, &oauth.details, oauth.ciba_lifetime)
        .map_err(|e| fail(OAuthError::new(e.oauth_error(), e.to_string())))?;
    // A payment is approved by a passkey signature over it, as in the code flow.
    shonin_txn::consent::check_details(&request.authorization_details).map_err(|e| {
        fail(OAuthError::new(
            ErrorCode::InvalidAuthorizationDetails,
            format!("payment_initiation: {e}"),
        ))
    })?;
    // §13 unknown_user_id: no such user, or one who cannot sign in to approve. The client is
    // authenticated and names the user itself, so this tells it nothing it did not send.
    let unknown = || {
        fail(OAuthError::new(
            ErrorCode::UnknownUserId,
            "login_hint names no user who can approve",
        ))
    };
    let username = Username::new(&request.login_hint).map_err(|_| unknown())?;
    let user = match state.store.get_user_by_username(&username).await {
        Ok(Some(u)) if !u.disabled => u,
        Ok(_) => return Err(unknown()),
        Err(e) => return Err(fail(OAuthError::new(e.oauth_error(), e.to_string()))),
    };
    let now = state.clock.now();
    let lifetime = request
        .requested_expiry
        .map_or(oauth.ciba_lifetime, time::Duration::seconds);
    let expires_at = now + lifetime;
    let auth_req_id = shonin_oauth::claims::random_token(32).map_err(|e| fail(server_error(&e)))?;
    let record_id = ciba::record_id(&auth_req_id);
    let mode = client
        .backchannel_token_delivery_mode
        .ok_or_else(|| fail(server_error(&"a CIBA client without a delivery mode")))?;
    let interval = oauth.ciba_interval.whole_seconds();
    let record = CibaRecord {
        client_id: client.client_id.as_str().to_owned(),
        subject: user.id.clone(),
        username: user.username.as_str().to_owned(),
        scope: request.scope,
        authorization_details: request.authorization_details,
        binding_message: request.binding_message,
        acr_values: request.acr_values,
        mode,
        ping: request
            .client_notification_token
            .map(|client_notification_token| ciba::PingTarget {
                client_notification_token,
                auth_req_id: auth_req_id.clone(),
            }),
        created_at: now.unix_timestamp(),
        expires_at: expires_at.unix_timestamp(),
        interval,
        last_poll: None,
        grant_id: shonin_oauth::claims::new_grant_id(now).map_err(|e| fail(server_error(&e)))?,
        approval: None,
    };
    let data = serde_json::to_vec(&record).map_err(|e| fail(server_error(&e)))?;
    let flow = Flow::new(
        record_id.clone(),
        CibaState::Pending,
        data,
        ciba::record_expiry(expires_at),
    );
    unit.rows.push(flow.row());
    // The assertion's jti, the request and its audit entry (target: the approval page's id, so
    // an operator finds pending approvals in the audit log) in one commit.
    let success = Success {
        action: ACTION,
        actor: Actor {
            kind: ActorKind::Client,
            id: client.client_id.as_str().to_owned(),
        },
        target: &record_id,
    };
    if let Committed::Conflict { .. } = commit(state, meta, unit, Some(success))
        .await
        .map_err(fail)?
    {
        return Err(fail(server_error(
            &"a new request without updates reported a conflict",
        )));
    }
    crate::alerts::ciba_requested(
        state,
        meta,
        crate::alerts::CibaRequestedAlert {
            user_id: record.subject.clone(),
            username: record.username.clone(),
            client_id: record.client_id.clone(),
            client_name: client.client_name.clone(),
            binding_message: record.binding_message.clone(),
            approval_url: format!("{}{}", state.config.issuer, approval_path(&record_id)),
            expires_at: crate::alerts::rfc3339_at(expires_at),
            ..Default::default()
        },
    );
    let body = json!({
        "auth_req_id": auth_req_id,
        "expires_in": lifetime.whole_seconds(),
        "interval": interval,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
