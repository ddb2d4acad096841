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
    /// Data directory for `--dev`.
    #[arg(long, global = true, default_value = "shonin-data")]
    pub data_dir: PathBuf,
}
