//! Building audit records for what the HTTP layer decides.

use crate::layers::RequestId;
use crate::net::ClientAddr;
use crate::state::AppState;
use shonin_audit::{Actor, AuditRecord, Outcome};

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
/// with that reason, sampled per IP (see `audit_sampler.rs`).
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
