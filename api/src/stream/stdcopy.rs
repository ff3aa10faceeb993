//! stdcopy framing: Docker's multiplexed stdout/stderr stream.
//!
//! Without a TTY, attach, exec and logs interleave the streams in one byte
//! stream; each frame is an 8-byte header `[stream, 0, 0, 0, len (u32 BE)]`
//! followed by `len` bytes of payload (moby `pkg/stdcopy`).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::StdStream;

/// Size of a frame header.
pub const HEADER_LEN: usize = 8;

/// Encodes `data` as one or more frames of `stream` (several only when the
/// payload exceeds `u32::MAX`). Empty data encodes to nothing: a zero-length
/// frame carries no information and old clients mis-handle it.
pub fn encode(stream: StdStream, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + HEADER_LEN);
    for piece in data.chunks(u32::MAX as usize) {
        out.put_u8(stream as u8);
        out.put_bytes(0, 3);
        // `chunks` bounds every piece by u32::MAX.
        out.put_u32(piece.len() as u32);
        out.put_slice(piece);
    }
    out.freeze()
}

/// Why a multiplexed stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The stream byte was not 0, 1, 2 (or 3, moby's systemErr).
    #[error("unrecognized stdcopy stream byte {0}")]
    BadStream(u8),
}

/// Incremental decoder for a multiplexed stream (clients, tests).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Returns the next complete frame, `Ok(None)` when more bytes are needed.
    /// moby's stream 3 (systemErr: daemon errors after hijack) decodes as
    /// stderr.
    pub fn next_frame(&mut self) -> Result<Option<(StdStream, Bytes)>, DecodeError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let stream = match self.buf[0] {
            0 => StdStream::Stdin,
            1 => StdStream::Stdout,
            2 | 3 => StdStream::Stderr,
            b => return Err(DecodeError::BadStream(b)),
        };
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        Ok(Some((stream, self.buf.split_to(len).freeze())))
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let f = encode(StdStream::Stderr, b"hello");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"hello");
        let f = encode(StdStream::Stdout, &[7u8; 300]);
        assert_eq!(&f[..8], &[1, 0, 0, 0, 0, 0, 1, 44]);
        assert_eq!(f.len(), 308);
    }

    #[test]
    fn empty_payload_writes_nothing() {
        assert!(encode(StdStream::Stdout, b"").is_empty());
    }

    #[test]
    fn decode_round_trip_across_split_reads() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&encode(StdStream::Stdout, b"out1"));
        wire.extend_from_slice(&encode(StdStream::Stderr, b"err"));
        wire.extend_from_slice(&encode(StdStream::Stdout, b"out2\n"));
        let mut d = Decoder::new();
        let mut got = Vec::new();
        // Feed one byte at a time: frames must only appear when complete.
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(frame) = d.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(d.pending(), 0);
        assert_eq!(
            got,
            vec![
                (StdStream::Stdout, Bytes::from_static(b"out1")),
                (StdStream::Stderr, Bytes::from_static(b"err")),
                (StdStream::Stdout, Bytes::from_static(b"out2\n")),
            ]
        );
    }

    #[test]
    fn bad_stream_byte_is_an_error() {
        let mut d = Decoder::new();
        d.push(&[9, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert_eq!(d.next_frame(), Err(DecodeError::BadStream(9)));
    }
}
