//! `shonin users add|list|disable|enable`.
//!
//! The password comes from standard input only (`--password-stdin`), never from the command
//! line, where other users of the host could read it in the process list, and is never echoed,
//! printed, logged or audit-logged; nor is its hash.

// Printing to standard output is what these commands are for.
#![allow(clippy::print_stdout)]

use super::AdminContext;
use super::table::{ListArgs, Table};
use crate::config::Config;
use crate::global_args::GlobalArgs;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use shonin_identity::user::{
    Argon2Params, MAX_PASSWORD_CHARS, Password, User, UserStore, Username, hash_password,
};
use shonin_types::StorageError;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;
use zeroize::Zeroizing;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user with a password read from standard input.
    Add(AddUserArgs),
    /// List users: username, id, disabled, locked until.
    List(ListArgs),
    /// Stop a user from signing in.
    Disable { username: String },
    /// Let a disabled user sign in again (says so when a lock from failed sign-ins remains).
    Enable { username: String },
    /// Clear a lock from failed sign-ins (PCI DSS 8.3.4) and the count of failures.
    Unlock { username: String },
}

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// 1-64 characters of a-z 0-9 . _ - @ (upper case is folded to lower case).
    #[arg(long)]
    pub username: String,
    /// The name shown to the user.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Read the password (12-256 characters) from the first line of standard input. Required:
    /// passwords are never taken from the command line.
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

/// Runs one `shonin users` command.
pub async fn run(g: &GlobalArgs, config: &Config, cmd: UsersCommand) -> anyhow::Result<ExitCode> {
    let ctx = AdminContext::open(g, config).await?;
    let result = dispatch(&ctx, cmd).await;
    ctx.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn dispatch(ctx: &AdminContext, cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Add(args) => {
            let target = args.username.to_ascii_lowercase();
            let user = ctx.audited("users.add", &target, add(ctx, args)).await?;
            println!("added user {} (id {})", user.username, user.id);
        }
        UsersCommand::List(args) => list(ctx, args.json).await?,
        UsersCommand::Disable { username } => {
            let target = username.to_ascii_lowercase();
            ctx.audited("users.disable", &target, set_disabled(ctx, &username, true))
                .await?;
            println!("disabled user {target}");
        }
        UsersCommand::Enable { username } => {
            let target = username.to_ascii_lowercase();
            let user = ctx
                .audited("users.enable", &target, set_disabled(ctx, &username, false))
                .await?;
            println!("enabled user {target}");
            let now = ctx.clock.now();
            if let Some(until) = user.locked_until.filter(|_| user.is_locked(now)) {
                println!(
                    "user {target} is still locked after failed sign-ins until {}; \
                     `shonin users unlock {target}` clears that",
                    shonin_audit::chain::format_time(until)
                );
            }
        }
        UsersCommand::Unlock { username } => {
            let target = username.to_ascii_lowercase();
            let was = ctx
                .audited("users.unlock", &target, unlock(ctx, &username))
                .await?;
            match was {
                Some(until) => println!(
                    "unlocked user {target} (it was locked until {})",
                    shonin_audit::chain::format_time(until)
                ),
                None => println!("user {target} was not locked; its failed sign-in count is reset"),
            }
        }
    }
    Ok(())
}

async fn add(ctx: &AdminContext, args: AddUserArgs) -> anyhow::Result<User> {
    let username = Username::new(&args.username)?;
    let password = tokio::task::spawn_blocking(read_password_from_stdin)
        .await
        .context("reading the password")??;
    if ctx.store.get_user_by_username(&username).await?.is_some() {
        bail!("user {username} already exists");
    }
    let hash = hash_on_blocking_thread(password).await?;
    let user = User::new(username, args.display_name, Some(hash), ctx.clock.now())?;
    match ctx.store.create_user(&user).await {
        Ok(()) => Ok(user),
        Err(StorageError::Conflict(_)) => bail!("user {} already exists", user.username),
        Err(e) => Err(e.into()),
    }
}

/// Argon2id with the OWASP parameters, off the async executor (tens of milliseconds, 19 MiB).
pub(crate) async fn hash_on_blocking_thread(
    password: Password,
) -> anyhow::Result<shonin_identity::PasswordHash> {
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, &Argon2Params::OWASP))
        .await
        .context("password hashing task")??;
    Ok(hash)
}

async fn list(ctx: &AdminContext, json: bool) -> anyhow::Result<()> {
    let now = ctx.clock.now();
    let mut table = Table::new(&["USERNAME", "ID", "DISABLED", "LOCKED_UNTIL"]);
    for u in ctx.store.list_users().await? {
        let locked = match u.locked_until {
            Some(until) if u.is_locked(now) => shonin_audit::chain::format_time(until),
            _ => "-".to_owned(),
        };
        let disabled = if u.disabled { "yes" } else { "no" };
        table.row([u.username.to_string(), u.id, disabled.into(), locked]);
    }
    table.print(json)?;
    Ok(())
}

async fn find(ctx: &AdminContext, username: &str) -> anyhow::Result<Option<User>> {
    let username = Username::new(username)?;
    Ok(ctx.store.get_user_by_username(&username).await?)
}

/// Clears the lock and the failure count; the lock it cleared, if one was in force.
async fn unlock(
    ctx: &AdminContext,
    username: &str,
) -> anyhow::Result<Option<time::OffsetDateTime>> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    if !ctx.store.unlock_user(&user.id).await? {
        bail!("no user {username}");
    }
    let now = ctx.clock.now();
    Ok(user.locked_until.filter(|_| user.is_locked(now)))
}

/// Sets the flag; the user as it was read before.
async fn set_disabled(ctx: &AdminContext, username: &str, disabled: bool) -> anyhow::Result<User> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    if !ctx.store.set_user_disabled(&user.id, disabled).await? {
        bail!("no user {username}");
    }
    Ok(user)
}

/// The first line of standard input as a [`Password`] meeting the policy. On a terminal, echo
/// is switched off while it is typed.
fn read_password_from_stdin() -> anyhow::Result<Password> {
    let stdin = std::io::stdin();
    let _echo = if stdin.is_terminal() {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        Some(EchoOff::new()?)
    } else {
        None
    };
    // One UTF-8 line of at most MAX_PASSWORD_CHARS characters (4 bytes each) and a CR LF; the
    // buffer is allocated once so no partial copy is left behind by a reallocation.
    let limit = MAX_PASSWORD_CHARS * 4 + 2;
    let mut line = Zeroizing::new(String::with_capacity(limit + 1));
    let read = stdin
        .lock()
        .take(limit as u64 + 1)
        .read_line(&mut line)
        .context("standard input is not UTF-8 text")?;
    if stdin.is_terminal() {
        eprintln!();
    }
    if read == 0 {
        bail!("--password-stdin: no password on standard input");
    }
    if read > limit {
        bail!("password must be at most {MAX_PASSWORD_CHARS} characters");
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    // `Password` takes the buffer itself and zeroizes it when dropped.
    Ok(Password::new(std::mem::take(&mut *line))?)
}

/// Terminal echo switched off with `stty` (no `unsafe` termios calls), restored on drop.
struct EchoOff;

impl EchoOff {
    fn new() -> anyhow::Result<Self> {
        let ok = std::process::Command::new("stty")
            .arg("-echo")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "cannot switch terminal echo off; pipe the password in instead, e.g. \
                 `shonin users add … --password-stdin < file`"
            );
        }
        Ok(Self)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = std::process::Command::new("stty").arg("echo").status();
    }
}
