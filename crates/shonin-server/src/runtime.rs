//! Opening the pieces (storage, keys, audit) from configuration, and running the server.

use crate::config::{ClientCertificates, Config, ServerMode};
use crate::keys::Keys;
use crate::layers::IpRateLimiter;
use crate::state::{AppState, Services};
use crate::{routes, telemetry};
use anyhow::Context;
use shonin_audit::{AuditConfig, AuditLog};
use shonin_keys::{KeyService, KeySource, KeyringConfig, MasterKey};
use shonin_store::{Store, StoreOptions};
use shonin_types::{Clock, SystemClock};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Reads the master key: `SHONIN_MASTER_KEY` first, then `keys.master_key_file`.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Ok(value) = std::env::var("SHONIN_MASTER_KEY") {
        return MasterKey::parse(&value).context("environment variable SHONIN_MASTER_KEY");
    }
    let Some(path) = &config.keys.master_key_file else {
        anyhow::bail!(
            "configuration key `keys.master_key_file`: required unless SHONIN_MASTER_KEY is set"
        );
    };
    MasterKey::from_file(path).with_context(|| {
        format!(
            "configuration key `keys.master_key_file` ({})",
            path.display()
        )
    })
}

/// Connects to storage and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let opts = StoreOptions {
        max_connections: config.storage.max_connections,
        connect_timeout: Duration::from_secs(config.storage.connect_timeout_secs),
        ..StoreOptions::default()
    };
    let store = Store::connect(&config.storage.url, &opts)
        .await
        .context("opening storage (storage.url)")?;
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

/// Opens the keyring (creating it, one current and one next key, if it does not exist) and the
/// HSM of `[keys.pkcs11]`. The flag says whether the keyring was created.
pub fn open_keys(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<(Keys, bool)> {
    let (keyring, created) = open_keyring(config, clock)?;
    let hsm = crate::keys::open_hsm(config)?;
    let master = master_key(config)?;
    Ok((Keys::new(keyring, hsm, &master), created))
}

/// Opens the keyring file alone, creating it if it does not exist.
pub fn open_keyring(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<(KeyService, bool)> {
    let keyring = KeyringConfig {
        path: config.keys.keyring.clone(),
        algorithm: config.algorithm()?,
        publish_retired_for: time::Duration::seconds(i64::try_from(
            config.keys.publish_retired_for_secs,
        )?),
    };
    let master = master_key(config)?;
    KeyService::open_or_create(keyring, master, clock).context("opening the keyring (keys.keyring)")
}

/// Starts the audit writer.
pub fn start_audit(config: &Config, store: &Store, keys: &Keys, clock: Arc<dyn Clock>) -> AuditLog {
    let cfg = AuditConfig {
        checkpoint_every: config.audit.checkpoint_every,
        checkpoint_interval: Duration::from_secs(config.audit.checkpoint_interval_secs),
        on_checkpoint: config
            .audit
            .anchor_file
            .clone()
            .map(shonin_audit::files::publisher),
        ..AuditConfig::default()
    };
    let keys: Arc<dyn KeySource> = Arc::new(keys.clone());
    AuditLog::start(Arc::new(store.clone()), keys, cfg, clock)
}

/// Everything `serve` needs, opened.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&config).await?;
    // SQLite: this process decides replay claims; a second server on the same file stops here.
    store
        .hold_replay_claims()
        .await
        .context("taking the SQLite database's replay claims (storage.url)")?;
    let (keys, created) = open_keys(&config, clock.clone())?;
    let audit = start_audit(&config, &store, &keys, clock.clone());
    crate::admin::config_clients::sync_from_config(&store, &config.clients, &audit, clock.now())
        .await?;
    // Every node derives the same DPoP nonce key from the shared master key.
    let master = master_key(&config)?;
    let nonce_secret = master.derive("shonin dpop nonce v1");
    let acs =
        crate::threeds::AcsService::build(config.threeds.acs.as_ref(), &config.issuer, |p| {
            keys.mac_key(p)
        })?
        .map(Arc::new);
    let threeds_server = crate::threeds_server::ServerService::build(
        config.threeds.server.as_ref(),
        &config.issuer,
    )?
    .map(Arc::new);
    let oauth = Arc::new(crate::oauth::OAuth::new(&config, &store, &nonce_secret)?);
    let passkeys = Arc::new(crate::passkeys::PasskeyService::build(&config, &store)?);
    let alerts = crate::alerts::Alerts::build(&config.alerts)?.map(Arc::new);
    let fingerprints = keys.mac_key(shonin_keys::KeyPurpose::CardFingerprint)?;
    let vault = crate::vault::build(&config.vault, &store, fingerprints);
    let state = AppState::new(Services {
        oauth,
        passkeys,
        acs,
        threeds_server,
        alerts,
        vault,
        rate_limiter: IpRateLimiter::new(&config.rate_limit),
        config: Arc::new(config),
        store,
        keys,
        audit,
        clock,
        metrics: telemetry::metrics_handle(),
        storage_ready: Arc::new(AtomicBool::new(true)),
        storage_write_fault: AtomicBool::new(false),
        audit_sampler: Default::default(),
    });
    if created {
        let kid = state.keys.current_signer().kid().to_owned();
        crate::audit_events::system(&state, "keys.create", &kid).await?;
    }
    Ok(state)
}

/// Pings storage and records the result in `storage_ready`, which gates requests.
pub async fn probe_storage(s: &AppState) {
    let ok = tokio::time::timeout(Duration::from_secs(2), s.store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    if s.storage_ready.swap(ok, Ordering::Relaxed) != ok {
        if ok {
            tracing::info!("storage reachable again");
        } else {
            tracing::error!("storage unreachable; refusing requests until it is back");
        }
    }
    metrics::gauge!("shonin_storage_up").set(if ok { 1.0 } else { 0.0 });
    if !ok {
        metrics::counter!("shonin_storage_errors_total").increment(1);
    }
}

/// Periodic work: metrics upkeep, storage probe, keyring reload, expiry sweeps, limiter
/// housekeeping.
fn spawn_background(state: &AppState) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let s = state.clone();
    tasks.push(tokio::spawn(async move {
        // The recorder keeps every histogram sample until it is drained: by a scrape of
        // /metrics, or here. Without this, a server nobody scrapes grew by about 70 bytes a
        // request (docs/benchmarks.md, soak).
        let mut tick = tokio::time::interval(crate::telemetry::UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            s.metrics.run_upkeep();
        }
    }));
    let s = state.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            probe_storage(&s).await;
        }
    }));
    let s = state.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(Duration::from_secs(s.config.keys.reload_interval_secs));
        loop {
            tick.tick().await;
            // stat, read and decrypt on the blocking pool, never on an async worker thread.
            let keys = s.keys.clone();
            let reloaded = tokio::task::spawn_blocking(move || keys.reload_if_changed())
                .await
                .unwrap_or_else(|e| {
                    Err(shonin_keys::KeyError::Io {
                        op: "reload",
                        path: "keyring".into(),
                        reason: e.to_string(),
                    })
                });
            match reloaded {
                Ok(true) => {
                    tracing::info!(kid = %s.keys.current_signer().kid(), "keyring reloaded")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "keyring reload failed; keeping the loaded keys")
                }
            }
        }
    }));
    if let Some(server) = state.threeds_server.clone() {
        tasks.push(tokio::spawn(crate::threeds_server::keep_ranges(server)));
    }
    if state.acs.is_some() {
        let s = state.clone();
        tasks.push(tokio::spawn(async move {
            // The 3DS challenge timers live in the store; every node fires what fell due.
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = crate::threeds::timers::fire_due(&s, s.clock.now()).await {
                    tracing::warn!(error = %e, "3DS challenge timers could not be fired");
                }
            }
        }));
    }
    let s = state.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let retention = time::Duration::seconds(
                i64::try_from(s.config.oauth.token_record_retention_secs).unwrap_or(i64::MAX),
            );
            if let Err(e) = s.store.sweep(s.clock.now(), retention).await {
                tracing::warn!(error = %e, "expiry sweep failed");
            }
            s.rate_limiter.shrink();
            s.audit_sampler.shrink(std::time::Instant::now());
        }
    }));
    tasks
}

/// The connection limits `serve` runs with, from `server.*` (also used by the tests that
/// attack a real listener).
pub fn serve_limits(state: &AppState) -> shonin_tls::ServeLimits {
    let s = &state.config.server;
    shonin_tls::ServeLimits {
        // docs/configuration.md: header_read_timeout_secs also bounds the TLS handshake.
        handshake_timeout: Duration::from_secs(s.header_read_timeout_secs),
        header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
        max_header_bytes: s.max_header_bytes,
        max_connections: s.max_connections,
        max_connections_per_ip: s.max_connections_per_ip,
        per_ip_exempt: Arc::from(s.trusted_proxies.as_slice()),
        on_refusal: Some(crate::audit_events::connection_refusals(state)),
        idle_timeout: Duration::from_secs(s.idle_timeout_secs),
        shutdown_grace: Duration::from_secs(s.shutdown_grace_secs),
        ..shonin_tls::ServeLimits::default()
    }
}

/// Resolves on SIGTERM or Ctrl-C; the SIGTERM handler is installed when this is called.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // Registered now, before the server reports ready, so an early SIGTERM is not lost.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}

/// Runs the server until `shutdown` resolves, then drains requests and the audit queue.
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cfg = state.config.clone();
    let (tls_config, mtls_tls_config) = match cfg.server.mode {
        ServerMode::Tls => {
            let (Some(cert), Some(key)) = (&cfg.server.tls_cert, &cfg.server.tls_key) else {
                anyhow::bail!(
                    "configuration key `server.tls_cert`: required when server.mode = \"tls\""
                );
            };
            let mode = match cfg.server.client_certificates {
                ClientCertificates::None => shonin_tls::ClientCertMode::None,
                ClientCertificates::Optional => shonin_tls::ClientCertMode::Optional,
            };
            let mtls = match cfg.server.mtls_listen {
                Some(_) => Some(shonin_tls::server_config(
                    cert,
                    key,
                    shonin_tls::ClientCertMode::Optional,
                )?),
                None => None,
            };
            (Some(shonin_tls::server_config(cert, key, mode)?), mtls)
        }
        ServerMode::Proxy => (None, None),
    };
    // RFC 8705 §5: the alias listener asks every client for a certificate; requests on it
    // address the endpoints under server.mtls_base_url.
    let mtls_listener = match (cfg.server.mtls_listen, &cfg.server.mtls_base_url) {
        (Some(addr), Some(base)) => Some((
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding server.mtls_listen {addr}"))?,
            base.clone(),
        )),
        _ => None,
    };
    let limits = serve_limits(&state);
    let background = spawn_background(&state);
    let app = routes::router(state.clone());
    crate::audit_events::system(&state, "server.start", &cfg.issuer).await?;
    let shutdown = futures_util::FutureExt::shared(Box::pin(shutdown));
    let served = match mtls_listener {
        None => shonin_tls::serve(listener, tls_config, app, limits, shutdown).await,
        Some((mtls_listener, base)) => {
            let alias = routes::router(state.clone()).layer(axum::Extension(
                crate::request_meta::EndpointBase(Arc::from(base.as_str())),
            ));
            let (main, alias) = tokio::join!(
                shonin_tls::serve(listener, tls_config, app, limits.clone(), shutdown.clone()),
                shonin_tls::serve(mtls_listener, mtls_tls_config, alias, limits, shutdown),
            );
            main.and(alias)
        }
    };
    for task in background {
        task.abort();
    }
    if let Err(e) = crate::audit_events::system(&state, "server.stop", &cfg.issuer).await {
        tracing::error!(error = %e, "could not record server.stop");
    }
    // Every queued audit entry is committed before the process exits.
    state.audit.clone().shutdown().await;
    state.store.close().await;
    served.context("serving connections")?;
    Ok(())
}
