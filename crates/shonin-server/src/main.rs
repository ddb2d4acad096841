//! The `shonin` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    shonin_server::cli::main()
}
