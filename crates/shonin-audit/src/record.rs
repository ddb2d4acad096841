//! What one audit entry says.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::OffsetDateTime;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    Client,
    Admin,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Client => "client",
            ActorKind::Admin => "admin",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ActorKind::User),
            "client" => Some(ActorKind::Client),
            "admin" => Some(ActorKind::Admin),
            "system" => Some(ActorKind::System),
            _ => None,
        }
    }
}

/// An actor: its kind and its identifier (user id, client_id, admin name; `-` when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: "shonin".to_owned(),
        }
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// An entry before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// UTC, truncated to whole microseconds so both engines store it exactly.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub actor: Actor,
    /// A dotted verb, e.g. `token.issue`, `keys.rotate`, `request.reject`.
    pub action: String,
    /// What was acted on (a client_id, a key id, a route); `-` when nothing.
    pub target: String,
    pub outcome: Outcome,
    /// Why, for failures; for some successes, what the entry commits to (an approval names
    /// its receipt's digest). Never a secret.
    pub reason: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub request_id: Option<String>,
}

/// An entry in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: AuditRecord,
    #[serde(with = "crate::chain::hex_hash")]
    pub prev_hash: crate::Hash,
    #[serde(with = "crate::chain::hex_hash")]
    pub hash: crate::Hash,
}

/// Longest stored text per field, in characters; the stores enforce the same limits.
pub const MAX_ACTOR_ID_CHARS: usize = 256;
pub const MAX_ACTION_CHARS: usize = 128;
pub const MAX_TARGET_CHARS: usize = 1024;
pub const MAX_REASON_CHARS: usize = 2048;
pub const MAX_REQUEST_ID_CHARS: usize = 256;

fn clamp(s: &mut String, max: usize) {
    if s.chars().count() > max {
        let keep = max.saturating_sub(1);
        let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
        s.truncate(cut);
        s.push('…');
    }
}

impl AuditRecord {
    /// Cuts over-long text fields (a request path, a client-chosen id) to the stored limits, with
    /// `…` marking the cut, so an attacker's long input can never make an audit write fail.
    pub fn clamped(mut self) -> Self {
        clamp(&mut self.actor.id, MAX_ACTOR_ID_CHARS);
        clamp(&mut self.action, MAX_ACTION_CHARS);
        clamp(&mut self.target, MAX_TARGET_CHARS);
        if let Some(r) = self.reason.as_mut() {
            clamp(r, MAX_REASON_CHARS);
        }
        if let Some(r) = self.request_id.as_mut() {
            clamp(r, MAX_REQUEST_ID_CHARS);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(target: String) -> AuditRecord {
        AuditRecord {
            time: OffsetDateTime::UNIX_EPOCH,
            actor: Actor::system(),
            action: "request.reject".into(),
            target,
            outcome: Outcome::Failure,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[test]
    fn long_fields_are_cut_to_the_stored_limit_on_char_boundaries() {
        let r = record("é".repeat(5000)).clamped();
        assert_eq!(r.target.chars().count(), MAX_TARGET_CHARS);
        assert!(r.target.ends_with('…'));
        let exact = "x".repeat(MAX_TARGET_CHARS);
        assert_eq!(record(exact.clone()).clamped().target, exact);
        assert_eq!(record("short".into()).clamped().target, "short");
    }
}
