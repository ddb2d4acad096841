//! `mtls-pki` and `mtls`: the token endpoint with RFC 8705 mTLS client authentication
//! (`tls_client_auth`) and certificate-bound tokens, measured two ways:
//!
//! - `--connections keep-alive`: HTTP/1.1 keep-alive, one TLS handshake per connection, so the
//!   handshake is amortised over the run (the client-certificate check is per request anyway);
//! - `--connections new`: a new TCP connection and a **full** TLS handshake with client
//!   authentication for every request (no idle pooling, session resumption switched off on the
//!   client), the worst case for clients that do not keep connections.
//!
//! The request body is the same every time (`client_credentials` + `client_id`; nothing is
//! signed, nothing can be replayed), so there is no pregeneration step. Like the rest of
//! loadgen it trusts only the CA it is given and connects only to a loopback address.

use crate::stats::{Latency, process_cpu_secs, round3};
use crate::tally::{ERROR_SAMPLES, Tally};
use anyhow::Context;
use clap::{Args, ValueEnum};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_DURATION_SECS: u64 = 300;
const MAX_CONCURRENCY: usize = 1024;

#[derive(Debug, Args)]
pub struct PkiArgs {
    /// Directory to write `client-ca.pem` (for `server.client_ca_file`), `client.pem` and
    /// `client-key.pem` (0600) into.
    #[arg(long)]
    pub out: PathBuf,
    /// The client certificate's CN; its subject DN is `CN=<cn>,O=Shonin Bench,C=DE`.
    #[arg(long)]
    pub cn: String,
}

/// Writes a throw-away client CA and one client certificate (ECDSA P-256, clientAuth).
pub fn pki(args: &PkiArgs) -> anyhow::Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let dn = |cn: &str| {
        let mut d = rcgen::DistinguishedName::new();
        d.push(DnType::CountryName, "DE");
        d.push(DnType::OrganizationName, "Shonin Bench");
        d.push(DnType::CommonName, cn);
        d
    };
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = dn("Shonin Bench client CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::hours(1);
    ca.not_after = now + time::Duration::days(7);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut leaf = CertificateParams::new(Vec::<String>::new())?;
    leaf.distinguished_name = dn(&args.cn);
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.not_before = now - time::Duration::hours(1);
    leaf.not_after = now + time::Duration::days(7);
    let cert = leaf.signed_by(&key, &issuer)?;
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("client-ca.pem"), ca_cert.pem())?;
    std::fs::write(args.out.join("client.pem"), cert.pem())?;
    let key_path = args.out.join("client-key.pem");
    std::fs::write(&key_path, key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
    }
    println!(
        "{}",
        serde_json::json!({"mode": "mtls-pki", "subject_dn": format!("CN={},O=Shonin Bench,C=DE", args.cn),
            "dir": args.out})
    );
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Connections {
    /// HTTP/1.1 keep-alive: one handshake per connection.
    #[value(name = "keep-alive")]
    KeepAlive,
    /// A new connection and a full TLS handshake (no resumption) per request.
    New,
}

#[derive(Debug, Args)]
pub struct MtlsArgs {
    /// Token endpoint URL (https).
    #[arg(long)]
    pub url: String,
    /// CA certificate (PEM) of the server's certificate; the only one trusted.
    #[arg(long)]
    pub ca: PathBuf,
    /// Loopback address the URL's host is pinned to.
    #[arg(long, default_value = "127.0.0.1")]
    pub connect: IpAddr,
    /// The client certificate (PEM) and its key (PKCS#8 PEM), e.g. from `loadgen mtls-pki`.
    #[arg(long)]
    pub cert: PathBuf,
    #[arg(long)]
    pub key: PathBuf,
    /// The registered `tls_client_auth` client (for the token request; not with --json-body).
    #[arg(long, required_unless_present = "json_body")]
    pub client_id: Option<String>,
    /// Scope to request.
    #[arg(long, default_value = "accounts")]
    pub scope: String,
    #[arg(long, value_enum, default_value = "keep-alive")]
    pub connections: Connections,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Run length, in seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Generator threads (1 leaves the most CPU to the server).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// A label copied into the result line.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Send this file as the body of every request, as `application/json`, instead of the
    /// client_credentials form (e.g. an EMV 3DS AReq to `/3ds/acs/areq`). Each occurrence of
    /// `00000000-0000-4000-8000-000000000000` is replaced by a fresh random UUID per request
    /// (a DS's transaction ID is unique per AReq).
    #[arg(long)]
    pub json_body: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    label: String,
    url: String,
    connections: &'static str,
    concurrency: usize,
    requests: u64,
    ok: u64,
    transport_errors: u64,
    elapsed_s: f64,
    rps: f64,
    ok_rps: f64,
    latency_ms: Latency,
    status: BTreeMap<u16, u64>,
    versions: BTreeMap<&'static str, u64>,
    client_cpu_s: Option<f64>,
}

fn client(args: &MtlsArgs, url: &url::Url) -> anyhow::Result<reqwest::Client> {
    let (host, addr) = crate::http::pinned(args.connect, url)?;
    let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(&args.ca)?) {
        roots.add(c.context("--ca")?)?;
    }
    let chain = CertificateDer::pem_slice_iter(&read(&args.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .context("--cert")?;
    let key = PrivateKeyDer::from_pem_slice(&read(&args.key)?).context("--key")?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    if args.connections == Connections::New {
        // Every request pays for a full handshake with client authentication.
        tls.resumption = rustls::client::Resumption::disabled();
    }
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .resolve(host, addr)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .http1_only();
    if args.connections == Connections::New {
        b = b.pool_max_idle_per_host(0);
    }
    Ok(b.build()?)
}

pub async fn run(args: MtlsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_CONCURRENCY).contains(&args.concurrency),
        "--concurrency must be 1 to {MAX_CONCURRENCY}"
    );
    anyhow::ensure!(
        (1..=MAX_DURATION_SECS).contains(&args.duration),
        "--duration must be 1 to {MAX_DURATION_SECS} s"
    );
    let url = url::Url::parse(&args.url).context("--url")?;
    let client = client(&args, &url)?;
    let (body, content_type) = match &args.json_body {
        Some(path) => (
            bytes::Bytes::from(
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            ),
            HeaderValue::from_static("application/json"),
        ),
        None => (
            bytes::Bytes::from(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", args.client_id.as_deref().unwrap_or_default())
                    .append_pair("scope", &args.scope)
                    .finish(),
            ),
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ),
    };
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (client, url, body, content_type) = (
            client.clone(),
            url.clone(),
            body.clone(),
            content_type.clone(),
        );
        tasks.push(tokio::spawn(async move {
            worker(&client, url, body, content_type, deadline).await
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.context("a worker failed")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let client_cpu_s = cpu_before
        .zip(process_cpu_secs())
        .map(|(a, b)| round3(b - a));
    for s in total.samples.iter().take(ERROR_SAMPLES) {
        eprintln!("loadgen: sample failure: {s}");
    }
    let ok = total.status.get(&200).copied().unwrap_or(0);
    let done = u64::try_from(total.latencies_us.len()).unwrap_or(u64::MAX);
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        mode: "mtls",
        label: args.label,
        url: args.url,
        connections: match args.connections {
            Connections::KeepAlive => "keep-alive",
            Connections::New => "new",
        },
        concurrency: args.concurrency,
        requests: done,
        ok,
        transport_errors: total.transport_errors,
        elapsed_s: round3(elapsed),
        rps: round3(done as f64 / elapsed),
        ok_rps: round3(ok as f64 / elapsed),
        latency_ms: Latency::from_micros(&mut total.latencies_us),
        status: total.status,
        versions: total.versions,
        client_cpu_s,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn worker(
    client: &reqwest::Client,
    url: url::Url,
    body: bytes::Bytes,
    content_type: HeaderValue,
    deadline: Instant,
) -> Tally {
    let mut r = Tally::default();
    let template = fresh_ids(&body);
    while Instant::now() < deadline {
        let body = match &template {
            Some(parts) => {
                bytes::Bytes::from(parts.join(uuid::Uuid::new_v4().to_string().as_str()))
            }
            None => body.clone(),
        };
        let t0 = Instant::now();
        let sent = client
            .post(url.clone())
            .header(CONTENT_TYPE, content_type.clone())
            .body(body)
            .send()
            .await;
        r.record(sent, t0).await;
    }
    r
}

/// The placeholder a JSON body marks a per-request UUID with.
const FRESH_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The body split around its placeholders, if it has any.
fn fresh_ids(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?;
    text.contains(FRESH_ID)
        .then(|| text.split(FRESH_ID).map(str::to_owned).collect())
}
