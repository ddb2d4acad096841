//! `shonin keys hsm-init` and `shonin keys rotate-kek`: making the HSM's keys and moving the
//! vault to a new key-encryption key. Both need `[keys.pkcs11]`; both are audit-logged.
// A command-line tool: its output is the point.
#![allow(clippy::print_stdout)]

use super::record::{admin_actor, record};
use crate::config::Config;
use crate::global_args::GlobalArgs;
use crate::keys::{Keys, hsm_settings};
use crate::{dev, runtime, telemetry};
use anyhow::Context;
use shonin_keys::KeySource;
use shonin_keys_pkcs11::Hsm;
use shonin_types::{Clock, SystemClock};
use std::process::ExitCode;
use std::sync::Arc;

/// Records re-wrapped per batch by `rotate-kek`.
const REWRAP_BATCH: u32 = 500;

fn pkcs11(config: &Config) -> anyhow::Result<&crate::config::Pkcs11Config> {
    config.keys.pkcs11.as_ref().context(
        "[keys.pkcs11] is not configured: the HSM commands need the module, token and key labels",
    )
}

/// Makes the keys `[keys.pkcs11]` names and the token does not hold yet: two ES256 key pairs
/// (current and next, as the keyring starts) and one AES-256 KEK. Keys already there are kept.
pub async fn init(g: &GlobalArgs, config: &Config) -> anyhow::Result<ExitCode> {
    telemetry::cli_logging();
    if g.dev {
        dev::prepare(&g.data_dir, config)?;
    }
    let settings = hsm_settings(pkcs11(config)?)?;
    let actor = admin_actor(g.actor.as_deref())?;
    let hsm = Hsm::open_for_setup(settings).context("opening the HSM (keys.pkcs11)")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now().unix_timestamp();
    let mut made = Vec::new();
    let p = pkcs11(config)?;
    if p.signing_key_label.is_some() && hsm.current_signer().is_none() {
        made.push(("signing key (current)", hsm.generate_signing_key(now)?));
        made.push(("signing key (next)", hsm.generate_signing_key(now + 1)?));
    }
    if p.kek_label.is_some() && hsm.current_kek().is_none() {
        made.push(("key-encryption key", hsm.generate_kek(now)?));
    }
    if p.mac_key_label.is_some() {
        for id in hsm.generate_mac_keys(now)? {
            made.push(("MAC key", id));
        }
    }
    if made.is_empty() {
        println!("the token already holds the configured keys; nothing made");
        return Ok(ExitCode::SUCCESS);
    }
    // The audit entry is signed by whatever signs checkpoints now (the keyring until the HSM's
    // keys exist): open the keyring alone.
    let (keyring, _) = runtime::open_keyring(config, clock.clone())?;
    let keys = Keys::new(keyring, None, &runtime::master_key(config)?);
    let store = runtime::open_store(config).await?;
    let audit = runtime::start_audit(config, &store, &keys, clock.clone());
    for (what, name) in &made {
        record(
            &audit,
            clock.now(),
            actor.clone(),
            "keys.hsm.create",
            name,
            Ok(()),
        )
        .await?;
        println!("made {what}: {name}");
    }
    audit.shutdown().await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Makes a new KEK in the HSM and re-encrypts every vault record under it (each under a fresh
/// data key, compare-and-set, in batches); old KEKs keep decrypting until nothing uses them.
pub async fn rotate_kek(g: &GlobalArgs, config: &Config) -> anyhow::Result<ExitCode> {
    telemetry::cli_logging();
    if g.dev {
        dev::prepare(&g.data_dir, config)?;
    }
    if pkcs11(config)
        .ok()
        .and_then(|p| p.kek_label.as_ref())
        .is_none()
    {
        anyhow::bail!(
            "the vault's key-encryption key is derived from the master key and has one version; \
             to rotate it, hold it in an HSM: set keys.pkcs11.kek_label and run `shonin keys \
             hsm-init`, then `shonin keys rotate-kek` moves every record to it"
        );
    }
    let actor = admin_actor(g.actor.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (keys, _) = runtime::open_keys(config, clock.clone())?;
    let store = runtime::open_store(config).await?;
    let audit = runtime::start_audit(config, &store, &keys, clock.clone());
    let hsm = keys.hsm.clone().context("the HSM is not open")?;
    let version = hsm.generate_kek(clock.now().unix_timestamp())?;
    record(
        &audit,
        clock.now(),
        actor.clone(),
        "keys.rotate_kek",
        &version,
        Ok(()),
    )
    .await?;
    println!("new key-encryption key: {version}");
    let fingerprints = keys.mac_key(shonin_keys::KeyPurpose::CardFingerprint)?;
    let vault = crate::vault::build(&config.vault, &store, fingerprints);
    let keks = keys.key_encryption_keys();
    let mut moved = 0u64;
    loop {
        let n = vault.rewrap(&keks, clock.now(), REWRAP_BATCH).await?;
        if n == 0 {
            break;
        }
        moved += n;
    }
    record(&audit, clock.now(), actor, "vault.rewrap", &version, Ok(())).await?;
    println!("re-encrypted {moved} vault records under it");
    println!(
        "running servers wrap new records with it within {} s; older KEKs can be destroyed in the \
         HSM once `shonin keys list` shows no record under them",
        config.keys.reload_interval_secs
    );
    audit.shutdown().await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
