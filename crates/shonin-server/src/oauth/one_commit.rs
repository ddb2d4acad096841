//! A `client_credentials` token response in one commit: the client assertion's and the DPoP
//! proof's `jti`, the access token's record and the success audit entry are written by one
//! [`Store::issue_tokens`] call, after the token is signed and before it is sent.
//!
//! This grant reads nothing the request could race with (its grant is new), so deferring the
//! record's insert to the end changes no outcome; only the order of work does: a replayed value
//! is now found after the token was signed, and that token is dropped unsent and unrecorded.
//! The other grants keep writing as they go, because their checks depend on stored state that a
//! concurrent request may change (a reused code revokes its grant's tokens, RFC 6749 §10.5).

use super::deferred_claims::{DeferredClaims, replay_error};
use super::reject::{OAuthError, RequestMeta, success_record};
use crate::state::AppState;
use async_trait::async_trait;
use shonin_audit::Actor;
use shonin_oauth::ClientId;
use shonin_oauth::token_record::{TokenHash, TokenRecord, TokenStore};
use shonin_store::{Issued, Store};
use shonin_types::StorageError;
use std::sync::Mutex;
use time::OffsetDateTime;

/// A [`TokenStore`] whose inserts are kept for [`commit`]; every other call goes to the store.
#[derive(Debug)]
pub struct DeferredTokens<'a> {
    store: &'a Store,
    records: Mutex<Vec<TokenRecord>>,
}

impl<'a> DeferredTokens<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            records: Mutex::new(Vec::new()),
        }
    }

    fn into_records(self) -> Vec<TokenRecord> {
        self.records
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl TokenStore for DeferredTokens<'_> {
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StorageError> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(record.clone());
        Ok(())
    }

    async fn get_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        self.store.get_token(hash).await
    }

    async fn revoke_token(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        self.store.revoke_token(hash, now).await
    }

    async fn shorten_token(
        &self,
        hash: &TokenHash,
        until: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        self.store.shorten_token(hash, until).await
    }

    async fn revoke_certificate_bound(
        &self,
        client_id: &ClientId,
        x5t_s256: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        self.store
            .revoke_certificate_bound(client_id, x5t_s256, now)
            .await
    }

    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<u64, StorageError> {
        self.store.revoke_grant(grant_id, now).await
    }

    async fn sweep_tokens(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        self.store.sweep_tokens(now).await
    }
}

/// Writes the request's claims, its deferred token records and its success entry together.
/// A value used before is refused with the error its verifier would have given, and nothing
/// but the request's fresh claims is stored; a storage or audit failure is 503.
pub async fn commit(
    state: &AppState,
    meta: &RequestMeta,
    claims: DeferredClaims,
    tokens: DeferredTokens<'_>,
    action: &str,
    actor: Actor,
    target: &str,
) -> Result<(), OAuthError> {
    let record = state
        .audit
        .prepare_elsewhere(success_record(state, meta, action, actor, target))
        .map_err(|e| OAuthError::audit(&e))?;
    let claims = claims.into_claims();
    let refs: Vec<(&str, &str, OffsetDateTime)> = claims
        .iter()
        .map(|(ns, key, exp)| (ns.as_str(), key.as_str(), *exp))
        .collect();
    match state
        .store
        .issue_tokens(&refs, tokens.into_records(), record)
        .await
    {
        Ok(Issued::Committed { .. }) => {
            state.audit.appended_elsewhere(1);
            Ok(())
        }
        Ok(Issued::Replayed { claim }) => Err(replay_error(
            claims
                .get(claim)
                .map(|(ns, _, _)| ns.as_str())
                .unwrap_or_default(),
        )),
        Err(e) => Err(OAuthError::storage(&e)),
    }
}
