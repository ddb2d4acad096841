//! Connection-slot exhaustion: idle HTTP/2 connections, header blocks left open, trickled
//! prefaces, and many connections from one host (issue: one host could take every slot).

use crate::h2raw::{self, END_HEADERS, END_STREAM, GOAWAY, HEADERS, frame};
use crate::harness::{Live, closed_within};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const HOST_A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const HOST_B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// Sends `GET path` on `stream` and waits for its response headers; `:status 200` is the
/// static-table entry 8, which hyper sends indexed (RFC 7541 Appendix A).
async fn get_ok<S>(s: &mut S, stream: u32, path: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let block = h2raw::get_block(path);
    s.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, stream, &block))
        .await
        .unwrap();
    let f = h2raw::serve_until(s, |f| {
        f.kind == GOAWAY || (f.kind == HEADERS && f.stream == stream)
    })
    .await
    .expect("connection open");
    assert_eq!(f.kind, HEADERS, "stream {stream}: {f:?}");
    assert_eq!(f.payload.first(), Some(&0x88), ":status 200: {f:?}");
}

#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway_even_when_it_answers_pings() {
    let live = Live::start(|c| c.server.idle_timeout_secs = 1).await;
    let mut s = live.tls(b"h2").await;
    h2raw::open(&mut s).await;
    get_ok(&mut s, 1, "/healthz").await;
    let idle_since = Instant::now();
    let goaway = tokio::time::timeout(
        Duration::from_secs(5),
        h2raw::serve_until(&mut s, |f| f.kind == GOAWAY),
    )
    .await
    .expect("GOAWAY within 5 s of going idle")
    .expect("a GOAWAY, not a bare close");
    let waited = idle_since.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "too early: {waited:?}"
    );
    // NO_ERROR (RFC 9113 §7): a polite close.
    assert_eq!(goaway.payload.get(4..8), Some([0u8, 0, 0, 0].as_slice()));
    // The client keeps answering PINGs; the server closes anyway.
    let closed = tokio::time::timeout(
        Duration::from_secs(8),
        h2raw::serve_until(&mut s, |_| false),
    )
    .await;
    assert!(closed.is_ok(), "connection still open after GOAWAY");
    live.stop().await;
}

#[tokio::test]
async fn a_connection_in_use_is_not_idle() {
    let live = Live::start(|c| c.server.idle_timeout_secs = 1).await;
    let mut s = live.tls(b"h2").await;
    h2raw::open(&mut s).await;
    // 3 s of requests 400 ms apart: longer than the idle timeout, never idle for it.
    for n in 0..8 {
        get_ok(&mut s, 1 + 2 * n, "/healthz").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    live.stop().await;
}

#[tokio::test]
async fn a_header_block_left_open_is_closed_after_the_header_read_timeout() {
    let live = Live::start(|c| {
        c.server.header_read_timeout_secs = 1;
        c.server.idle_timeout_secs = 600;
    })
    .await;
    for cut_inside_frame in [false, true] {
        let mut s = live.tls(b"h2").await;
        h2raw::open(&mut s).await;
        let block = h2raw::get_block("/healthz");
        let headers = if cut_inside_frame {
            // Declares the whole block, sends half of it.
            let f = frame(HEADERS, END_HEADERS | END_STREAM, 1, &block);
            f[..9 + block.len() / 2].to_vec()
        } else {
            // HEADERS without END_HEADERS: a CONTINUATION is owed (RFC 9113 §6.10).
            frame(HEADERS, END_STREAM, 1, &block[..4])
        };
        s.write_all(&headers).await.unwrap();
        let closed = closed_within(s, Duration::from_secs(6)).await;
        let waited =
            closed.unwrap_or_else(|| panic!("cut inside frame {cut_inside_frame}: still open"));
        assert!(
            waited >= Duration::from_millis(500),
            "too early: {waited:?}"
        );
        assert!(waited < Duration::from_secs(4), "{waited:?}");
    }
    // A completed block on a fresh connection is served as usual.
    let mut s = live.tls(b"h2").await;
    h2raw::open(&mut s).await;
    s.write_all(&frame(
        HEADERS,
        END_STREAM,
        1,
        &h2raw::get_block("/healthz")[..4],
    ))
    .await
    .unwrap();
    s.write_all(&frame(
        h2raw::CONTINUATION,
        END_HEADERS,
        1,
        &h2raw::get_block("/healthz")[4..],
    ))
    .await
    .unwrap();
    let f = h2raw::serve_until(&mut s, |f| f.kind == HEADERS || f.kind == GOAWAY)
        .await
        .unwrap();
    assert_eq!((f.kind, f.payload.first()), (HEADERS, Some(&0x88)));
    live.stop().await;
}

#[tokio::test]
async fn a_trickled_preface_does_not_extend_the_deadline() {
    let live = Live::start(|c| c.server.header_read_timeout_secs = 1).await;
    let s = live.tls(b"h2").await;
    let (reader, mut writer) = tokio::io::split(s);
    let trickle = tokio::spawn(async move {
        // 24 bytes at 250 ms each would take 6 s.
        for b in h2raw::PREFACE {
            if writer.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let closed = closed_within(reader, Duration::from_secs(5)).await;
    let waited = closed.expect("closed before the trickled preface was complete");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    trickle.abort();
    live.stop().await;
}

#[tokio::test]
async fn one_host_cannot_take_every_connection_slot() {
    let live = Live::start(|c| {
        c.server.max_connections = 4;
        c.server.max_connections_per_ip = 2;
        c.server.idle_timeout_secs = 600;
    })
    .await;
    // Host A holds its two slots with idle HTTP/2 connections.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = live.tls(b"h2").await;
        h2raw::open(&mut s).await;
        held.push(s);
    }
    // Its next connections are closed at once (before any TLS).
    for _ in 0..3 {
        let refused = live.tls_from(HOST_A, b"h2").await;
        assert!(
            refused.is_err(),
            "a third connection from host A was served"
        );
    }
    // Host B is served.
    let resp = live
        .client_from(HOST_B)
        .get(live.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // One audit entry for host A's refusals in this minute, not one per connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    let refusals = loop {
        let refusals: Vec<_> = live
            .app
            .audit_entries()
            .await
            .into_iter()
            .filter(|e| e.record.reason.as_deref() == Some("too_many_connections"))
            .collect();
        if !refusals.is_empty() || Instant::now() > deadline {
            break refusals;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].record.source_ip, Some(HOST_A));
    assert_eq!(refusals[0].record.action, "request.reject");
    let all = live.app.audit_entries().await;
    assert_eq!(
        all.iter()
            .filter(|e| e.record.reason.as_deref() == Some("too_many_connections"))
            .count(),
        1
    );

    // A closed connection gives its slot back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = live.tls_from(HOST_A, b"h2").await.expect("slot given back");
    h2raw::open(&mut s).await;
    get_ok(&mut s, 1, "/healthz").await;
    live.stop().await;
}
