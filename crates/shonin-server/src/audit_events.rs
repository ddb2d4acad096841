//! Building audit records for what the HTTP layer decides.

use crate::error::OAuthError;
use crate::layers::request_id::RequestId;
use crate::net::ClientAddr;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use shonin_audit::{Actor, ActorKind, AuditRecord, Outcome};

/// Writes a `request.reject` entry and waits until it is durable. A failure to write is logged;
/// the rejection stands either way.
pub async fn rejection(
    state: &AppState,
    addr: Option<ClientAddr>,
    request_id: Option<&RequestId>,
    target: &str,
    reason: &str,
) {
    let record = AuditRecord {
        time: state.clock.now(),
        actor: Actor {
            kind: shonin_audit::ActorKind::Client,
            id: "-".to_owned(),
        },
        action: "request.reject".to_owned(),
        target: target.to_owned(),
        outcome: Outcome::Failure,
        reason: Some(reason.to_owned()),
        source_ip: addr.map(|a| a.client_ip),
        request_id: request_id.map(|r| r.0.clone()),
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "audit entry for a rejection could not be written");
    }
}

/// Records something the server itself did.
pub async fn system(
    state: &AppState,
    action: &str,
    target: &str,
) -> Result<u64, shonin_audit::AuditError> {
    state
        .audit
        .append(AuditRecord {
            time: state.clock.now(),
            actor: Actor::system(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: Outcome::Success,
            reason: None,
            source_ip: None,
            request_id: None,
        })
        .await
}

/// The connection layer's report of what it refused before the router (connections over
/// `server.max_connections_per_ip`, requests breaking the Host rule): a `request.reject` entry
/// with that reason, sampled per IP (see `shonin_audit::sampler`).
pub fn connection_refusals(state: &AppState) -> shonin_tls::RefusalHook {
    let state = state.clone();
    shonin_tls::RefusalHook(std::sync::Arc::new(move |ip, reason| {
        let Some(admitted) = state
            .audit_sampler
            .admit(reason, ip, std::time::Instant::now())
        else {
            return;
        };
        let reason = admitted.reason(reason);
        let state = state.clone();
        tokio::spawn(async move {
            let addr = ClientAddr {
                peer: std::net::SocketAddr::new(ip, 0),
                client_ip: ip,
            };
            rejection(&state, Some(addr), None, "connection", &reason).await;
        });
    }))
}

/// An audit entry for a refusal or failure of a user's request (pages, passkeys, account forms).
pub async fn user_failure(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    user_id: Option<&str>,
    reason: &str,
) {
    failure(
        state,
        meta,
        action,
        user_actor(user_id.unwrap_or("-")),
        reason,
    )
    .await;
}

/// An audit entry for a refused or failed request by `actor`, the target being the actor. A
/// failure to write it is logged; the refusal stands either way.
pub async fn failure(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    reason: &str,
) {
    let record = AuditRecord {
        time: state.clock.now(),
        target: actor.id.clone(),
        actor,
        action: action.to_owned(),
        outcome: Outcome::Failure,
        reason: Some(reason.to_owned()),
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "audit entry could not be written");
    }
}

pub fn user_actor(id: &str) -> Actor {
    Actor {
        kind: ActorKind::User,
        id: id.to_owned(),
    }
}

/// Writes the audit entry for a refused OAuth request and returns the error response.
pub async fn oauth_refusal(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    client_id: Option<&str>,
    err: OAuthError,
) -> Response {
    let record = AuditRecord {
        time: state.clock.now(),
        actor: Actor {
            kind: ActorKind::Client,
            id: client_id.unwrap_or("-").to_owned(),
        },
        action: action.to_owned(),
        target: client_id.unwrap_or("-").to_owned(),
        outcome: Outcome::Failure,
        reason: Some(format!("{}: {}", err.error, err.description)),
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "audit entry for an OAuth rejection could not be written");
        return OAuthError::audit(&e).into_response();
    }
    err.into_response()
}

/// Writes a success entry; an audit failure turns the success into a server error.
pub async fn record_success(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    target: &str,
) -> Result<(), OAuthError> {
    state
        .audit
        .append(success_record(state, meta, action, actor, target))
        .await
        .map(|_| ())
        .map_err(|e| OAuthError::audit(&e))
}

/// The success entry of `action` by `actor` on `target`.
pub fn success_record(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    actor: Actor,
    target: &str,
) -> AuditRecord {
    AuditRecord {
        time: state.clock.now(),
        actor,
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: Outcome::Success,
        reason: None,
        source_ip: Some(meta.addr.client_ip),
        request_id: meta.request_id.clone(),
    }
}
