//! The audit entry of an admin command or of a change the server makes by itself at startup,
//! and who the operator is.

use shonin_audit::{Actor, ActorKind, AuditLog, AuditRecord, Outcome};

/// The operator running the command, for its audit entries: `--actor` (or `SHONIN_ACTOR`),
/// else the login name behind `sudo`, else the OS user (`USER`, `LOGNAME`), else the numeric user
/// id. A command nobody can be named for is refused rather than recorded as a placeholder.
pub fn admin_actor(explicit: Option<&str>) -> anyhow::Result<Actor> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let id = match explicit {
        Some(name) => name.to_owned(),
        None => env("SUDO_USER")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .or_else(os_uid)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the operator is unknown (no USER, LOGNAME or user id): pass --actor NAME"
                )
            })?,
    };
    anyhow::ensure!(
        !id.is_empty()
            && id.chars().count() <= MAX_ACTOR_CHARS
            && !id.chars().any(char::is_control),
        "--actor: 1 to {MAX_ACTOR_CHARS} characters without control characters"
    );
    Ok(Actor {
        kind: ActorKind::Admin,
        id,
    })
}

/// The longest operator name recorded.
const MAX_ACTOR_CHARS: usize = 64;

/// `uid:<n>` from `/proc/self/status` (Linux), when no name is in the environment.
fn os_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    let uid = line.split_whitespace().nth(1)?;
    Some(format!("uid:{uid}"))
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
