//! The one place a request's writes happen: its unit of work (`shonin_types::unit`) — the
//! one-time values its verifiers staged, the records and compare-and-set updates its domain
//! logic staged — committed with its success audit entry in one durable transaction, shared
//! with other requests by the store's group-commit writer.
//!
//! A value used before is refused here with the error its verifier gives for a replay
//! (RFC 7523 §3 item 7, RFC 9449 §11.1), and nothing of the request but its fresh claims is
//! stored. A lost compare-and-set is handed back to the caller, whose domain logic knows what
//! it means (a code redeemed by another request is a reuse).

use crate::audit_events::success_record;
use crate::error::OAuthError;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use shonin_audit::{Actor, AuditRecord};
use shonin_oauth::{ClientAuthError, DpopError, client_assertion, dpop};
use shonin_types::ErrorCode;
use shonin_types::unit::{Outcome, UnitOfWork, UnitStore};

/// The success entry that commits with the unit: `action` by `actor` on `target`.
#[derive(Debug)]
pub struct Success<'a> {
    pub action: &'a str,
    pub actor: Actor,
    pub target: &'a str,
}

/// A unit that was not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Committed {
    Done,
    /// Update number `update` matched no row; only the unit's claims were written.
    Conflict {
        update: usize,
    },
}

/// Commits `unit` with the success entry, if any. A replay is refused with its verifier's
/// error; a storage or audit failure is 503.
pub async fn commit(
    state: &AppState,
    meta: &RequestMeta,
    unit: UnitOfWork,
    success: Option<Success<'_>>,
) -> Result<Committed, OAuthError> {
    let record = success.map(|s| success_record(state, meta, s.action, s.actor, s.target));
    commit_record(state, unit, record).await
}

/// Commits `unit` with `record` (a success or a failure entry), if any: for a refusal that
/// still writes, such as a failed approval attempt that counts towards a lock.
pub async fn commit_record(
    state: &AppState,
    unit: UnitOfWork,
    record: Option<AuditRecord>,
) -> Result<Committed, OAuthError> {
    let namespaces: Vec<&'static str> = unit.claims.iter().map(|c| c.namespace).collect();
    match commit_outcome(state, unit, record).await? {
        Outcome::Committed { .. } => Ok(Committed::Done),
        Outcome::Replayed { claim } => Err(replay_error(
            namespaces.get(claim).copied().unwrap_or_default(),
        )),
        Outcome::Conflict { update } => Ok(Committed::Conflict { update }),
    }
}

/// Commits `unit` with `record` and hands back the store's outcome as it is, for a caller whose
/// replays are not OAuth errors (the ACS answers a repeated `dsTransID` with Erro 301). A
/// storage or audit failure is the 503 `OAuthError`.
pub async fn commit_outcome(
    state: &AppState,
    unit: UnitOfWork,
    record: Option<AuditRecord>,
) -> Result<Outcome, OAuthError> {
    let entry = match record {
        Some(r) => Some(
            state
                .audit
                .prepare_elsewhere(r)
                .map_err(|e| OAuthError::audit(&e))?,
        ),
        None => None,
    };
    match state.store.commit(unit, entry).await {
        Ok(outcome) => {
            if let Outcome::Committed { seq: Some(_) } = outcome {
                state.audit.appended_elsewhere(1);
            }
            Ok(outcome)
        }
        Err(e) => Err(OAuthError::storage(&e)),
    }
}

/// The error the verifier that claimed a value of `namespace` gives for a replay.
pub fn replay_error(namespace: &str) -> OAuthError {
    match namespace {
        dpop::REPLAY_NAMESPACE => {
            let e = DpopError::Replayed;
            OAuthError::new(e.oauth_error(), e.to_string())
        }
        client_assertion::REPLAY_NAMESPACE => {
            let e = ClientAuthError::Replayed;
            OAuthError::new(e.oauth_error(), e.to_string())
        }
        shonin_oauth::ciba::REQUEST_JTI_NAMESPACE => OAuthError::new(
            ErrorCode::InvalidRequest,
            "the signed authentication request's jti was used before",
        ),
        _ => OAuthError::new(
            ErrorCode::InvalidRequest,
            "a one-time value was used before",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_gets_the_error_of_the_verifier_that_claimed_it() {
        assert_eq!(
            replay_error(dpop::REPLAY_NAMESPACE).error,
            "invalid_dpop_proof"
        );
        // RFC 7523 §3 item 7: a reused assertion fails client authentication.
        assert_eq!(
            replay_error(client_assertion::REPLAY_NAMESPACE).error,
            "invalid_client"
        );
        assert_eq!(replay_error("other").error, "invalid_request");
    }
}
