//! Wire encodings of container output and JSON message streams.

use bytes::{BufMut, Bytes, BytesMut};
use chrono::SecondsFormat;
use futures::{Stream, StreamExt};
use serde::Serialize;

use super::{OutputChunk, OutputStream, stdcopy};
use crate::version::ApiVersion;

/// `Content-Type` of raw (TTY) output.
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// `Content-Type` of stdcopy-framed output (API ≥ 1.42).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// The content type dockerd announces for attach/exec/logs output: before
/// API 1.42 it said raw-stream even for multiplexed bodies.
pub fn output_content_type(tty: bool, version: ApiVersion) -> &'static str {
    if !tty && version.at_least(1, 42) {
        MULTIPLEXED_STREAM
    } else {
        RAW_STREAM
    }
}

/// Encodes one chunk: raw with a TTY, stdcopy-framed without, optionally
/// prefixed (inside the frame) with dockerd's fixed-width RFC3339Nano
/// timestamp and a space, as `docker logs -t` prints it.
pub fn encode_chunk(chunk: &OutputChunk, tty: bool, timestamps: bool) -> Bytes {
    let payload = if timestamps {
        let ts = chunk.timestamp.unwrap_or_else(chrono::Utc::now);
        let mut b = BytesMut::with_capacity(chunk.data.len() + 32);
        b.put_slice(ts.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
        b.put_u8(b' ');
        b.put_slice(&chunk.data);
        b.freeze()
    } else {
        chunk.data.clone()
    };
    if tty {
        payload
    } else {
        stdcopy::encode(chunk.stream, &payload)
    }
}

/// Encodes a whole output stream (see [`encode_chunk`]), skipping empty chunks.
pub fn encode_output(
    output: OutputStream,
    tty: bool,
    timestamps: bool,
) -> impl Stream<Item = Bytes> + Send + 'static {
    output.filter_map(move |chunk| {
        let bytes = encode_chunk(&chunk, tty, timestamps);
        futures::future::ready((!bytes.is_empty()).then_some(bytes))
    })
}

/// Serialises each item as one JSON document followed by `sep` (events use
/// `\n` like Go's json.Encoder; progress streams use `\r\n` like moby's
/// streamformatter). A serialisation failure ends the stream with an
/// in-band error document, since the status line is already sent.
pub fn json_lines<T, S>(items: S, sep: &'static str) -> impl Stream<Item = Bytes> + Send + 'static
where
    T: Serialize + Send + 'static,
    S: Stream<Item = T> + Send + 'static,
{
    items.map(move |item| {
        let mut line = serde_json::to_vec(&item).unwrap_or_else(|e| {
            serde_json::to_vec(&serde_json::json!({
                "errorDetail": { "message": e.to_string() },
                "error": e.to_string(),
            }))
            .unwrap_or_default()
        });
        line.extend_from_slice(sep.as_bytes());
        Bytes::from(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StdStream;
    use chrono::TimeZone;

    fn chunk(data: &'static [u8]) -> OutputChunk {
        OutputChunk {
            stream: StdStream::Stderr,
            data: Bytes::from_static(data),
            timestamp: Some(chrono::Utc.timestamp_opt(1_700_000_000, 5_000).unwrap()),
        }
    }

    #[test]
    fn tty_is_raw_and_timestamps_are_fixed_width() {
        let b = encode_chunk(&chunk(b"hi\n"), true, true);
        assert_eq!(&b[..], b"2023-11-14T22:13:20.000005000Z hi\n");
        let b = encode_chunk(&chunk(b"hi\n"), true, false);
        assert_eq!(&b[..], b"hi\n");
    }

    #[test]
    fn non_tty_is_framed_around_the_timestamp() {
        let b = encode_chunk(&chunk(b"hi\n"), false, true);
        assert_eq!(b[0], 2);
        assert_eq!(&b[8..], b"2023-11-14T22:13:20.000005000Z hi\n");
    }

    #[test]
    fn content_type_depends_on_version() {
        assert_eq!(
            output_content_type(false, ApiVersion::MAX),
            MULTIPLEXED_STREAM
        );
        assert_eq!(
            output_content_type(false, ApiVersion::new(1, 41)),
            RAW_STREAM
        );
        assert_eq!(output_content_type(true, ApiVersion::MAX), RAW_STREAM);
    }
}
