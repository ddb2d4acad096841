//! Registered clients, read from the store and kept for a few seconds (`oauth.client_cache_secs`),
//! so the token endpoint does not read the same client row on every request.
//!
//! Only clients that exist are kept, so a flood of unknown `client_id`s cannot fill memory; the
//! cache holds at most [`MAX_ENTRIES`] clients. A change made with `shonin clients` (another
//! process, or another node) is seen by every node within the TTL; 0 turns the cache off.

use super::{Client, ClientId, ClientStore};
use shonin_types::StorageError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most clients kept; when full, expired entries are dropped, and if none has expired the
/// whole cache is cleared (a deployment with more clients than this simply reads more often).
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<ClientId, (Instant, Client)>>,
    /// `oauth.scopes`: a client is handed out with only the registered scopes still listed
    /// there, so removing a scope from the configuration stops it for every client at once.
    scopes: Vec<String>,
}

impl ClientCache {
    pub fn new(ttl: Duration, scopes: Vec<String>) -> ClientCache {
        ClientCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            scopes,
        }
    }

    /// The client `id`, with its scopes narrowed to those the server still grants.
    pub async fn get(
        &self,
        store: &dyn ClientStore,
        id: &ClientId,
    ) -> Result<Option<Client>, StorageError> {
        let mut found = self.cached(store, id).await?;
        if let Some(client) = &mut found {
            client.scope.retain(|s| self.scopes.contains(s));
        }
        Ok(found)
    }

    /// The client `id`, from the cache if it was read less than the TTL ago.
    async fn cached(
        &self,
        store: &dyn ClientStore,
        id: &ClientId,
    ) -> Result<Option<Client>, StorageError> {
        if self.ttl.is_zero() {
            return store.get_client(id).await;
        }
        if let Some(client) = self.fresh(id) {
            return Ok(Some(client));
        }
        let found = store.get_client(id).await?;
        let mut entries = self.lock();
        match &found {
            Some(client) => {
                if entries.len() >= MAX_ENTRIES {
                    let ttl = self.ttl;
                    entries.retain(|_, (read, _)| read.elapsed() < ttl);
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                }
                entries.insert(id.clone(), (Instant::now(), client.clone()));
            }
            None => {
                entries.remove(id);
            }
        }
        Ok(found)
    }

    fn fresh(&self, id: &ClientId) -> Option<Client> {
        let entries = self.lock();
        let (read, client) = entries.get(id)?;
        (read.elapsed() < self.ttl).then(|| client.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, (Instant, Client)>> {
        // A panic while holding the lock cannot leave the map inconsistent (every change is one
        // call), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
