//! `POST /introspect` (RFC 7662), client-authenticated; a signed JWT response (RFC 9701) when
//! asked with `Accept: application/token-introspection+jwt`. A client learns about its own tokens
//! only; anything else is `{"active": false}`.

use super::client_form::{ClientEndpoint, ClientForm, ClientRequest, Refused, respond};
use crate::error::OAuthError;
use crate::oauth::commit::commit;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use shonin_keys::{KeyPurpose, KeySource};
use shonin_oauth::introspection::{
    self, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE, TOKEN_INTROSPECTION_JWT_TYP, TokenFacts, TokenType,
};
use shonin_oauth::metadata::INTROSPECTION_ENDPOINT_PATH;
use shonin_oauth::{TokenStore, token_hash};
use shonin_types::ErrorCode;

const ACTION: &str = "oauth.introspect";

/// The introspection endpoint (RFC 7662), for [`ClientForm`].
#[derive(Debug)]
pub struct Introspect;

impl ClientEndpoint for Introspect {
    const ACTION: &'static str = ACTION;
    const PATH: &'static str = INTROSPECTION_ENDPOINT_PATH;
}

pub async fn introspect(State(state): State<AppState>, form: ClientForm<Introspect>) -> Response {
    let result = answer(&state, &form.meta, &form.headers, form.req).await;
    respond::<Introspect>(&state, &form.meta, result).await
}

async fn answer(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    mut req: ClientRequest,
) -> Result<Response, Refused> {
    let unit = std::mem::take(&mut req.unit);
    let fail = |e: OAuthError| req.refuse(e);
    // The assertion's jti is claimed before anything is revealed (RFC 7523 §3 item 7).
    let _ = commit(state, meta, unit, None).await.map_err(fail)?;
    let (form, client) = (&req.form, &req.client);
    let token = form.get("token").ok_or_else(|| {
        fail(OAuthError::new(
            ErrorCode::InvalidRequest,
            "token is required",
        ))
    })?;
    let now = state.clock.now();
    let record = state
        .store
        .get_token(&token_hash(token))
        .await
        .map_err(|e| fail(OAuthError::storage(&e)))?;
    let facts = record
        .filter(|r| r.client_id == client.client_id)
        .map(|r| TokenFacts {
            issuer: state.config.issuer.clone(),
            client_id: r.client_id.as_str().to_owned(),
            subject: r.subject.clone(),
            scope: r.scope.clone(),
            audience: Vec::new(),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            // RFC 9449 §6.2: DPoP for DPoP-bound access tokens; a token bound only to a
            // certificate is used with the Bearer scheme (RFC 8705 §3), so are refresh tokens.
            token_type: if r.kind == shonin_oauth::TokenKind::Access && r.cnf_jkt.is_some() {
                TokenType::DPoP
            } else {
                TokenType::Bearer
            },
            jkt: r.cnf_jkt.clone(),
            x5t: r.cnf_x5t_s256.clone(),
            authorization_details: r.authorization_details.clone(),
            revoked: r.revoked_at.is_some(),
        });
    let response = introspection::introspection_response(facts.as_ref(), now);
    let wants_jwt = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|m| m.trim().starts_with(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE))
        });
    if wants_jwt {
        let claims = introspection::jwt_response_claims(
            &state.config.issuer,
            client.client_id.as_str(),
            now,
            response,
        );
        let signer = state
            .keys
            .signer_for(KeyPurpose::Tokens)
            .map_err(|e| fail(OAuthError::new(ErrorCode::ServerError, e.to_string())))?;
        let jwt = shonin_keys::sign_jwt(signer.as_ref(), TOKEN_INTROSPECTION_JWT_TYP, &claims)
            .await
            .map_err(|e| fail(OAuthError::new(ErrorCode::ServerError, e.to_string())))?;
        return Ok((
            [
                (header::CONTENT_TYPE, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE),
                (header::CACHE_CONTROL, "no-store"),
            ],
            jwt,
        )
            .into_response());
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(response)).into_response())
}
