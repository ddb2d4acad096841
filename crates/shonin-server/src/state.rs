//! What every handler can reach.

use crate::config::Config;
use crate::layers::ip_limiter::IpRateLimiter;
use metrics_exporter_prometheus::PrometheusHandle;
use shonin_audit::AuditLog;
use shonin_store::Store;
use shonin_types::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared application state: one pointer, so the clone every extractor and middleware makes
/// per request is a reference-count increment. Fields are reached through `Deref`.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: crate::keys::Keys,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
    pub rate_limiter: IpRateLimiter,
    pub oauth: Arc<crate::oauth::OAuth>,
    pub passkeys: Arc<crate::passkeys::PasskeyService>,
    /// The issuer-side 3-D Secure ACS, when `[threeds.acs]` is configured.
    pub acs: Option<Arc<crate::threeds::AcsService>>,
    /// The merchant-side 3DS Server, when `[threeds.server]` is configured.
    pub threeds_server: Option<Arc<crate::threeds_server::ServerService>>,
    /// The alert webhook (sign-in failures, locked transactions), when configured.
    pub alerts: Option<Arc<crate::alerts::webhook::Alerts>>,
    /// The card vault (`/vault/cards`).
    pub vault: Arc<crate::vault::CardVault>,
    /// Whether the last storage probe succeeded; requests that need storage fail fast when not.
    pub storage_ready: Arc<AtomicBool>,
    /// Set when a request failed on storage (every 503 this server sends is one); `/readyz`
    /// answers 503 until a write succeeds again. A read probe cannot see a full disk.
    pub storage_write_fault: AtomicBool,
    /// Samples repeated security rejections per kind and address (see `shonin_audit::sampler`).
    pub audit_sampler: shonin_audit::sampler::AuditSampler,
}

impl AppState {
    pub fn storage_is_ready(&self) -> bool {
        self.storage_ready.load(Ordering::Relaxed)
    }
}
