//! `run`: sends a pregenerated file (token requests, or userinfo requests: see `pregen`) to its
//! endpoint with C concurrent workers. Each request is
//! sent at most once (a shared cursor hands them out), so no `jti` is ever replayed; the run ends
//! at the file's end, at `--duration`, or before the proofs go stale, whichever comes first.

use crate::client_jwt::unix_now;
use crate::h1;
use crate::http::{self, Target};
use crate::pregen::{FORMAT, FileHeader};
use crate::stats::{Latency, process_cpu_secs, round3};
use crate::tally::{ERROR_SAMPLES, Tally};
use anyhow::Context;
use clap::Args;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Longest `--duration` accepted: a benchmark window, not a soak test.
const MAX_DURATION_SECS: u64 = 300;
const MAX_CONCURRENCY: usize = 1024;
/// A request without its response after this long counts as a transport error (as reqwest's
/// timeout in `http::client`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// File written by `loadgen pregen`.
    #[arg(long)]
    pub file: PathBuf,
    /// The endpoint's URL (token or userinfo); must match the file's `htu`.
    #[arg(long)]
    pub url: String,
    #[command(flatten)]
    pub target: Target,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Longest run, in seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Generator threads (1 leaves the most CPU to the server).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// A label copied into the result line.
    #[arg(long, default_value = "")]
    pub label: String,
    /// The status counted as `ok`. `bench/run.sh` sends the same requests to a path the server
    /// answers with 404 to measure what a request costs without the token endpoint's work.
    #[arg(long, default_value_t = 200)]
    pub expect_status: u16,
}

struct Prepared {
    dpop: HeaderValue,
    body: bytes::Bytes,
}

/// What every request of a file shares: its method and an `Authorization` value, if any.
struct Shared {
    get: bool,
    /// The body's media type (POST).
    content_type: HeaderValue,
    authorization: Option<HeaderValue>,
}

/// The requests, ready for the client that sends them.
enum Load {
    /// HTTP/1.1: each request as the bytes written to the connection (`h1`).
    Raw(h1::Endpoint, Vec<Vec<u8>>),
    /// HTTP/2: through reqwest.
    Reqwest(reqwest::Client, Shared, Vec<Prepared>),
}

impl Load {
    fn prepare(
        target: &Target,
        url: &url::Url,
        shared: Shared,
        requests: Vec<Prepared>,
    ) -> anyhow::Result<Self> {
        if target.http == http::HttpVersion::Http1 {
            let ep = h1::Endpoint::new(target, url)?;
            let authorization = shared
                .authorization
                .as_ref()
                .map(HeaderValue::to_str)
                .transpose()?;
            let raw = requests
                .iter()
                .map(|r| {
                    let mut headers = vec![("DPoP", r.dpop.to_str()?)];
                    headers.extend(authorization.map(|a| ("Authorization", a)));
                    Ok(if shared.get {
                        ep.get(&headers)
                    } else {
                        ep.post(shared.content_type.to_str()?, &headers, &r.body)
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            return Ok(Self::Raw(ep, raw));
        }
        Ok(Self::Reqwest(http::client(target, url)?, shared, requests))
    }

    fn len(&self) -> usize {
        match self {
            Self::Raw(_, r) => r.len(),
            Self::Reqwest(_, _, r) => r.len(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    label: String,
    url: String,
    http: &'static str,
    concurrency: usize,
    requests: u64,
    expect_status: u16,
    ok: u64,
    transport_errors: u64,
    elapsed_s: f64,
    rps: f64,
    ok_rps: f64,
    latency_ms: Latency,
    status: BTreeMap<u16, u64>,
    versions: BTreeMap<&'static str, u64>,
    stopped_by: &'static str,
    client_cpu_s: Option<f64>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_CONCURRENCY).contains(&args.concurrency),
        "--concurrency must be 1 to {MAX_CONCURRENCY}"
    );
    anyhow::ensure!(
        (1..=MAX_DURATION_SECS).contains(&args.duration),
        "--duration must be 1 to {MAX_DURATION_SECS} s"
    );
    let (header, requests) = load(&args.file)?;
    anyhow::ensure!(
        header.htu == args.url,
        "the file's proofs are for {} but --url is {}",
        header.htu,
        args.url
    );
    let url = url::Url::parse(&args.url).context("--url")?;
    let left = header.not_after - unix_now();
    anyhow::ensure!(
        left > 0,
        "the file's DPoP proofs are stale: pregenerate again"
    );
    let by_duration = Duration::from_secs(args.duration);
    let by_expiry = Duration::from_secs(u64::try_from(left).unwrap_or(0));
    let window = by_duration.min(by_expiry);

    let shared = Shared {
        get: match header.method.as_str() {
            "GET" => true,
            "POST" => false,
            other => anyhow::bail!("the file's method {other} is neither GET nor POST"),
        },
        content_type: HeaderValue::from_str(&header.content_type)
            .context("the file's content type")?,
        authorization: header
            .authorization
            .as_deref()
            .map(HeaderValue::from_str)
            .transpose()
            .context("the file's Authorization value")?,
    };
    let load = Arc::new(Load::prepare(&args.target, &url, shared, requests)?);
    let count = load.len();
    let cursor = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let deadline = started + window;
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (url, load, cursor) = (url.clone(), Arc::clone(&load), Arc::clone(&cursor));
        let tally = Tally::expecting(args.expect_status);
        tasks.push(tokio::spawn(async move {
            match &*load {
                Load::Raw(ep, requests) => raw_worker(ep, requests, &cursor, deadline, tally).await,
                Load::Reqwest(client, shared, requests) => {
                    worker(client, url, shared, requests, &cursor, deadline, tally).await
                }
            }
        }));
    }
    let mut total = Tally::expecting(args.expect_status);
    for t in tasks {
        total.merge(t.await.context("a worker failed")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let client_cpu_s = cpu_before
        .zip(process_cpu_secs())
        .map(|(a, b)| round3(b - a));
    let sent = cursor.load(Ordering::Relaxed).min(count);
    let stopped_by = if sent >= count {
        "count"
    } else if window < by_duration {
        "proof_expiry"
    } else {
        "duration"
    };
    for s in total.samples.iter().take(ERROR_SAMPLES) {
        eprintln!("loadgen: sample failure: {s}");
    }
    let ok = total.status.get(&args.expect_status).copied().unwrap_or(0);
    let done = u64::try_from(total.latencies_us.len()).unwrap_or(u64::MAX);
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        mode: "run",
        label: args.label,
        url: args.url,
        http: match args.target.http {
            http::HttpVersion::Http1 => "1.1",
            http::HttpVersion::Http2 => "2",
        },
        concurrency: args.concurrency,
        requests: done,
        expect_status: args.expect_status,
        ok,
        transport_errors: total.transport_errors,
        elapsed_s: round3(elapsed),
        rps: round3(done as f64 / elapsed),
        ok_rps: round3(ok as f64 / elapsed),
        latency_ms: Latency::from_micros(&mut total.latencies_us),
        status: total.status,
        versions: total.versions,
        stopped_by,
        client_cpu_s,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The next unsent request, unless the deadline has passed or every request was handed out.
fn next<'r, T>(requests: &'r [T], cursor: &AtomicUsize, deadline: Instant) -> Option<&'r T> {
    if Instant::now() >= deadline {
        return None;
    }
    requests.get(cursor.fetch_add(1, Ordering::Relaxed))
}

/// Sends requests over one keep-alive connection until the deadline or the end of the file.
async fn raw_worker(
    ep: &h1::Endpoint,
    requests: &[Vec<u8>],
    cursor: &AtomicUsize,
    deadline: Instant,
    mut r: Tally,
) -> Tally {
    let mut conn = h1::Conn::new();
    while let Some(req) = next(requests, cursor, deadline) {
        let t0 = Instant::now();
        let answer = conn.exchange(ep, req, REQUEST_TIMEOUT).await;
        r.record_raw(answer, t0);
    }
    r
}

async fn worker(
    client: &reqwest::Client,
    url: url::Url,
    shared: &Shared,
    requests: &[Prepared],
    cursor: &AtomicUsize,
    deadline: Instant,
    mut r: Tally,
) -> Tally {
    while let Some(req) = next(requests, cursor, deadline) {
        let t0 = Instant::now();
        let mut b = if shared.get {
            client.get(url.clone())
        } else {
            client
                .post(url.clone())
                .header(CONTENT_TYPE, shared.content_type.clone())
                .body(req.body.clone())
        };
        if let Some(a) = &shared.authorization {
            b = b.header(AUTHORIZATION, a.clone());
        }
        let sent = b.header("dpop", req.dpop.clone()).send().await;
        r.record(sent, t0).await;
    }
    r
}

fn load(path: &PathBuf) -> anyhow::Result<(FileHeader, Vec<Prepared>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let first = lines.next().context("the file is empty")??;
    let header: FileHeader = serde_json::from_str(&first).context("the file's header line")?;
    anyhow::ensure!(header.format == FORMAT, "not a {FORMAT} file");
    let mut requests = Vec::with_capacity(header.count);
    for (i, line) in lines.enumerate() {
        let line = line?;
        let (dpop, body) = line
            .split_once('\t')
            .with_context(|| format!("line {} has no tab", i + 2))?;
        requests.push(Prepared {
            dpop: HeaderValue::from_str(dpop).with_context(|| format!("line {}", i + 2))?,
            body: bytes::Bytes::from(body.to_owned()),
        });
    }
    anyhow::ensure!(
        requests.len() == header.count,
        "the header says {} requests, the file has {}",
        header.count,
        requests.len()
    );
    Ok((header, requests))
}
