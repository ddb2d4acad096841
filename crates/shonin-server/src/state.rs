//! What every handler can reach.

use crate::config::Config;
use crate::layers::IpRateLimiter;
use metrics_exporter_prometheus::PrometheusHandle;
use shonin_audit::AuditLog;
use shonin_keys::KeyService;
use shonin_store::Store;
use shonin_types::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared application state; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: KeyService,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
    pub rate_limiter: IpRateLimiter,
    pub oauth: Arc<crate::oauth::OAuth>,
    pub passkeys: Arc<crate::passkeys::PasskeyService>,
    /// The sign-in alert webhook, when configured.
    pub alerts: Option<Arc<crate::alerts::Alerts>>,
    /// Whether the last storage probe succeeded; requests that need storage fail fast when not.
    pub storage_ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn storage_is_ready(&self) -> bool {
        self.storage_ready.load(Ordering::Relaxed)
    }
}
