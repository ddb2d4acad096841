//! The `shonin` command line: `serve`, `migrate`, `keys`, `audit`, `config`, `clients`, `users`,
//! `txn`, `3ds`, `demo`.

// Printing to standard output is what these commands are for.
#![allow(clippy::print_stdout)]

pub use crate::global_args::GlobalArgs;

use crate::admin::table::{ListArgs, Table};
use crate::config::{Config, ConfigSource};
use crate::{dev, runtime, telemetry};
use anyhow::Context;
use clap::{Parser, Subcommand};
use shonin_audit::{AuditRecord, Outcome};
use shonin_keys::KeySource;
use shonin_types::{Clock, SystemClock};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "shonin",
    version,
    about = "Approve who, which app, and each transaction."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Registered OAuth clients.
    #[command(subcommand)]
    Clients(crate::admin::clients::ClientsCommand),
    /// User accounts.
    #[command(subcommand)]
    Users(crate::admin::users::UsersCommand),
    /// Transaction approval receipts.
    #[command(subcommand)]
    Txn(crate::admin::txn::TxnCommand),
    /// EMV 3-D Secure tools: `3ds check FILE...` reads messages and prints what Shonin would
    /// answer.
    #[command(subcommand, name = "3ds")]
    ThreeDs(crate::admin::threeds::ThreeDsCommand),
    /// Run a Directory Server simulator (EMV 3-D Secure; for tests and integrators, not for
    /// production) from its own TOML file: mutual TLS to 3DS Servers and ACSs, AReqs routed by
    /// card range, RReqs relayed, PRes. Reads no server configuration.
    DsSim {
        /// The simulator's settings (docs/3ds.md, "The DS simulator").
        file: PathBuf,
    },
    /// Play the demo client against a running `serve --dev`: PAR, sign-in, consent, token,
    /// userinfo, refresh and revoke, printing each HTTP exchange.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their state and whether `/jwks` publishes them.
    List(ListArgs),
    /// Make the next key current, retire the current one, pre-publish a new next key (in the
    /// HSM when `[keys.pkcs11]` holds the signing keys).
    Rotate,
    /// Make the keys `[keys.pkcs11]` names that the token does not hold yet.
    HsmInit,
    /// Make a new key-encryption key in the HSM and re-encrypt every vault record under it.
    RotateKek,
    /// Print every public key the keyring has held, as a JWK set: what `audit verify` and
    /// `txn verify --jwks` check signatures with, long after a key stopped being published.
    Public,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and the signed checkpoints; exit 1 naming the first bad entry.
    Verify {
        /// A checkpoint kept outside the database (`audit anchor`, `audit.anchor_file`): the log
        /// must reach it, or it was cut short.
        #[arg(long)]
        anchor: Option<PathBuf>,
        /// Archived segments (`audit archive`), oldest first: each is verified, they must join
        /// each other, and the newest must join the database's base.
        #[arg(long)]
        archive: Vec<PathBuf>,
    },
    /// Write the entries after the database's base up to a checkpointed seq to a self-verifying
    /// segment file; with --prune, then delete them from the database.
    Archive {
        /// Last seq of the segment; must carry a checkpoint (default: the latest checkpoint).
        #[arg(long)]
        through: Option<u64>,
        /// The segment file (written atomically, mode 0600; must not exist).
        #[arg(long)]
        output: PathBuf,
        /// After the file is written and verified, delete the archived entries from the
        /// database (the checkpoint at the end stays and attests the new base).
        #[arg(long)]
        prune: bool,
    },
    /// Print the latest signed checkpoint as JSON: keep it outside the database as the anchor
    /// for `audit verify --anchor`.
    Anchor {
        /// Output file, replaced atomically (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Write entries as JSON lines (for a SIEM); the line of each transaction approval also
    /// carries its receipt (member `receipt`), which the entry names by SHA-256.
    Export {
        /// First sequence number to export.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Output file (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate and print the effective configuration with secrets redacted.
    Check,
}

/// Entry point: parses arguments, runs the command, maps failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_config(g: &GlobalArgs) -> anyhow::Result<Config> {
    let source = ConfigSource {
        file: Some(
            g.config
                .clone()
                .unwrap_or_else(|| PathBuf::from("shonin.toml")),
        ),
        file_required: g.config.is_some(),
        dev: g.dev,
        data_dir: g.data_dir.clone(),
    };
    Ok(Config::load(&source)?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { global, command } = cli;
    use crate::admin::threeds::ThreeDsCommand;
    let command = match command {
        // Reads no configuration: an integrator runs it anywhere.
        Command::ThreeDs(ThreeDsCommand::Check {
            files,
            versions,
            erro,
        }) => {
            return crate::admin::threeds::check(files, versions, erro);
        }
        Command::DsSim { file } => {
            shonin_ds_sim::run(&file, runtime::shutdown_signal()).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::ThreeDs(ThreeDsCommand::CheckTls { target, ca }) => {
            return crate::admin::threeds::check_tls(&target, ca).await;
        }
        command => command,
    };
    let config = load_config(&global)?;
    let cli = Cli { global, command };
    match cli.command {
        Command::Serve => serve(&cli.global, config).await,
        Command::Migrate => {
            if cli.global.dev {
                dev::prepare(&cli.global.data_dir, &config)?;
            }
            let store = runtime::open_store(&config).await?;
            println!("migrations applied ({})", store.engine());
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(cmd) => keys(&cli.global, &config, cmd).await,
        Command::Audit(cmd) => audit(&cli.global, &config, cmd).await,
        Command::Clients(cmd) => crate::admin::clients::run(&cli.global, &config, cmd).await,
        Command::Users(cmd) => crate::admin::users::run(&cli.global, &config, cmd).await,
        Command::Txn(cmd) => crate::admin::txn::run(&cli.global, &config, cmd).await,
        Command::ThreeDs(ThreeDsCommand::Cards(cmd)) => {
            crate::admin::threeds::cards(&cli.global, &config, cmd).await
        }
        Command::ThreeDs(ThreeDsCommand::Check {
            files,
            versions,
            erro,
        }) => crate::admin::threeds::check(files, versions, erro),
        Command::DsSim { file } => {
            shonin_ds_sim::run(&file, runtime::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ThreeDs(ThreeDsCommand::CheckTls { target, ca }) => {
            crate::admin::threeds::check_tls(&target, ca).await
        }
        Command::Demo => {
            shonin_demo::run(shonin_demo::DemoSettings {
                data_dir: &cli.global.data_dir,
                issuer: &config.issuer,
                client_id: crate::admin::demo::DEMO_CLIENT_ID,
                default_username: crate::admin::demo::DEMO_USERNAME,
            })
            .await
        }
        Command::Config(ConfigCommand::Check) => {
            let text =
                toml::to_string_pretty(&config.redacted()).context("rendering configuration")?;
            println!("{text}");
            let master = if std::env::var_os("SHONIN_MASTER_KEY").is_some() {
                "from SHONIN_MASTER_KEY (redacted)".to_owned()
            } else {
                match &config.keys.master_key_file {
                    Some(p) => format!("from file {} (redacted)", p.display()),
                    None => "NOT SET".to_owned(),
                }
            };
            println!("# master key: {master}");
            for warning in config.warnings() {
                println!("# warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(g: &GlobalArgs, config: Config) -> anyhow::Result<ExitCode> {
    telemetry::init_logging(&config.log);
    for warning in config.warnings() {
        tracing::warn!("configuration: {warning}");
    }
    let shutdown = runtime::shutdown_signal();
    let mut setup = if g.dev {
        Some(dev::prepare(&g.data_dir, &config)?)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "configuration key `server.listen`: cannot bind {}",
                config.server.listen
            )
        })?;
    let state = runtime::build_state(config).await?;
    if let Some(setup) = &mut setup {
        setup.demo = crate::admin::demo::ensure(&g.data_dir, &state).await?;
    }
    if let Some(setup) = &setup {
        eprintln!("{}", dev::banner(&state.config, setup));
    }
    tracing::info!(
        issuer = %state.config.issuer,
        listen = %state.config.server.listen,
        storage = state.store.engine(),
        kid = %state.keys.current_signer().kid(),
        ready_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "shonin ready"
    );
    runtime::run(state, listener, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn keys(g: &GlobalArgs, config: &Config, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    telemetry::cli_logging();
    if g.dev {
        dev::prepare(&g.data_dir, config)?;
    }
    match cmd {
        KeysCommand::HsmInit => return crate::admin::hsm::init(g, config).await,
        KeysCommand::RotateKek => return crate::admin::hsm::rotate_kek(g, config).await,
        _ => {}
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (keys, _) = runtime::open_keys(config, clock.clone())?;
    match cmd {
        KeysCommand::HsmInit | KeysCommand::RotateKek => {}
        KeysCommand::Public => {
            println!(
                "{}",
                serde_json::to_string_pretty(&keys.verification_jwks())?
            );
        }
        KeysCommand::List(args) => {
            let mut table =
                Table::new(&["KID", "ALG", "STATE", "PUBLISHED", "CREATED", "KEYSTORE"]);
            let hsm_signs = keys.signing_keystore() == "hsm";
            for k in keys.keyring.list() {
                let published = if k.published { "yes" } else { "no" };
                table.row([
                    k.kid.to_string(),
                    k.alg.as_str().to_owned(),
                    k.state.as_str().to_owned(),
                    published.to_owned(),
                    shonin_audit::chain::format_time(k.created_at),
                    "keyring".to_owned(),
                ]);
            }
            for k in keys.hsm.iter().flat_map(|h| h.list()) {
                table.row([
                    k.name,
                    match k.kind {
                        "signing" => "ES256",
                        "kek" => "AES-KW",
                        _ => "HS256",
                    }
                    .to_owned(),
                    k.state.to_owned(),
                    if k.kind == "signing" && hsm_signs {
                        "yes"
                    } else {
                        "no"
                    }
                    .to_owned(),
                    k.created
                        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                        .map(shonin_audit::chain::format_time)
                        .unwrap_or_else(|| "-".into()),
                    format!("hsm:{}", k.label),
                ]);
            }
            table.print(args.json)?;
        }
        KeysCommand::Rotate => {
            let store = runtime::open_store(config).await?;
            if let (Some(hsm), "hsm") = (&keys.hsm, keys.signing_keystore()) {
                let next = hsm.generate_signing_key(clock.now().unix_timestamp())?;
                let audit = runtime::start_audit(config, &store, &keys, clock.clone());
                let current = hsm.current_signer().map(|s| s.kid_str().to_owned());
                crate::admin::record::record(
                    &audit,
                    clock.now(),
                    crate::admin::record::admin_actor(g.actor.as_deref())?,
                    "keys.rotate",
                    current.as_deref().unwrap_or("-"),
                    Ok(()),
                )
                .await?;
                audit.shutdown().await;
                store.close().await;
                println!("current  {}", current.unwrap_or_default());
                println!("next     {next} (made in the HSM)");
                return Ok(ExitCode::SUCCESS);
            }
            let report = keys.keyring.rotate()?;
            let audit = runtime::start_audit(config, &store, &keys, clock.clone());
            audit
                .append(AuditRecord {
                    time: clock.now(),
                    actor: crate::admin::record::admin_actor(g.actor.as_deref())?,
                    action: "keys.rotate".into(),
                    target: report.current_kid.clone(),
                    outcome: Outcome::Success,
                    reason: Some(format!(
                        "retired {}; next {}",
                        report.retired_kid, report.next_kid
                    )),
                    source_ip: None,
                    request_id: None,
                })
                .await?;
            audit.shutdown().await;
            store.close().await;
            println!("retired  {}", report.retired_kid);
            println!("current  {}", report.current_kid);
            println!("next     {}", report.next_kid);
            println!(
                "running servers pick the change up within {} s",
                config.keys.reload_interval_secs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit(g: &GlobalArgs, config: &Config, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    telemetry::cli_logging();
    if g.dev {
        dev::prepare(&g.data_dir, config)?;
    }
    let store = runtime::open_store(config).await?;
    let code = match cmd {
        AuditCommand::Verify { anchor, archive } => {
            let (keys, _) = runtime::open_keys(config, Arc::new(SystemClock))?;
            let jwks = keys.verification_jwks();
            let (intact, note) =
                shonin_audit::files::verify_archives(&store, &archive, &jwks).await?;
            if let Some(note) = note {
                println!("{note}");
            }
            if !intact {
                store.close().await;
                return Ok(ExitCode::from(1));
            }
            let anchor = match anchor {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading the anchor {}", path.display()))?;
                    let anchor = shonin_audit::Anchor::parse(&text, &jwks)
                        .with_context(|| format!("the anchor {}", path.display()))?;
                    Some(anchor)
                }
                None => None,
            };
            // An anchor inside the archived stretch was checked with the archives (if given).
            let base = shonin_audit::AuditStore::base(&store).await?.0;
            let anchor = match anchor {
                Some(a) if a.seq <= base => {
                    println!(
                        "anchor at seq {} lies in the archived stretch (through {base}); \
                         keep a newer anchor",
                        a.seq
                    );
                    None
                }
                other => other,
            };
            let report = shonin_audit::verify_anchored(&store, &jwks, anchor.as_ref()).await?;
            match report.first_bad {
                None => {
                    println!(
                        "audit chain OK: {} entries, {} checkpoints",
                        report.entries, report.checkpoints
                    );
                    match anchor {
                        Some(a) => println!("anchor at seq {} confirmed", a.seq),
                        None => println!(
                            "no anchor given: truncation after the last checkpoint cannot be \
                             detected (docs/operations.md, Audit log)"
                        ),
                    }
                    ExitCode::SUCCESS
                }
                Some(bad) => {
                    println!("audit chain BROKEN at seq {}: {}", bad.seq, bad.reason);
                    ExitCode::from(1)
                }
            }
        }
        AuditCommand::Archive {
            through,
            output,
            prune,
        } => {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let (keys, _) = runtime::open_keys(config, clock.clone())?;
            let summary = shonin_audit::files::archive(
                &store,
                &keys.verification_jwks(),
                through,
                &output,
                prune,
            )
            .await?;
            if prune {
                let audit = runtime::start_audit(config, &store, &keys, clock.clone());
                audit
                    .append(AuditRecord {
                        time: clock.now(),
                        actor: crate::admin::record::admin_actor(g.actor.as_deref())?,
                        action: "audit.archive".into(),
                        target: output.display().to_string(),
                        outcome: Outcome::Success,
                        reason: Some(summary.clone()),
                        source_ip: None,
                        request_id: None,
                    })
                    .await?;
                audit.shutdown().await;
            }
            println!("{summary}");
            ExitCode::SUCCESS
        }
        AuditCommand::Anchor { output } => {
            use shonin_audit::AuditStore;
            let Some(cp) = store.latest_checkpoint().await? else {
                anyhow::bail!("no checkpoint yet: the log is empty or has not been checkpointed");
            };
            match output {
                Some(path) => shonin_audit::files::write_atomically(&path, &cp)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{}", serde_json::to_string(&cp)?),
            }
            eprintln!("latest checkpoint: seq {}", cp.seq);
            ExitCode::SUCCESS
        }
        AuditCommand::Export { from, output } => {
            use shonin_txn::receipt_export::export;
            let (n, receipts) = match output {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    );
                    let done = export(&store, from, &mut f).await?;
                    f.flush()?;
                    done
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    let done = export(&store, from, &mut out).await?;
                    out.flush()?;
                    done
                }
            };
            eprintln!(
                "exported {n} entries, with {} receipts",
                receipts.matching + receipts.mismatched
            );
            if receipts.mismatched > 0 {
                eprintln!(
                    "warning: {} receipts differ from the digest their approval entry names \
                     (written as stored; docs/operations.md)",
                    receipts.mismatched
                );
            }
            if receipts.missing > 0 {
                eprintln!(
                    "warning: {} approval entries name a receipt that txn_receipts does not hold",
                    receipts.missing
                );
            }
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}
