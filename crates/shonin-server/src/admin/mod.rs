//! Admin commands and the data they manage: `shonin clients …`, `shonin users …`, the
//! `[[clients]]` section of `shonin.toml` applied at startup, and the `--dev` demo client and user.
//!
//! Every change is written to the audit log before the command reports success: actor `admin`
//! (the operator's login name) for commands, actor `system` for what the
//! server does by itself at startup. A refused command is audit-logged too, as a failure with the
//! reason, once the store is open.
//!
//! Must not: print, log or audit a password or a password hash; store a client key that has
//! private members; change a client without running `shonin_oauth::client::validate` again.

pub mod clients;
pub mod config_clients;
pub mod demo;
pub mod hsm;
pub mod record;
pub mod table;
pub mod threeds;
pub mod txn;
pub mod users;

use crate::config::Config;
use crate::global_args::GlobalArgs;
use crate::{dev, runtime};
use record::record;
use shonin_audit::{Actor, AuditLog};
use shonin_store::Store;
use shonin_types::{Clock, SystemClock};
use std::future::Future;
use std::sync::Arc;

/// What an admin command works with: the store, the audit writer, a clock and the operator.
#[derive(Debug)]
pub(crate) struct AdminContext {
    pub store: Store,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub actor: Actor,
    /// The keys, for commands that compute with them (card fingerprints).
    pub keys: crate::keys::Keys,
    /// `oauth.scopes`: the only scopes a client may be registered with.
    pub scopes: Vec<String>,
}

impl AdminContext {
    /// Opens storage (applying migrations), the keyring (the audit writer signs checkpoints with
    /// it) and the audit writer; with `--dev`, prepares the data directory first.
    pub async fn open(g: &GlobalArgs, config: &Config) -> anyhow::Result<Self> {
        crate::telemetry::cli_logging();
        if g.dev {
            dev::prepare(&g.data_dir, config)?;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (keys, _) = runtime::open_keys(config, clock.clone())?;
        let store = runtime::open_store(config).await?;
        let audit = runtime::start_audit(config, &store, &keys, clock.clone());
        Ok(Self {
            store,
            audit,
            clock,
            actor: record::admin_actor(g.actor.as_deref())?,
            keys,
            scopes: config.oauth.scopes.clone(),
        })
    }

    /// Runs `work`, then audit-logs `action` on `target` as a success, or as a failure with the
    /// error as reason. The error is returned either way; a success whose audit entry cannot be
    /// written is reported as an error, since the change then went unrecorded.
    pub async fn audited<T>(
        &self,
        action: &str,
        target: &str,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match work.await {
            Ok(value) => {
                record(
                    &self.audit,
                    self.clock.now(),
                    self.actor.clone(),
                    action,
                    target,
                    Ok(()),
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{action} {target} was done, but its audit entry could not be written: {e}"
                    )
                })?;
                Ok(value)
            }
            Err(err) => {
                let reason = format!("{err:#}");
                if let Err(e) = record(
                    &self.audit,
                    self.clock.now(),
                    self.actor.clone(),
                    action,
                    target,
                    Err(reason),
                )
                .await
                {
                    tracing::error!(error = %e, action, "audit entry for a refused admin command could not be written");
                }
                Err(err)
            }
        }
    }

    /// Commits queued audit entries and closes storage.
    pub async fn close(self) {
        self.audit.shutdown().await;
        self.store.close().await;
    }
}
