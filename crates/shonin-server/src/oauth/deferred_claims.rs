//! Replay claims collected while a request's signatures are checked and made together at the
//! end, so a token or PAR request's two one-time values — the client assertion's `jti`
//! (RFC 7523 §3 item 7) and the DPoP proof's `jti` (RFC 9449 §11.1) — reach the store as one
//! write ([`ReplayStore::first_use_many`]) instead of two in a row.
//!
//! The verifiers see every claim as fresh; the handler must call [`DeferredClaims::settle`]
//! before it acts on the request (issues a code, a token, or stores a pushed request). A request
//! refused before that point has consumed neither value, which is harmless: it got nothing.

use super::reject::OAuthError;
use async_trait::async_trait;
use shonin_oauth::{ClientAuthError, DpopError, client_assertion, dpop};
use shonin_types::StorageError;
use shonin_types::ports::ReplayStore;
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct DeferredClaims {
    claims: Mutex<Vec<(String, String, OffsetDateTime)>>,
}

#[async_trait]
impl ReplayStore for DeferredClaims {
    async fn first_use(
        &self,
        namespace: &str,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((namespace.to_owned(), key.to_owned(), expires_at));
        Ok(true)
    }

    async fn sweep_replays(&self, _now: OffsetDateTime) -> Result<u64, StorageError> {
        Ok(0)
    }
}

impl DeferredClaims {
    /// The collected claims: namespace, key, expiry.
    pub fn into_claims(self) -> Vec<(String, String, OffsetDateTime)> {
        self.claims
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every collected claim in `store` at once; a value seen before is refused with the
    /// error its verifier would have given.
    pub async fn settle(self, store: &dyn ReplayStore) -> Result<(), OAuthError> {
        let claims = self.into_claims();
        if claims.is_empty() {
            return Ok(());
        }
        let refs: Vec<(&str, &str, OffsetDateTime)> = claims
            .iter()
            .map(|(ns, key, exp)| (ns.as_str(), key.as_str(), *exp))
            .collect();
        let fresh = store
            .first_use_many(&refs)
            .await
            .map_err(|e| OAuthError::storage(&e))?;
        match claims.iter().zip(fresh).find(|(_, fresh)| !fresh) {
            Some(((namespace, _, _), _)) => Err(replay_error(namespace)),
            None => Ok(()),
        }
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
        // Only the two verifiers above claim through this type.
        _ => OAuthError::new("invalid_request", "a one-time value was used before"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_store::testing::{TestEngine, with_fresh_store};

    async fn claim(d: &DeferredClaims, ns: &str, key: &str) {
        let exp = OffsetDateTime::now_utc() + time::Duration::seconds(60);
        assert!(d.first_use(ns, key, exp).await.unwrap());
    }

    #[tokio::test]
    async fn settle_claims_everything_and_names_the_replayed_value() {
        with_fresh_store(TestEngine::Sqlite, |store| async move {
            let first = DeferredClaims::default();
            claim(&first, client_assertion::REPLAY_NAMESPACE, "a1").await;
            claim(&first, dpop::REPLAY_NAMESPACE, "p1").await;
            first.settle(&store).await.unwrap();

            // The same proof again, with a new assertion: refused as a DPoP replay.
            let again = DeferredClaims::default();
            claim(&again, client_assertion::REPLAY_NAMESPACE, "a2").await;
            claim(&again, dpop::REPLAY_NAMESPACE, "p1").await;
            let e = again.settle(&store).await.unwrap_err();
            assert_eq!(e.error, "invalid_dpop_proof");
            assert!(e.description.contains("used before"), "{}", e.description);

            // The same assertion again: invalid_client (RFC 7523 §3 item 7).
            let reused = DeferredClaims::default();
            claim(&reused, client_assertion::REPLAY_NAMESPACE, "a1").await;
            claim(&reused, dpop::REPLAY_NAMESPACE, "p3").await;
            assert_eq!(
                reused.settle(&store).await.unwrap_err().error,
                "invalid_client"
            );

            // Nothing collected: nothing to do.
            DeferredClaims::default().settle(&store).await.unwrap();
        })
        .await
        .unwrap();
    }
}
