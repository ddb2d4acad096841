//! The `shonin` binary.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the token endpoint allocates and frees many small
/// objects per request across threads, where glibc's allocator took 10–13 % of the server's CPU
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = shonin_server::cli::main();
    // PKCS#11 v2.40 §5.4: an application calls C_Finalize when done with a module. Without it,
    // a module's own exit-time cleanup can run against a library already torn down (seen with
    // SoftHSM2 as a command exiting on a signal after printing its output).
    shonin_keys_pkcs11::finalize();
    code
}
