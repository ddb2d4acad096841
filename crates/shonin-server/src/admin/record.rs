//! The audit entry of an admin command or of a change the server makes by itself at startup,
//! and who the operator is.

use shonin_audit::{Actor, ActorKind, AuditLog, AuditRecord, Outcome};

/// The operator running the command: the login name behind `sudo`, else the OS user.
pub fn admin_actor() -> Actor {
    let id = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned());
    Actor {
        kind: ActorKind::Admin,
        id,
    }
}

/// Appends one admin or system audit entry and waits until it is durable. `outcome` is `Ok` for
/// a success and `Err(reason)` for a refusal; the reason must never hold a secret.
pub async fn record(
    audit: &AuditLog,
    time: time::OffsetDateTime,
    actor: Actor,
    action: &str,
    target: &str,
    outcome: Result<(), String>,
) -> Result<u64, shonin_audit::AuditError> {
    let (outcome, reason) = match outcome {
        Ok(()) => (Outcome::Success, None),
        Err(reason) => (Outcome::Failure, Some(reason)),
    };
    audit
        .append(AuditRecord {
            time,
            actor,
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            reason,
            source_ip: None,
            request_id: None,
        })
        .await
}
