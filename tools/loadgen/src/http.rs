//! The HTTPS client: trusts only the CA file it is given (never the system roots, never with
//! verification off) and connects only to a loopback address, whatever the URL's host resolves to.

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive: one connection per concurrent request.
    #[value(name = "1.1")]
    Http1,
    /// HTTP/2 (negotiated by ALPN): concurrent requests multiplexed on one connection.
    #[value(name = "2")]
    Http2,
}

#[derive(Debug, Args)]
pub struct Target {
    /// CA certificate (PEM) that signed the server's certificate; the only one trusted.
    #[arg(long)]
    pub ca: PathBuf,
    /// Loopback address the URL's host is pinned to (the URL keeps its name for TLS and `htu`).
    #[arg(long, default_value = "127.0.0.1")]
    pub connect: IpAddr,
    /// HTTP version.
    #[arg(long, value_enum, default_value = "1.1")]
    pub http: HttpVersion,
}

/// The host name of an https `url` and the address to reach it at: `connect`, which must be a
/// loopback address (a load test on this machine must never leave it), on the URL's port.
pub fn pinned(connect: IpAddr, url: &url::Url) -> anyhow::Result<(&str, SocketAddr)> {
    anyhow::ensure!(
        connect.is_loopback(),
        "--connect must be a loopback address, not {connect}"
    );
    anyhow::ensure!(url.scheme() == "https", "only https URLs are supported");
    let host = url.host_str().context("the URL has no host")?;
    let port = url.port_or_known_default().context("the URL has no port")?;
    Ok((host, SocketAddr::new(connect, port)))
}

/// A client for URLs under `base`, pinned to `target.connect` on `base`'s port.
pub fn client(target: &Target, base: &url::Url) -> anyhow::Result<reqwest::Client> {
    let (host, addr) = pinned(target.connect, base)?;
    let pem = std::fs::read(&target.ca)
        .with_context(|| format!("reading the CA {}", target.ca.display()))?;
    let ca = reqwest::Certificate::from_pem(&pem).context("parsing the CA certificate")?;
    let mut b = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve(host, addr)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .no_proxy();
    if target.http == HttpVersion::Http1 {
        b = b.http1_only();
    }
    Ok(b.build()?)
}

/// The name `reqwest` gives a response's HTTP version, for the report.
pub fn version_name(v: reqwest::Version) -> &'static str {
    match v {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_11 => "HTTP/1.1",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "other",
    }
}
