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
    /// Why, for failures; never a secret.
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
