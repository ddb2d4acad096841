//! Watches the bytes a client sends for the places where a server without a deadline waits:
//! the HTTP/2 connection preface and an unfinished header block.
//!
//! The scanner reads only the 9-byte frame headers (RFC 9113 §4.1) and skips payloads; hyper's
//! `h2` does the real parsing. It answers one question, [`H2Scan::awaiting_head`]: has the
//! client begun something that must be finished before the server can act on it? That is the
//! preface (§3.4) until all 24 bytes arrived, and a header block from its HEADERS frame until
//! the end of the frame that carries END_HEADERS (§6.2, §6.10). While one is open, other
//! frames cannot come in between (§6.10), so a client that stops there holds the connection
//! without ever making a request: the deadline in [`super::read_deadline`] closes it.

/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER_LEN: usize = 9;
const TYPE_HEADERS: u8 = 0x1;
const TYPE_PUSH_PROMISE: u8 = 0x5;
const TYPE_CONTINUATION: u8 = 0x9;
const FLAG_END_HEADERS: u8 = 0x4;

/// The scanner's state; feed it every byte the client sends, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2Scan {
    state: State,
    /// A header block has begun and its END_HEADERS frame is not complete.
    in_block: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Preface {
        seen: usize,
    },
    FrameHeader {
        buf: [u8; FRAME_HEADER_LEN],
        have: usize,
    },
    Payload {
        left: u32,
        ends_block: bool,
    },
    /// Not HTTP/2: a sniffed HTTP/1.1 connection (whose header deadline hyper enforces itself)
    /// or a wrong preface (which h2 refuses by closing the connection).
    Off,
}

impl Default for H2Scan {
    fn default() -> Self {
        Self::new()
    }
}

impl H2Scan {
    pub fn new() -> Self {
        Self {
            state: State::Preface { seen: 0 },
            in_block: false,
        }
    }

    /// True while the client owes the rest of the preface or of a header block.
    pub fn awaiting_head(&self) -> bool {
        match self.state {
            State::Preface { .. } => true,
            State::Off => false,
            State::FrameHeader { .. } | State::Payload { .. } => self.in_block,
        }
    }

    /// Consumes the next bytes from the client.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while let Some((&first, rest)) = bytes.split_first() {
            if let State::Payload { left, ends_block } = &mut self.state {
                // Skip payloads in bulk: only their length matters.
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                *left -= u32::try_from(n).unwrap_or(*left);
                if *left == 0 {
                    let ends = *ends_block;
                    self.frame_done(ends);
                }
                bytes = bytes.get(n..).unwrap_or_default();
                continue;
            }
            self.push(first);
            bytes = rest;
        }
    }

    /// One byte of the preface or of a frame header.
    fn push(&mut self, byte: u8) {
        match &mut self.state {
            State::Off | State::Payload { .. } => {}
            State::Preface { seen } => {
                if H2_PREFACE.get(*seen) != Some(&byte) {
                    self.state = State::Off;
                    return;
                }
                *seen += 1;
                if *seen == H2_PREFACE.len() {
                    self.next_frame();
                }
            }
            State::FrameHeader { buf, have } => {
                if let Some(slot) = buf.get_mut(*have) {
                    *slot = byte;
                }
                *have += 1;
                if *have == FRAME_HEADER_LEN {
                    let header = *buf;
                    self.frame_started(&header);
                }
            }
        }
    }

    fn next_frame(&mut self) {
        self.state = State::FrameHeader {
            buf: [0; FRAME_HEADER_LEN],
            have: 0,
        };
    }

    fn frame_started(&mut self, header: &[u8; FRAME_HEADER_LEN]) {
        let [l0, l1, l2, kind, flags, ..] = *header;
        let len = u32::from_be_bytes([0, l0, l1, l2]);
        let ends_block = match kind {
            TYPE_HEADERS | TYPE_PUSH_PROMISE | TYPE_CONTINUATION => {
                // A CONTINUATION outside a block is h2's protocol error to report; it still
                // counts as header data until its END_HEADERS.
                self.in_block = true;
                flags & FLAG_END_HEADERS != 0
            }
            // Any other frame inside a block is a protocol error (§6.10) that h2 answers by
            // closing the connection; nothing is owed after it.
            _ => {
                self.in_block = false;
                false
            }
        };
        if len == 0 {
            self.frame_done(ends_block);
        } else {
            self.state = State::Payload {
                left: len,
                ends_block,
            };
        }
    }

    fn frame_done(&mut self, ends_block: bool) {
        if ends_block {
            self.in_block = false;
        }
        self.next_frame();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn settings() -> Vec<u8> {
        frame(0x4, 0, 0, &[])
    }

    fn after_preface(frames: &[Vec<u8>]) -> H2Scan {
        let mut scan = H2Scan::new();
        scan.feed(H2_PREFACE);
        for f in frames {
            scan.feed(f);
        }
        scan
    }

    #[test]
    fn the_preface_is_owed_until_its_last_byte() {
        let mut scan = H2Scan::new();
        assert!(scan.awaiting_head());
        scan.feed(&H2_PREFACE[..23]);
        assert!(scan.awaiting_head());
        scan.feed(&H2_PREFACE[23..]);
        assert!(!scan.awaiting_head());
    }

    #[test]
    fn a_sniffed_http1_request_stops_the_scan() {
        let mut scan = H2Scan::new();
        scan.feed(b"GET / HTTP/1.1\r\n");
        assert!(!scan.awaiting_head());
        assert_eq!(scan.state, State::Off);
    }

    #[test]
    fn a_complete_headers_frame_owes_nothing() {
        let scan = after_preface(&[settings(), frame(TYPE_HEADERS, 0x4 | 0x1, 1, b"abc")]);
        assert!(!scan.awaiting_head());
    }

    #[test]
    fn headers_without_end_headers_owe_a_continuation() {
        let mut scan = after_preface(&[settings(), frame(TYPE_HEADERS, 0x1, 1, b"abc")]);
        assert!(scan.awaiting_head());
        scan.feed(&frame(TYPE_CONTINUATION, 0, 1, b"d"));
        assert!(scan.awaiting_head(), "a CONTINUATION without END_HEADERS");
        scan.feed(&frame(TYPE_CONTINUATION, 0x4, 1, b"e"));
        assert!(!scan.awaiting_head());
    }

    #[test]
    fn a_headers_frame_is_owed_until_its_payload_is_complete() {
        let f = frame(TYPE_HEADERS, 0x4, 1, &[0u8; 100]);
        let mut scan = after_preface(&[settings()]);
        scan.feed(&f[..50]);
        assert!(scan.awaiting_head(), "payload trickling in");
        scan.feed(&f[50..]);
        assert!(!scan.awaiting_head());
    }

    #[test]
    fn data_and_pings_owe_nothing() {
        let scan = after_preface(&[
            settings(),
            frame(0x6, 0, 0, &[0; 8]),
            frame(0x0, 0, 1, b"body"),
            frame(0x8, 0, 0, &[0, 0, 1, 0]),
        ]);
        assert!(!scan.awaiting_head());
    }

    #[test]
    fn a_header_frame_split_inside_its_frame_header_is_owed() {
        let f = frame(TYPE_HEADERS, 0, 1, b"x");
        let mut scan = after_preface(&[settings()]);
        scan.feed(&f[..4]);
        assert!(!scan.awaiting_head(), "the type byte has not arrived yet");
        scan.feed(&f[4..]);
        assert!(scan.awaiting_head());
    }

    proptest! {
        /// Untrusted bytes: never panics, and any split into chunks gives the same answer as
        /// the whole (the scanner keeps no state that depends on how reads were cut).
        #[test]
        fn chunking_never_changes_the_answer(
            with_preface in any::<bool>(),
            body in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut bytes = if with_preface { H2_PREFACE.to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&body);
            let mut whole = H2Scan::new();
            whole.feed(&bytes);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = H2Scan::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pieces.feed(&bytes[at..cut]);
                at = cut;
            }
            prop_assert_eq!(pieces.awaiting_head(), whole.awaiting_head());
            prop_assert_eq!(pieces, whole);
        }
    }
}
