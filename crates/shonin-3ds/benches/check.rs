//! `cargo bench -p shonin-3ds`: what reading and checking one message costs, beside the floor of
//! parsing the same bytes into a `serde_json::Value` with nothing checked, measured in one run on
//! one core. The ACS and DS read every AReq and RReq this way.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use shonin_3ds::{Versions, check};

const SAMPLES: [(&str, &str); 5] = [
    ("AReq 2.2.0 browser", "visa/3DSS-220-101/areq.json"),
    (
        "AReq 2.1.0 app",
        "flow/testplatform/frictionless/happycase/default-handle/areq.json",
    ),
    ("ARes 2.2.0", "visa/3DSS-220-101/ares.json"),
    (
        "RReq 2.1.0",
        "flow/testplatform/challenge/happycase/cardholder-cancel/rreq.json",
    ),
    ("CReq 2.2.0", "visa/3DSS-220-107/creq.json"),
];

/// Runs `f` for about `budget` after a warm-up and returns the mean time per call.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..1_000 {
        f();
    }
    let start = Instant::now();
    let mut n: u32 = 0;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    start.elapsed() / n
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    println!(
        "{:<20} {:>7} {:>12} {:>12} {:>14} {:>7}",
        "message", "bytes", "check µs", "parse µs", "checks/s/core", "ratio"
    );
    for (name, file) in SAMPLES {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        assert!(check(&bytes, Versions::ALL).is_ok(), "{name} must be valid");
        let checked = time(Duration::from_secs(1), || {
            black_box(check(black_box(&bytes), Versions::ALL).is_ok());
        });
        let parsed = time(Duration::from_secs(1), || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).is_ok());
        });
        println!(
            "{:<20} {:>7} {:>12.1} {:>12.1} {:>14.0} {:>6.2}x",
            name,
            bytes.len(),
            checked.as_secs_f64() * 1e6,
            parsed.as_secs_f64() * 1e6,
            1.0 / checked.as_secs_f64(),
            checked.as_secs_f64() / parsed.as_secs_f64()
        );
    }
}
