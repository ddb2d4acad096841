//! Just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541) to send frames a well-behaved client
//! library never would: a header block left open, a preface trickled byte by byte.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const HEADERS: u8 = 0x1;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A GET header block: static-table `:method GET` and `:scheme https`, literal `:path` and
/// `:authority` (literal header field without indexing, RFC 7541 §6.2.2).
pub fn get_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x87];
    for (index, value) in [(4u8, path), (1u8, "localhost")] {
        block.push(index);
        block.push(u8::try_from(value.len()).unwrap());
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// The preface and an empty SETTINGS frame.
pub async fn open<S: AsyncWrite + Unpin>(s: &mut S) {
    s.write_all(PREFACE).await.unwrap();
    s.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
}

/// The next frame, or `None` when the connection closed.
pub async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Option<Frame> {
    let mut head = [0u8; 9];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// Reads frames as a live client would — acknowledging SETTINGS and PINGs — until `until`
/// matches one (returned) or the connection closes (`None`).
pub async fn serve_until<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    mut until: impl FnMut(&Frame) -> bool,
) -> Option<Frame> {
    loop {
        let f = read_frame(s).await?;
        if until(&f) {
            return Some(f);
        }
        let ack = match f.kind {
            SETTINGS if f.flags & ACK == 0 => frame(SETTINGS, ACK, 0, &[]),
            PING if f.flags & ACK == 0 => frame(PING, ACK, 0, &f.payload),
            _ => continue,
        };
        if s.write_all(&ack).await.is_err() {
            return None;
        }
    }
}
