//! The options every `shonin` command takes (`--config`, `--dev`, `--data-dir`).

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file; `shonin.toml` in the working directory is read if present.
    #[arg(long, global = true, env = "SHONIN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Development mode: defaults that put everything under the data directory.
    #[arg(long, global = true)]
    pub dev: bool,
    /// Who runs an admin command, as its audit entries name them (default: the login name
    /// behind `sudo`, else `USER`, else `LOGNAME`, else the numeric user id).
    #[arg(long, global = true, env = "SHONIN_ACTOR")]
    pub actor: Option<String>,
    /// Data directory for `--dev`.
    #[arg(long, global = true, default_value = "shonin-data")]
    pub data_dir: PathBuf,
}
