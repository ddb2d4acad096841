//! What the load workers of `run` and `mtls` count: latencies, statuses, HTTP versions,
//! transport errors and a few failure samples; one worker's tally, merged into the total.

use crate::http::version_name;
use std::collections::BTreeMap;
use std::time::Instant;

/// Failure samples kept (and printed) per run.
pub const ERROR_SAMPLES: usize = 3;

#[derive(Default)]
pub struct Tally {
    pub latencies_us: Vec<u64>,
    pub status: BTreeMap<u16, u64>,
    pub versions: BTreeMap<&'static str, u64>,
    pub transport_errors: u64,
    pub samples: Vec<String>,
}

impl Tally {
    /// Counts one request sent at `t0`. Reads the whole body, so the connection is reused.
    pub async fn record(&mut self, sent: reqwest::Result<reqwest::Response>, t0: Instant) {
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let version = version_name(resp.version());
                let body = resp.bytes().await;
                let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latencies_us.push(micros);
                *self.status.entry(status).or_default() += 1;
                *self.versions.entry(version).or_default() += 1;
                if status != 200 && self.samples.len() < ERROR_SAMPLES {
                    let text: String = body
                        .map(|b| String::from_utf8_lossy(&b).chars().take(300).collect())
                        .unwrap_or_default();
                    self.samples.push(format!("{status} {text}"));
                }
            }
            Err(e) => {
                self.transport_errors += 1;
                if self.samples.len() < ERROR_SAMPLES {
                    self.samples.push(format!("transport: {e}"));
                }
            }
        }
    }

    /// Counts one exchange of the `h1` client, started at `t0`.
    pub fn record_raw(&mut self, answer: anyhow::Result<crate::h1::Answer>, t0: Instant) {
        match answer {
            Ok(a) => {
                let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latencies_us.push(micros);
                *self.status.entry(a.status).or_default() += 1;
                *self.versions.entry(a.version).or_default() += 1;
                if let Some(text) = a.sample.filter(|_| self.samples.len() < ERROR_SAMPLES) {
                    self.samples.push(format!("{} {text}", a.status));
                }
            }
            Err(e) => {
                self.transport_errors += 1;
                if self.samples.len() < ERROR_SAMPLES {
                    self.samples.push(format!("transport: {e:#}"));
                }
            }
        }
    }

    /// Adds another worker's tally to this one.
    pub fn merge(&mut self, r: Tally) {
        self.latencies_us.extend(r.latencies_us);
        for (k, v) in r.status {
            *self.status.entry(k).or_default() += v;
        }
        for (k, v) in r.versions {
            *self.versions.entry(k).or_default() += v;
        }
        self.transport_errors += r.transport_errors;
        self.samples.extend(r.samples);
    }
}
