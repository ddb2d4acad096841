//! A lean HTTP/1.1-over-TLS client for `run`: one TLS connection per worker, requests written as
//! prepared bytes, responses parsed with `httparse`. A general client (reqwest: a connection pool,
//! a task per connection, header maps and a timer per request) cost the generator about 65 µs of
//! CPU per request on the 2-core benchmark machine, CPU the server under test could not use.
//! Like the rest of loadgen it trusts only the CA it is given and connects only to loopback.

use crate::http::Target;
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Largest response head accepted (status line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Largest response body accepted.
const MAX_BODY: usize = 1024 * 1024;
const MAX_HEADERS: usize = 64;
/// Characters of a failed response's body kept for the error report.
const SAMPLE_CHARS: usize = 300;

/// Where and how to connect: the URL's host name for TLS, pinned to a loopback address.
pub struct Endpoint {
    addr: SocketAddr,
    name: ServerName<'static>,
    tls: TlsConnector,
    /// `Host` header value.
    authority: String,
    /// Request target (path and query) of the URL.
    path: String,
}

impl Endpoint {
    pub fn new(target: &Target, url: &url::Url) -> anyhow::Result<Self> {
        let (host, addr) = crate::http::pinned(target.connect, url)?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&target.ca)
            .with_context(|| format!("reading the CA {}", target.ca.display()))?
        {
            roots
                .add(cert.context("parsing the CA certificate")?)
                .context("adding the CA certificate")?;
        }
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Self {
            addr,
            name: ServerName::try_from(host.to_owned()).context("the URL's host")?,
            tls: TlsConnector::from(Arc::new(config)),
            authority,
            path,
        })
    }

    /// A POST request with a body of `content_type` and the given extra header lines (each
    /// `Name: value`).
    pub fn post(&self, content_type: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut req = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n",
            self.path, self.authority
        );
        Self::push_headers(&mut req, headers);
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// A GET request with the given extra header lines (each `Name: value`).
    pub fn get(&self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut req = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", self.path, self.authority);
        Self::push_headers(&mut req, headers);
        req.push_str("\r\n");
        req.into_bytes()
    }

    fn push_headers(req: &mut String, headers: &[(&str, &str)]) {
        for (name, value) in headers {
            req.push_str(name);
            req.push_str(": ");
            req.push_str(value);
            req.push_str("\r\n");
        }
    }

    async fn connect(&self) -> anyhow::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await.context("connecting")?;
        tcp.set_nodelay(true)?;
        let tls = self
            .tls
            .connect(self.name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        Ok(tls)
    }
}

/// What one exchange returned.
pub struct Answer {
    pub status: u16,
    pub version: &'static str,
    /// The start of the body, for responses other than 200.
    pub sample: Option<String>,
}

/// One keep-alive connection, opened on first use and again after the server closes it.
pub struct Conn {
    io: Option<TlsStream<TcpStream>>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new() -> Self {
        Self {
            io: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Sends `request` (complete HTTP/1.1 bytes) and reads the whole response within `limit`.
    /// On an error or a timeout the connection is dropped (a late response must not be read as
    /// the next one's), so the next call starts a new one.
    pub async fn exchange(
        &mut self,
        ep: &Endpoint,
        request: &[u8],
        limit: Duration,
    ) -> anyhow::Result<Answer> {
        let result = tokio::time::timeout(limit, self.exchange_once(ep, request))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no response within {limit:?}")));
        if !matches!(result, Ok((_, true))) {
            self.io = None;
            self.buf.clear();
        }
        result.map(|(answer, _)| answer)
    }

    async fn exchange_once(
        &mut self,
        ep: &Endpoint,
        request: &[u8],
    ) -> anyhow::Result<(Answer, bool)> {
        if self.io.is_none() {
            self.io = Some(ep.connect().await?);
            self.buf.clear();
        }
        let io = self.io.as_mut().context("no connection")?;
        io.write_all(request).await.context("writing the request")?;
        io.flush().await?;
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            anyhow::ensure!(
                self.buf.len() < MAX_HEAD,
                "response head over {MAX_HEAD} bytes"
            );
            read_more(io, &mut self.buf).await?;
        };
        let end = head.len + head.body_len;
        while self.buf.len() < end {
            read_more(io, &mut self.buf).await?;
        }
        let sample = (head.status != 200).then(|| {
            let body = self.buf.get(head.len..end).unwrap_or_default();
            String::from_utf8_lossy(body)
                .chars()
                .take(SAMPLE_CHARS)
                .collect()
        });
        self.buf.drain(..end);
        let answer = Answer {
            status: head.status,
            version: head.version,
            sample,
        };
        Ok((answer, head.keep_alive))
    }
}

async fn read_more(io: &mut TlsStream<TcpStream>, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    buf.reserve(4096);
    if io.read_buf(buf).await.context("reading the response")? == 0 {
        bail!("the server closed the connection");
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    len: usize,
    status: u16,
    version: &'static str,
    body_len: usize,
    keep_alive: bool,
}

/// The response head at the start of `buf`, or `None` if it is not complete yet. Only bodies
/// delimited by `Content-Length` are accepted (what Shonin and node-oidc-provider send).
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf).context("parsing the response head")? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = resp.code.context("no status code")?;
    let version = if resp.version == Some(0) {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut body_len = None;
    let mut keep_alive = resp.version != Some(0);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: usize = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .context("a malformed Content-Length")?;
            anyhow::ensure!(n <= MAX_BODY, "a response body of {n} bytes");
            body_len = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("a chunked response (this client reads Content-Length bodies only)");
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep_alive = !h.value.eq_ignore_ascii_case(b"close");
        }
    }
    let body_len = match (body_len, status) {
        (Some(n), _) => n,
        (None, 204 | 304) => 0,
        (None, _) => bail!("a response without Content-Length"),
    };
    Ok(Some(Head {
        len,
        status,
        version,
        body_len,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_complete_head_gives_its_length_status_and_body_length() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(
            head,
            Head {
                len: raw.len() - 5,
                status: 200,
                version: "HTTP/1.1",
                body_len: 5,
                keep_alive: true
            }
        );
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap(), None);
    }

    #[test]
    fn connection_close_and_http_1_0_end_keep_alive() {
        let close =
            parse_head(b"HTTP/1.1 400 Bad\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!close.unwrap().unwrap().keep_alive);
        let old = parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!old.unwrap().unwrap().keep_alive);
    }

    #[test]
    fn bodies_without_a_length_are_refused() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").is_ok());
    }

    /// A TLS server on loopback that answers each request by its body: `close` with
    /// `Connection: close`, `slow` after 2 s, anything else at once; it counts connections.
    async fn server() -> (std::net::SocketAddr, std::path::PathBuf, Arc<AtomicUsize>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let ca = std::env::temp_dir().join(format!("loadgen-h1-{}.pem", std::process::id()));
        std::fs::write(&ca, cert.pem()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = Vec::new();
                    loop {
                        let Some((head, body)) = read_request(&mut tls, &mut buf).await else {
                            return;
                        };
                        buf.drain(..head + body.len());
                        let extra = match body.as_slice() {
                            b"close" => "Connection: close\r\n",
                            b"slow" => {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                ""
                            }
                            _ => "",
                        };
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let mut out = reply.into_bytes();
                        out.extend_from_slice(&body);
                        if tls.write_all(&out).await.is_err() || !extra.is_empty() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, ca, connections)
    }

    /// One request from `buf` (read more as needed): its head length and body.
    async fn read_request(
        io: &mut tokio_rustls::server::TlsStream<TcpStream>,
        buf: &mut Vec<u8>,
    ) -> Option<(usize, Vec<u8>)> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = req.parse(buf) {
                let len: usize = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())?;
                if let Some(body) = buf.get(head..head + len) {
                    return Some((head, body.to_vec()));
                }
            }
            buf.reserve(4096);
            if io.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    #[tokio::test]
    async fn a_connection_is_reused_reopened_after_close_and_dropped_after_a_timeout() {
        let (addr, ca, connections) = server().await;
        let target = Target {
            ca: ca.clone(),
            connect: addr.ip(),
            http: crate::http::HttpVersion::Http1,
        };
        let url = url::Url::parse(&format!("https://localhost:{}/token", addr.port())).unwrap();
        let ep = Endpoint::new(&target, &url).unwrap();
        let limit = Duration::from_millis(500);
        let mut conn = Conn::new();
        let mut send = async |body: &str| {
            let req = ep.post(
                "application/x-www-form-urlencoded",
                &[("DPoP", "proof")],
                body.as_bytes(),
            );
            conn.exchange(&ep, &req, limit).await
        };
        for body in ["a", "b"] {
            assert_eq!(send(body).await.unwrap().status, 200);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1, "kept alive");
        assert_eq!(send("close").await.unwrap().status, 200);
        assert_eq!(send("c").await.unwrap().status, 200);
        assert_eq!(
            connections.load(Ordering::SeqCst),
            2,
            "reopened after close"
        );
        let late = send("slow").await.err().unwrap();
        assert!(late.to_string().contains("no response within"), "{late}");
        let next = send("d").await.unwrap();
        assert_eq!((next.status, next.sample), (200, None));
        assert_eq!(
            connections.load(Ordering::SeqCst),
            3,
            "dropped after the timeout"
        );
        std::fs::remove_file(ca).unwrap();
    }
}
