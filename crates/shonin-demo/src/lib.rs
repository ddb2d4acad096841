//! `shonin demo`: plays the demo client against a running `serve --dev` from PAR to revocation,
//! printing each HTTP exchange, so a newcomer watches FAPI 2.0 work in one command.
//!
//! It uses what `serve --dev` created under the data directory (the server's `admin::demo`
//! seeds it): the client's private JWK (`demo-client/private.jwk`), the user's password
//! (`demo-user.txt`) and the development CA (`tls/dev-ca.pem`), which is the only certificate the
//! demo's HTTP client trusts. Each step checks the server's answer against the rule it shows;
//! the command exits 0 when all did and 1 naming the first step that did not.
//!
//! A development tool: it never runs inside the server, holds no server secret and depends on no
//! server crate; the `shonin` CLI calls [`run`] with a [`DemoSettings`] taken from its
//! configuration. Output goes through `writeln!` (see `print.rs`), so no `print_stdout`
//! allowance is needed.

mod browser;
mod checks;
mod client;
mod flow;
mod print;
mod steps;
mod tokens;

use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

pub use steps::{STEPS, Step};

/// What the demo needs to know about the server it plays against.
#[derive(Debug, Clone, Copy)]
pub struct DemoSettings<'a> {
    /// The data directory of `serve --dev`, which holds the demo client's key, the demo user's
    /// password and the development CA.
    pub data_dir: &'a Path,
    /// The server's issuer URL; every endpoint is found through its discovery document.
    pub issuer: &'a str,
    /// The demo client's `client_id`.
    pub client_id: &'a str,
    /// The user to sign in as when `demo-user.txt` names none.
    pub default_username: &'a str,
}

/// Runs the demo; `Ok(1)` when a step saw the server break a rule, `Err` when the demo could not
/// start (no demo client, no development CA).
pub async fn run(settings: DemoSettings<'_>) -> anyhow::Result<ExitCode> {
    let DemoSettings {
        data_dir,
        issuer,
        client_id,
        default_username,
    } = settings;
    let client = client::DemoClient::load(data_dir, client_id, issuer)?;
    let (username, password) = read_user(&data_dir.join("demo-user.txt"), default_username)?;
    let out = print::Printer::for_stdout();
    out.banner(&format!(
        "Shonin demo: a FAPI 2.0 client ({client_id}) against {issuer}, as user {username}"
    ));
    out.line(&format!(
        "{} steps; each shows the rule, the HTTP exchange, and what the client checked.",
        STEPS.len()
    ));
    let mut flow = flow::Flow::new(client, out, username, password);
    match flow.run().await {
        Ok(()) => {
            flow.out.line("");
            flow.out.banner(&format!(
                "All {} steps behaved as FAPI 2.0 requires.",
                STEPS.len()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let (number, title) = flow.current_step();
            flow.out.failed(&format!("{e:#}"));
            eprintln!("error: demo step {number} ({title}) failed: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `username: …` (else `default_username`) and `password: …` from `demo-user.txt`.
fn read_user(path: &Path, default_username: &str) -> anyhow::Result<(String, Zeroizing<String>)> {
    let text = Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (written by `shonin serve --dev` when it creates the demo user)",
            path.display()
        )
    })?);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let username = field("username:").unwrap_or_else(|| default_username.to_owned());
    let password = Zeroizing::new(
        field("password:").with_context(|| format!("no password line in {}", path.display()))?,
    );
    Ok((username, password))
}
