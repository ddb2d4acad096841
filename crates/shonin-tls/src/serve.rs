//! The accept loop: TCP → TLS handshake → HTTP/1.1 or HTTP/2 → the axum router, with the
//! connection's [`ConnectionInfo`] on every request, bounded resources, and graceful shutdown.

use super::connection::ConnectionInfo;
use super::error_heads::ErrorHeads;
use super::idle::Activity;
use super::per_ip::{PerIp, PerIpSlot};
use super::read_deadline::HeadDeadline;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::fmt::{self, Display};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Resource limits of [`serve`].
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Time allowed for the TLS handshake, from accept. Default 10 s.
    pub handshake_timeout: Duration,
    /// Time allowed for a request's header block to arrive, which also bounds how long an idle
    /// HTTP/1.1 connection stays open and how long an HTTP/2 client may take to send its
    /// connection preface. Default 10 s.
    pub header_read_timeout: Duration,
    /// HTTP/1.1: the read buffer, which bounds the request line and headers (hyper needs at
    /// least 8 KiB, smaller values are raised to that); HTTP/2: SETTINGS_MAX_HEADER_LIST_SIZE.
    /// Default 16 KiB.
    pub max_header_bytes: usize,
    /// Open connections at most. At the limit the server stops accepting until one closes; new
    /// clients wait in the kernel's listen backlog rather than being reset. Default 10 000.
    pub max_connections: usize,
    /// Open connections at most from one client IP; a connection over it is closed at once,
    /// counted in `shonin_connections_refused_total{reason="per_ip"}` and reported to
    /// [`ServeLimits::on_refusal`] as `too_many_connections`. Peers in [`ServeLimits::per_ip_exempt`] (trusted
    /// proxies, which carry many clients) have no cap. Default 256.
    pub max_connections_per_ip: usize,
    /// Peers without a per-IP cap.
    pub per_ip_exempt: Arc<[IpAddr]>,
    /// Called with the peer's address and a reason for each connection or request this layer
    /// refuses (`too_many_connections`, `bad_host`); the caller samples what it audits.
    pub on_refusal: Option<RefusalHook>,
    /// A connection with no request in flight for this long is closed: HTTP/2 with a GOAWAY
    /// (RFC 9113 §6.8), HTTP/1.1 after its current response. Default 30 s.
    pub idle_timeout: Duration,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. Default 100 (RFC 9113 §6.5.2 recommends no less).
    pub http2_max_concurrent_streams: u32,
    /// After shutdown is signalled, how long in-flight requests may take before their
    /// connections are closed. Default 30 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            per_ip_exempt: Arc::from([]),
            on_refusal: None,
            idle_timeout: Duration::from_secs(30),
            http2_max_concurrent_streams: 100,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A callback with the IP address of a refused peer and the reason.
#[derive(Clone)]
pub struct RefusalHook(pub Arc<dyn Fn(IpAddr, &'static str) + Send + Sync>);

impl fmt::Debug for RefusalHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefusalHook")
    }
}

/// hyper panics on an HTTP/1 read buffer smaller than this.
const H1_MIN_BUF_SIZE: usize = 8 * 1024;
/// HTTP/2 PING interval and the wait for its acknowledgement, to drop dead peers.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// After an idle connection was asked to close (GOAWAY), how long the client may take to let
/// go before the socket is dropped: a client stopped inside a header block cannot answer.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Pause after an accept error that is not about one connection (EMFILE, ENFILE, ENOBUFS), so
/// the loop does not spin while the process is out of descriptors or memory.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish for up to [`ServeLimits::shutdown_grace`], closes what is left and returns.
///
/// With `tls`, every connection is TLS (h2 or http/1.1 chosen by ALPN); without it, plain
/// HTTP/1.1 or HTTP/2 with prior knowledge, which is only for a deployment behind a
/// TLS-terminating proxy. Every request carries a [`ConnectionInfo`] and an
/// `axum::extract::ConnectInfo<SocketAddr>` of the TCP peer.
///
/// Failed or timed-out handshakes are logged at debug level with the peer address and counted
/// in `shonin_tls_handshake_failures_total{reason="error"|"timeout"}`; they never stop the loop.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let ctx = Arc::new(ConnContext::new(tls, app, &limits));
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let per_ip = PerIp::new(limits.max_connections_per_ip, limits.per_ip_exempt.clone());
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    // A plain address in the log (`127.0.0.1:8443`), not Rust's `Some(…)`.
    let addr = listener
        .local_addr()
        .map_or_else(|_| "-".to_owned(), |a| a.to_string());
    tracing::info!(%addr, tls = ctx.tls.is_some(), "accepting connections");

    loop {
        reap(&mut tasks);
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break, // never closed; leave rather than spin
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Some(ip_slot) = per_ip.claim(peer.ip()) else {
                    drop(stream);
                    metrics::counter!("shonin_connections_refused_total", "reason" => "per_ip")
                        .increment(1);
                    tracing::debug!(%peer, "connection refused: too many from this IP");
                    if let Some(hook) = &limits.on_refusal {
                        (hook.0)(peer.ip(), "too_many_connections");
                    }
                    continue;
                };
                let slots = (permit, ip_slot);
                tasks.spawn(connection(
                    stream,
                    peer,
                    ctx.clone(),
                    stopping.clone(),
                    slots,
                ));
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "connection failed before accept");
            }
            Err(e) => {
                tracing::error!(error = %e, backoff_ms = ACCEPT_ERROR_BACKOFF.as_millis() as u64, "accept failed");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }

    drop(listener);
    drain(&stop, tasks, limits.shutdown_grace).await;
    Ok(())
}

/// What every connection task shares.
struct ConnContext {
    tls: Option<TlsAcceptor>,
    app: Router,
    /// HTTP/1.1 only: TLS without ALPN `h2`.
    h1: auto::Builder<TokioExecutor>,
    /// HTTP/2 only: TLS with ALPN `h2` (RFC 9113 §3.2).
    h2: auto::Builder<TokioExecutor>,
    /// Either, by the client's first bytes: plain connections.
    sniffing: auto::Builder<TokioExecutor>,
    handshake_timeout: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    on_refusal: Option<RefusalHook>,
}

impl ConnContext {
    fn new(tls: Option<Arc<rustls::ServerConfig>>, app: Router, limits: &ServeLimits) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(H1_MIN_BUF_SIZE));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.http2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
        Self {
            tls: tls.map(TlsAcceptor::from),
            app,
            h1: builder.clone().http1_only(),
            h2: builder.clone().http2_only(),
            sniffing: builder,
            handshake_timeout: limits.handshake_timeout,
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            on_refusal: limits.on_refusal.clone(),
        }
    }
}

/// One accepted connection, from handshake to close. Holds its connection slots (overall and
/// for its IP) until it ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ConnContext>,
    stopping: watch::Receiver<bool>,
    _slots: (OwnedSemaphorePermit, PerIpSlot),
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let Some(acceptor) = &ctx.tls else {
        let io = ErrorHeads::new(HeadDeadline::new(stream, ctx.header_read_timeout));
        let info = ConnectionInfo::plain(peer);
        return serve_http(&ctx, &ctx.sniffing, io, info, stopping).await;
    };
    let stream = match tokio::time::timeout(ctx.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return handshake_failed(peer, "error", &e),
        Err(_elapsed) => return handshake_failed(peer, "timeout", &"no handshake in time"),
    };
    let (_, session) = stream.get_ref();
    let info = ConnectionInfo {
        peer_addr: peer,
        tls: true,
        client_cert_chain: session
            .peer_certificates()
            .filter(|chain| !chain.is_empty())
            .map(Arc::from),
    };
    if session.alpn_protocol() == Some(b"h2".as_slice()) {
        let io = HeadDeadline::new(stream, ctx.header_read_timeout);
        serve_http(&ctx, &ctx.h2, io, info, stopping).await;
    } else {
        // hyper's own header_read_timeout bounds a silent HTTP/1.1 client.
        serve_http(&ctx, &ctx.h1, ErrorHeads::new(stream), info, stopping).await;
    }
}

/// Serves HTTP on one connection, inserting `info` into every request, until the client
/// closes, an error occurs, the connection has been idle for `ctx.idle_timeout`, or a graceful
/// shutdown has let the in-flight requests finish.
async fn serve_http<I>(
    ctx: &ConnContext,
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    info: ConnectionInfo,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer_addr;
    let activity = Arc::new(Activity::new());
    let service = {
        let (app, activity) = (ctx.app.clone(), activity.clone());
        let on_refusal = ctx.on_refusal.clone();
        tower::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(info.clone());
            req.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = activity.begin();
            let app = app.clone();
            let refused = super::message_rules::host_problem(&req);
            if let (Some(_), Some(hook)) = (refused, &on_refusal) {
                (hook.0)(peer.ip(), "bad_host");
            }
            async move {
                if let Some(detail) = refused {
                    metrics::counter!("shonin_requests_refused_total", "reason" => "host")
                        .increment(1);
                    return Ok(super::message_rules::bad_request(detail, req.version()));
                }
                let response = app.oneshot(req).await;
                drop(in_flight);
                response
            }
        })
    };
    let mut conn =
        pin!(builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)));
    let mut idle = pin!(tokio::time::sleep(ctx.idle_timeout));
    // Set once the connection was asked to close because it was idle.
    let mut closing = false;
    let mut stop_seen = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !stop_seen => {
                // Shutdown (or the sender gone): finish in-flight requests, then close.
                stop_seen = true;
                conn.as_mut().graceful_shutdown();
            }
            () = idle.as_mut() => match closing {
                false => match activity.idle_until(ctx.idle_timeout, Instant::now()) {
                    Some(later) => idle.as_mut().reset(later),
                    None => {
                        metrics::counter!("shonin_connections_closed_total", "reason" => "idle")
                            .increment(1);
                        tracing::debug!(%peer, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                        idle.as_mut().reset(Instant::now() + IDLE_CLOSE_GRACE);
                    }
                },
                // A request that began just before the GOAWAY may finish; nothing else.
                true if activity.in_flight() > 0 => {
                    idle.as_mut().reset(Instant::now() + IDLE_CLOSE_GRACE);
                }
                true => return,
            },
        }
    }
}

fn handshake_failed(peer: SocketAddr, reason: &'static str, detail: &dyn Display) {
    tracing::debug!(%peer, reason, error = %detail, "TLS handshake failed");
    metrics::counter!("shonin_tls_handshake_failures_total", "reason" => reason).increment(1);
}

/// Errors about one connection that went away before it was accepted; the next accept works.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Collects finished connection tasks so the set does not grow; reports panics.
fn reap(tasks: &mut JoinSet<()>) {
    while let Some(done) = tasks.try_join_next() {
        if let Err(e) = done
            && e.is_panic()
        {
            tracing::error!("a connection task panicked");
        }
    }
}

/// Signals every connection to finish its in-flight requests and close, waits up to `grace`,
/// then aborts whatever is left.
async fn drain(stop: &watch::Sender<bool>, mut tasks: JoinSet<()>, grace: Duration) {
    tracing::info!(
        connections = tasks.len(),
        "shutting down: not accepting; finishing in-flight requests"
    );
    stop.send_replace(true);
    let finished =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(
            remaining = tasks.len(),
            ?grace,
            "grace period over; closing the remaining connections"
        );
    }
    tasks.shutdown().await;
}
