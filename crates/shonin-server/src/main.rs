//! The `shonin` binary.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the token endpoint allocates and frees many small
/// objects per request across threads, where glibc's allocator took 10–13 % of the server's CPU
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    shonin_server::cli::main()
}
