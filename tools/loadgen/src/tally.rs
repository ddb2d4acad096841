//! What the load workers of `run` and `mtls` count: latencies, statuses, HTTP versions,
//! transport errors and a few failure samples; one worker's tally, merged into the total.

use crate::http::version_name;
use std::collections::BTreeMap;
use std::time::Instant;

/// Failure samples kept (and printed) per run.
pub const ERROR_SAMPLES: usize = 3;

pub struct Tally {
    /// The status that is not a failure (no sample is kept of it).
    pub expect: u16,
    pub latencies_us: Vec<u64>,
    pub status: BTreeMap<u16, u64>,
    pub versions: BTreeMap<&'static str, u64>,
    pub transport_errors: u64,
    pub samples: Vec<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::expecting(200)
    }
}

impl Tally {
    pub fn expecting(status: u16) -> Self {
        Self {
            expect: status,
            latencies_us: Vec::new(),
            status: BTreeMap::new(),
            versions: BTreeMap::new(),
            transport_errors: 0,
            samples: Vec::new(),
        }
    }

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
                if status != self.expect && self.samples.len() < ERROR_SAMPLES {
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
                let keep = a.status != self.expect && self.samples.len() < ERROR_SAMPLES;
                if let Some(text) = a.sample.filter(|_| keep) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::Answer;

    fn answer(status: u16) -> anyhow::Result<Answer> {
        Ok(Answer {
            status,
            version: "HTTP/1.1",
            sample: Some(format!("body of {status}")),
        })
    }

    #[test]
    fn only_statuses_other_than_the_expected_one_are_sampled() {
        let mut by_default = Tally::default();
        by_default.record_raw(answer(404), Instant::now());
        assert_eq!(by_default.samples, ["404 body of 404"]);

        let mut floor = Tally::expecting(404);
        floor.record_raw(answer(404), Instant::now());
        floor.record_raw(answer(500), Instant::now());
        assert_eq!(floor.samples, ["500 body of 500"]);
        assert_eq!(floor.status.get(&404), Some(&1));
        assert_eq!(floor.latencies_us.len(), 2);
    }
}
