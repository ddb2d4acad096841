//! Latency percentiles and the generator's own CPU time, for the JSON result lines.

use serde::Serialize;

/// Latency percentiles in milliseconds (nearest-rank on the exact samples, no histogram error).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// Summarises samples given in microseconds; sorts them.
    pub fn from_micros(samples: &mut [u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let at = |p: f64| -> f64 {
            // Nearest rank: the smallest sample with at least p·n samples at or below it.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
            ms(samples.get(rank - 1).copied().unwrap_or_default())
        };
        let sum: u64 = samples.iter().sum();
        #[allow(clippy::cast_precision_loss)]
        let mean = sum as f64 / n as f64 / 1000.0;
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: ms(samples.last().copied().unwrap_or_default()),
            mean: round3(mean),
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// User + system CPU seconds this process has used so far, from `/proc/self/stat` (fields 14 and
/// 15, in clock ticks of 1/100 s: Linux's fixed USER_HZ). `None` where there is no procfs.
pub fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its closing ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3, so utime (14) is the 12th item and stime (15) the 13th.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let l = Latency::from_micros(&mut s);
        assert_eq!(l.p50, 50.0);
        assert_eq!(l.p90, 90.0);
        assert_eq!(l.p99, 99.0);
        assert_eq!(l.max, 100.0);
        assert_eq!(l.mean, 50.5);
    }

    #[test]
    fn no_samples_no_panic() {
        assert_eq!(Latency::from_micros(&mut []).max, 0.0);
    }

    #[test]
    fn cpu_time_is_readable_here() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_secs().is_some());
        }
    }
}
