//! `shonin 3ds …`: EMV 3-D Secure tools. `check` reads messages from files and says, for each,
//! what Shonin would answer: `OK`, or the Erro (code, component, element). Integrators use it to
//! debug their own messages; it needs no server, no database and no configuration. `cards`
//! enrols the cards the ACS authenticates: the number is read from standard input, never from
//! the command line, and kept only as a keyed fingerprint. `check-tls` probes a live listener's
//! TLS (`shonin_tls::probe`).
#![allow(clippy::print_stdout)]

use super::AdminContext;
use super::table::{ListArgs, Table};
use crate::config::Config;
use crate::global_args::GlobalArgs;
use anyhow::{Context as _, bail};
use clap::{Subcommand, ValueEnum};
use shonin_3ds::acs::store::{AcsStore, EnrolledCard};
use shonin_3ds::{MessageVersion, Pan, Versions};
use shonin_identity::UserStore;
use shonin_identity::user::Username;
use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ThreeDsCommand {
    /// Check EMV 3DS messages (JSON, one per file; `-` reads standard input) against the rules of
    /// their own `messageVersion`. Prints `OK` or the Erro Shonin would answer for each; exit 0
    /// only if every message is valid, 1 otherwise.
    Check {
        /// The message files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Versions to accept (repeatable); a message in another version answers Erro 102.
        /// Default: 2.1.0, 2.2.0 and 2.3.1.
        #[arg(long = "version", value_enum)]
        versions: Vec<Version>,
        /// Also print the Erro message itself, as JSON, after each refused message.
        #[arg(long)]
        erro: bool,
    },
    /// Cards enrolled in the ACS (`[threeds.acs]`).
    #[command(subcommand)]
    Cards(CardsCommand),
    /// Probe a live TLS listener (a 3DS link: the ACS, a DS, a 3DS Server) and report the
    /// protocol versions and suites it accepts, whether it asks for a client certificate, and
    /// its certificate. Exit 0 only if it accepts TLS 1.2+ with forward-secret AEAD suites only
    /// (and, with --ca, its certificate chains to it and is valid now).
    CheckTls {
        /// HOST:PORT of the listener; HOST also names it (SNI, certificate).
        target: String,
        /// CA certificates (PEM) its certificate must chain to.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CardsCommand {
    /// Enrol a card for a user. The card number is read from the first line of standard input
    /// (13–19 digits, Luhn-checked, in one of `threeds.acs.card_ranges`) and stored only as a
    /// keyed fingerprint with its first six and last four digits.
    Enrol {
        #[arg(long)]
        username: String,
    },
    /// Enrolled cards: masked number, scheme, user id, fingerprint prefix.
    List(ListArgs),
    /// Remove a card; its number is read from standard input.
    Remove,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Version {
    #[value(name = "2.1.0")]
    V210,
    #[value(name = "2.2.0")]
    V220,
    #[value(name = "2.3.1")]
    V231,
}

impl From<Version> for MessageVersion {
    fn from(v: Version) -> Self {
        match v {
            Version::V210 => MessageVersion::V2_1_0,
            Version::V220 => MessageVersion::V2_2_0,
            Version::V231 => MessageVersion::V2_3_1,
        }
    }
}

/// `shonin 3ds check`, which reads no configuration.
pub fn check(files: Vec<PathBuf>, versions: Vec<Version>, erro: bool) -> anyhow::Result<ExitCode> {
    let accepted = if versions.is_empty() {
        Versions::ALL
    } else {
        Versions::only(&versions.into_iter().map(Into::into).collect::<Vec<_>>())
    };
    let mut all_valid = true;
    for file in &files {
        let (line, erro_json) = match read(file) {
            Ok(bytes) => check_one(&bytes, accepted),
            Err(e) => (format!("cannot read: {e}"), None),
        };
        all_valid &= line.starts_with("OK ") || line == "OK";
        println!("{}: {line}", file.display());
        if let Some(json) = erro_json.filter(|_| erro) {
            println!("{json}");
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `shonin 3ds cards …`.
/// `shonin 3ds check-tls HOST:PORT [--ca FILE]`.
pub async fn check_tls(target: &str, ca: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (host, _) = target
        .rsplit_once(':')
        .with_context(|| format!("{target}: expected HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = tokio::net::lookup_host(target)
        .await
        .with_context(|| format!("{target}: cannot resolve"))?
        .next()
        .with_context(|| format!("{target}: no address"))?;
    let roots = match &ca {
        None => None,
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::CertificateDer::pem_file_iter(path)
                .with_context(|| format!("--ca {}", path.display()))?
            {
                roots
                    .add(cert.with_context(|| format!("--ca {}", path.display()))?)
                    .with_context(|| format!("--ca {}", path.display()))?;
            }
            Some(roots)
        }
    };
    tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("{target}: cannot connect"))?;
    let report = shonin_tls::probe::probe(addr, host, roots).await;
    println!("{target} ({addr})");
    for o in &report.offers {
        let verdict = match (o.accepted, o.allowed) {
            (true, true) => "accepted",
            (false, true) => "not accepted",
            (true, false) => "ACCEPTED (not allowed)",
            (false, false) => "refused",
        };
        println!("  {:<8} {:<45} {verdict}", o.version, o.suite);
    }
    println!(
        "  client certificate: {}",
        if report.client_certificate_requested {
            "requested (mutual TLS)"
        } else {
            "not requested"
        }
    );
    match &report.certificate {
        Some(c) => {
            println!("  certificate: {}, valid until {}", c.subject, c.not_after);
            match &c.trusted {
                Some(Ok(())) => println!("  certificate chain: trusted by --ca"),
                Some(Err(why)) => println!("  certificate chain: NOT trusted by --ca: {why}"),
                None => println!("  certificate chain: not checked (no --ca)"),
            }
        }
        None => println!("  certificate: none seen (no handshake completed)"),
    }
    let problems = report.problems();
    if problems.is_empty() {
        println!("OK: TLS 1.2 or 1.3 with forward-secret AEAD suites only");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("PROBLEM: {p}");
    }
    Ok(ExitCode::from(1))
}

pub async fn cards(g: &GlobalArgs, config: &Config, cmd: CardsCommand) -> anyhow::Result<ExitCode> {
    let Some(settings) = &config.threeds.acs else {
        bail!("configuration key `threeds.acs`: the ACS is not configured");
    };
    let ctx = AdminContext::open(g, config).await?;
    let acs =
        crate::threeds::AcsService::build(Some(settings), &config.issuer, |p| ctx.keys.mac_key(p))?
            .context("the ACS is not configured")?;
    let result = cards_dispatch(&ctx, &acs, cmd).await;
    ctx.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn cards_dispatch(
    ctx: &AdminContext,
    acs: &crate::threeds::AcsService,
    cmd: CardsCommand,
) -> anyhow::Result<()> {
    match cmd {
        CardsCommand::Enrol { username } => {
            let typed = read_card(acs).await?;
            let card = ctx
                .audited("3ds.card.enrol", &card_target(&typed), async {
                    let (pan, fingerprint) =
                        typed.map_err(|rule| anyhow::anyhow!("standard input: {rule}"))?;
                    let range = shonin_3ds::acs::find_range(&acs.ranges, &pan)
                        .context("the card number is in none of threeds.acs.card_ranges")?;
                    let username = Username::new(&username)?;
                    let user = ctx
                        .store
                        .get_user_by_username(&username)
                        .await?
                        .with_context(|| format!("no user {username}"))?;
                    let card = EnrolledCard {
                        fingerprint,
                        user_id: user.id.clone(),
                        masked: pan.masked(),
                        scheme: range.scheme,
                        created_at: ctx.clock.now(),
                    };
                    if !ctx.store.enrol_card(&card).await? {
                        bail!("the card is enrolled already");
                    }
                    Ok(card)
                })
                .await?;
            println!(
                "enrolled card {} for user {} ({})",
                card.masked,
                username,
                &card.fingerprint[..12]
            );
        }
        CardsCommand::List(args) => {
            let mut table = Table::new(&["CARD", "SCHEME", "USER_ID", "FINGERPRINT"]);
            for c in ctx.store.enrolled_cards().await? {
                let scheme = shonin_3ds::acs::store::scheme_name(c.scheme);
                let fingerprint = c.fingerprint.get(..12).unwrap_or(&c.fingerprint).to_owned();
                table.row([c.masked, scheme.to_owned(), c.user_id, fingerprint]);
            }
            table.print(args.json)?;
        }
        CardsCommand::Remove => {
            let typed = read_card(acs).await?;
            let masked = ctx
                .audited("3ds.card.remove", &card_target(&typed), async {
                    let (pan, fingerprint) =
                        typed.map_err(|rule| anyhow::anyhow!("standard input: {rule}"))?;
                    if !ctx.store.remove_card(&fingerprint).await? {
                        bail!("the card is not enrolled");
                    }
                    Ok(pan.masked())
                })
                .await?;
            println!("removed card {masked}");
        }
    }
    Ok(())
}

/// A card number typed on standard input, with its fingerprint; or why it is not a card number.
type Typed = Result<(Pan, String), &'static str>;

/// The audit target of a typed card: its fingerprint's first 12 characters, or `card -` when the
/// input was not a card number (that refusal is audit-logged too, without the input).
fn card_target(typed: &Typed) -> String {
    match typed {
        Ok((_, fingerprint)) => format!("card {}", &fingerprint[..12]),
        Err(_) => "card -".to_owned(),
    }
}

/// Reads one line of standard input; fails only when it cannot be read. The number never
/// appears in an error.
async fn read_card(acs: &crate::threeds::AcsService) -> anyhow::Result<Typed> {
    let mut line = zeroize::Zeroizing::new(String::with_capacity(64));
    std::io::stdin()
        .lock()
        .take(64)
        .read_line(&mut line)
        .context("reading the card number from standard input")?;
    Ok(match Pan::parse(line.trim_end_matches(['\r', '\n'])) {
        Ok(pan) => {
            let fingerprint =
                shonin_3ds::acs::fingerprint(acs.fingerprint_key.as_ref(), &pan).await?;
            Ok((pan, fingerprint))
        }
        Err(rule) => Err(rule),
    })
}

fn read(file: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = shonin_3ds::MAX_MESSAGE_BYTES as u64 + 1;
    if file == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(file)?
            .take(limit)
            .read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// The line printed for one message, and the Erro as JSON when it is refused.
pub(crate) fn check_one(bytes: &[u8], accepted: Versions) -> (String, Option<String>) {
    match shonin_3ds::check(bytes, accepted) {
        Ok(message) => (
            format!(
                "OK {} {}",
                message.message_type(),
                message.message_version()
            ),
            None,
        ),
        Err(refused) => {
            let component = refused
                .identified
                .message_type
                .map(|t| t.receiver())
                .unwrap_or(shonin_3ds::ErrorComponent::DirectoryServer);
            let erro = refused.erro(component, accepted);
            let about = match (
                &refused.identified.message_type,
                &refused.identified.message_version,
            ) {
                (Some(t), Some(v)) => format!("{t} {v}"),
                (Some(t), None) => t.to_string(),
                _ => "unidentified message".to_owned(),
            };
            // The detail can name an element the sender invented: escape control characters so a
            // message cannot write to the terminal.
            let line = format!(
                "{about}: Erro {} {} (errorComponent {}): {}",
                erro.error_code,
                erro.error_description,
                erro.error_component,
                erro.error_detail.escape_debug()
            );
            (line, serde_json::to_string(&erro).ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_outcome() {
        let ok = br#"{"messageType":"RRes","messageVersion":"2.2.0","resultsStatus":"01",
            "threeDSServerTransID":"bc9f0b90-1041-47f0-94df-d692170ea0d7",
            "dsTransID":"6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
            "acsTransID":"f888079d-dae8-4a18-81b0-be6e77355e71"}"#;
        assert_eq!(
            check_one(ok, Versions::ALL),
            ("OK RRes 2.2.0".to_owned(), None)
        );
        let (line, erro) = check_one(
            br#"{"messageType":"RRes","messageVersion":"2.2.0"}"#,
            Versions::ALL,
        );
        assert!(
            line.starts_with(
                "RRes 2.2.0: Erro 201 Required Data Element Missing (errorComponent A): "
            ),
            "{line}"
        );
        assert!(erro.unwrap().contains("\"errorCode\":\"201\""));
        let (line, _) = check_one(b"not json", Versions::ALL);
        assert!(line.starts_with("unidentified message: Erro 101"), "{line}");
        let (line, _) = check_one(
            br#"{"messageType":"RRes","a\u001b[2J":1,"a\u001b[2J":2}"#,
            Versions::ALL,
        );
        assert!(
            line.contains("Erro 204") && !line.contains('\x1b'),
            "{line}"
        );
    }
}
