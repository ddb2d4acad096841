//! `shonin demo`: plays the demo client against a running `serve --dev` from PAR to revocation,
//! printing each HTTP exchange, so a newcomer watches FAPI 2.0 work in one command.
//!
//! It uses what `serve --dev` created under the data directory (see [`crate::admin::demo`]): the
//! client's private JWK, alice's password and the development CA, which is the only certificate
//! the demo's HTTP client trusts. Each step checks the server's answer against the rule it shows;
//! the command exits 0 when all did and 1 naming the first step that did not.
//!
//! A development tool: it never runs inside the server and holds no server secret. Output goes
//! through `writeln!` (see [`print`]), so no `print_stdout` allowance is needed.

mod browser;
mod checks;
mod client;
mod flow;
mod print;
mod steps;
mod tokens;

use crate::admin::demo::{DEMO_CLIENT_ID, DEMO_USERNAME};
use crate::cli::GlobalArgs;
use crate::config::Config;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

pub use steps::{STEPS, Step};

/// Runs the demo; `Ok(1)` when a step saw the server break a rule, `Err` when the demo could not
/// start (no demo client, no development CA).
pub async fn run(g: &GlobalArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let client = client::DemoClient::load(&g.data_dir, DEMO_CLIENT_ID, &config.issuer)?;
    let (username, password) = read_user(&g.data_dir.join("demo-user.txt"))?;
    let out = print::Printer::for_stdout();
    out.banner(&format!(
        "Shonin demo: a FAPI 2.0 client ({DEMO_CLIENT_ID}) against {}, as user {username}",
        config.issuer
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

/// `username: …` and `password: …` from `demo-user.txt`.
fn read_user(path: &Path) -> anyhow::Result<(String, Zeroizing<String>)> {
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
    let username = field("username:").unwrap_or_else(|| DEMO_USERNAME.to_owned());
    let password = Zeroizing::new(
        field("password:").with_context(|| format!("no password line in {}", path.display()))?,
    );
    Ok((username, password))
}
