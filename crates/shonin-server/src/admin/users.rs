//! `shonin users add|list|show|disable|enable|unlock|reset-password|passkeys`: what an
//! operator's support desk needs to help a user who is locked out or lost a device.
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
use shonin_passkeys::PasskeyStore as _;
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
    /// Stop a user from signing in; their sessions end at once.
    Disable { username: String },
    /// Let a disabled user sign in again (says so when a lock from failed sign-ins remains).
    Enable { username: String },
    /// Clear a lock from failed sign-ins (PCI DSS 8.3.4) and the count of failures.
    Unlock { username: String },
    /// One user: id, state, lock, sign-in methods and passkeys.
    Show {
        username: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set a new password read from standard input, clear a lock from failed sign-ins and turn
    /// passkey-only off, so a user who lost their passkey can sign in and enrol a new one.
    /// Confirm who is asking first, out of band.
    ResetPassword {
        username: String,
        /// Read the password (12-256 characters) from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// The user's passkeys: list them, or remove a lost one.
    #[command(subcommand)]
    Passkeys(PasskeysCommand),
    /// The user's sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every session the user has now, on every node (the next request of each signs in
    /// again).
    Revoke { username: String },
}

#[derive(Debug, Subcommand)]
pub enum PasskeysCommand {
    /// Credential id, name, authenticator model (AAGUID), synced or device-bound, created, last
    /// used.
    List {
        username: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Remove one passkey (e.g. on a lost phone); it no longer signs in or approves.
    Remove {
        username: String,
        /// The credential id, as `users passkeys list` prints it.
        credential_id: String,
    },
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
        UsersCommand::Show { username, json } => show(ctx, &username, json).await?,
        UsersCommand::ResetPassword { username, .. } => {
            let target = username.to_ascii_lowercase();
            ctx.audited(
                "users.reset_password",
                &target,
                reset_password(ctx, &username),
            )
            .await?;
            println!(
                "set a new password for {target}; its lock is cleared and passkey-only is off \
                 (the user turns it on again after enrolling a passkey)"
            );
        }
        UsersCommand::Passkeys(PasskeysCommand::List { username, list }) => {
            list_passkeys(ctx, &username, list.json).await?;
        }
        UsersCommand::Passkeys(PasskeysCommand::Remove {
            username,
            credential_id,
        }) => {
            let target = username.to_ascii_lowercase();
            let stranded = ctx
                .audited(
                    "users.passkeys.remove",
                    &format!("{target} {credential_id}"),
                    remove_passkey(ctx, &username, &credential_id),
                )
                .await?;
            println!("removed passkey {credential_id} of {target}");
            if stranded {
                println!(
                    "{target} is passkey-only and has no passkey left: it can sign in only with \
                     a recovery code, or after `shonin users reset-password {target}`"
                );
            }
        }
        UsersCommand::Sessions(SessionsCommand::Revoke { username }) => {
            let target = username.to_ascii_lowercase();
            ctx.audited(
                "users.sessions.revoke",
                &target,
                end_sessions(ctx, &username),
            )
            .await?;
            println!("ended every session of {target}");
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

/// `users show`: the account as support sees it; never a password hash.
async fn show(ctx: &AdminContext, username: &str, json: bool) -> anyhow::Result<()> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    let passkeys = ctx.store.list_passkeys(&user.id).await?;
    let now = ctx.clock.now();
    let time = shonin_audit::chain::format_time;
    let locked = user.locked_until.filter(|_| user.is_locked(now)).map(time);
    let doc = serde_json::json!({
        "username": user.username.as_str(),
        "id": user.id,
        "display_name": user.display_name,
        "disabled": user.disabled,
        "locked_until": locked,
        "failed_sign_ins": user.failed_attempts,
        "password": user.password_hash.is_some(),
        "passkey_only": user.passkey_only,
        "passkeys": passkeys.len(),
        "created_at": time(user.created_at),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!("username        {}", user.username);
    println!("id              {}", user.id);
    println!(
        "display name    {}",
        user.display_name.as_deref().unwrap_or("-")
    );
    println!("disabled        {}", yes(user.disabled));
    println!("locked until    {}", locked.as_deref().unwrap_or("-"));
    println!("failed sign-ins {}", user.failed_attempts);
    println!("password        {}", yes(user.password_hash.is_some()));
    println!("passkey-only    {}", yes(user.passkey_only));
    println!("passkeys        {}", passkeys.len());
    println!("created         {}", time(user.created_at));
    Ok(())
}

async fn list_passkeys(ctx: &AdminContext, username: &str, json: bool) -> anyhow::Result<()> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    let time = shonin_audit::chain::format_time;
    let mut table = Table::new(&[
        "CREDENTIAL_ID",
        "NAME",
        "AAGUID",
        "SYNCED",
        "CREATED",
        "LAST_USED",
    ]);
    for p in ctx.store.list_passkeys(&user.id).await? {
        table.row([
            p.credential_id.clone(),
            p.name.clone(),
            p.aaguid.hyphenated().to_string(),
            if p.backup_eligible { "yes" } else { "no" }.to_owned(),
            time(p.created_at),
            p.last_used_at.map_or_else(|| "-".to_owned(), time),
        ]);
    }
    table.print(json)?;
    Ok(())
}

/// Removes the passkey; whether the user is left passkey-only without one.
async fn remove_passkey(
    ctx: &AdminContext,
    username: &str,
    credential_id: &str,
) -> anyhow::Result<bool> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    if !ctx.store.remove_passkey(&user.id, credential_id).await? {
        bail!("user {username} has no passkey {credential_id}");
    }
    let left = ctx.store.list_passkeys(&user.id).await?.len();
    Ok(user.passkey_only && left == 0)
}

async fn end_sessions(ctx: &AdminContext, username: &str) -> anyhow::Result<()> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    if !ctx.store.end_sessions(&user.id, ctx.clock.now()).await? {
        bail!("no user {username}");
    }
    Ok(())
}

/// Sets the new password, clears the lock and turns passkey-only off.
async fn reset_password(ctx: &AdminContext, username: &str) -> anyhow::Result<()> {
    let Some(user) = find(ctx, username).await? else {
        bail!("no user {username}");
    };
    let password = tokio::task::spawn_blocking(read_password_from_stdin)
        .await
        .context("reading the password")??;
    let hash = hash_on_blocking_thread(password).await?;
    let done = ctx.store.set_password_hash(&user.id, &hash).await?
        && ctx.store.unlock_user(&user.id).await?
        && ctx.store.set_passkey_only(&user.id, false).await?;
    if !done {
        bail!("no user {username}");
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
