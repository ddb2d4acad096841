//! Two copies of this test binary as child processes, for the tests that need two OS processes
//! on one database (`two_process.rs`, `vault_two_process.rs`): each child runs one `#[ignore]`d
//! test that does nothing unless its parent set the environment it reads.

use std::process::Stdio;

/// Runs test `name` (exactly) in two child processes at once with `env`; once both have passed,
/// returns each one's pid and standard output.
pub async fn run_two(name: &str, env: &[(&str, &str)]) -> Vec<(u32, String)> {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args([
                    name,
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut out = Vec::new();
    for child in children {
        let pid = child.id().unwrap();
        let done = child.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
        assert!(
            done.status.success() && stdout.contains("1 passed"),
            "child failed or did not run: {}\n{stdout}\n{}",
            done.status,
            String::from_utf8_lossy(&done.stderr)
        );
        out.push((pid, stdout));
    }
    out
}
