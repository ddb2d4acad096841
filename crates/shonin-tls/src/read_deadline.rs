//! A deadline for what hyper waits for without one on HTTP/2: the connection preface and
//! the completion of a header block.
//!
//! hyper's HTTP/1 `header_read_timeout` covers a client that sends nothing or stops inside its
//! request head, but an HTTP/2 server waits for the connection preface (RFC 9113 §3.4) and for
//! the CONTINUATION frames of an open header block (§6.10) without a limit, and so does
//! hyper-util's protocol sniffing on plain connections. Without this, a client could hold a
//! connection slot forever by completing TCP (or TLS) and then staying silent, or by sending
//! HEADERS without END_HEADERS. The deadline runs from the first byte of what is owed (from
//! the accept for the preface) and is checked on every read, so trickling bytes does not
//! extend it.

use super::h2_scan::H2Scan;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Fails reads once the client has owed the preface or a header block for longer than
/// `within`; between requests it only forwards.
#[derive(Debug)]
pub(crate) struct HeadDeadline<I> {
    inner: I,
    scan: H2Scan,
    within: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<I> HeadDeadline<I> {
    pub(crate) fn new(inner: I, within: Duration) -> Self {
        Self {
            inner,
            scan: H2Scan::new(),
            within,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
        }
    }

    fn timed_out() -> io::Error {
        metrics::counter!("shonin_connections_closed_total", "reason" => "head_timeout")
            .increment(1);
        io::Error::new(
            io::ErrorKind::TimedOut,
            "client did not complete its request head in time",
        )
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for HeadDeadline<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.scan
                    .feed(buf.filled().get(before..).unwrap_or_default());
                match (this.scan.awaiting_head(), &this.deadline) {
                    (false, _) => this.deadline = None,
                    (true, None) => {
                        this.deadline = Some(Box::pin(tokio::time::sleep(this.within)));
                    }
                    (true, Some(deadline)) if deadline.is_elapsed() => {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                    (true, Some(_)) => {}
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(Self::timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
