//! The responses hyper writes by itself. When an HTTP/1 request head cannot be parsed (400),
//! its target is too long (414) or its fields too large (431), hyper answers before any service
//! runs, so none of our layers adds the security headers. This wrapper watches the write side of
//! an HTTP/1 connection for exactly such a head — one of those three status lines, without the
//! `strict-transport-security` field every response of ours carries — and adds the headers
//! before the blank line that ends it. Nothing else is changed.

use crate::headers::SECURITY_HEADERS;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The status lines hyper writes for request heads it refuses (`proto::h1::role::Server::on_error`).
const HYPER_ERROR_LINES: [&[u8]; 6] = [
    b"HTTP/1.1 400 ",
    b"HTTP/1.1 414 ",
    b"HTTP/1.1 431 ",
    b"HTTP/1.0 400 ",
    b"HTTP/1.0 414 ",
    b"HTTP/1.0 431 ",
];

pub struct ErrorHeads<T> {
    inner: T,
    /// A rewritten head not yet fully written to `inner`, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ErrorHeads<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// `buf` with the security headers inserted, when it starts with a head hyper wrote itself.
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    if !HYPER_ERROR_LINES.iter().any(|line| buf.starts_with(line)) {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf.get(..end)?;
    let lower = head.to_ascii_lowercase();
    if lower
        .windows(26)
        .any(|w| w == b"strict-transport-security:")
    {
        return None;
    }
    let mut out = Vec::with_capacity(buf.len() + 256);
    out.extend_from_slice(head);
    for (name, value) in SECURITY_HEADERS {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    if !lower.windows(14).any(|w| w == b"cache-control:") {
        out.extend_from_slice(b"\r\ncache-control: no-store");
    }
    out.extend_from_slice(buf.get(end..)?);
    Some(out)
}

impl<T: AsyncWrite + Unpin> ErrorHeads<T> {
    /// Writes what is pending; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ErrorHeads<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ErrorHeads<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        match rewrite(buf) {
            None => Pin::new(&mut self.inner).poll_write(cx, buf),
            Some(head) => {
                // The whole of `buf` is taken over; what `inner` does not accept now is written
                // before anything else, and on flush.
                self.pending = head;
                if let Poll::Ready(Err(e)) = self.drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands each head over in one buffer (its "flatten" strategy),
    // which is what `rewrite` looks at.
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn only_heads_hyper_writes_itself_are_rewritten() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(rewrite(hyper).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\nstrict-transport-security: max-age="));
        assert!(out.contains("\r\nx-content-type-options: nosniff"));
        assert!(out.ends_with("\r\ncache-control: no-store\r\n\r\n"));
        // Ours already carry the headers; other statuses and body bytes are not heads hyper
        // wrote.
        let ours = b"HTTP/1.1 400 Bad Request\r\nstrict-transport-security: max-age=1\r\n\r\n{}";
        assert_eq!(rewrite(ours), None);
        assert_eq!(rewrite(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(rewrite(b"{\"error\":\"HTTP/1.1 400 \"}"), None);
        assert_eq!(rewrite(b"HTTP/1.1 400 Bad Request\r\nno end"), None);
    }

    #[tokio::test]
    async fn a_rewritten_head_survives_a_writer_that_takes_a_few_bytes_at_a_time() {
        let (client, mut server) = tokio::io::duplex(7);
        let mut w = ErrorHeads::new(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut out)
                .await
                .unwrap();
            out
        });
        w.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        w.write_all(b"after").await.unwrap();
        w.shutdown().await.unwrap();
        drop(w);
        let out = String::from_utf8(reader.await.unwrap()).unwrap();
        assert!(out.contains("strict-transport-security"), "{out}");
        assert!(out.ends_with("\r\n\r\nafter"), "{out}");
    }
}
