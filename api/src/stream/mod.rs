//! Streaming shapes shared by logs, attach, exec, events and image transfer.
//!
//! Backends hand the routers plain streams of [`OutputChunk`]s; the routers
//! decide the wire framing (stdcopy multiplexing when there is no TTY, raw
//! bytes with one). `stdcopy` holds the 8-byte frame header codec and
//! `upgrade` the HTTP hijack used by attach and exec start; `output` the
//! body encodings (framed output with timestamps, JSON lines); `detach` the
//! detach-keys notation and input scanner.

pub mod detach;
pub mod output;
pub mod peer;
pub mod stdcopy;
pub mod upgrade;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use tokio::io::AsyncWrite;

/// Which standard stream a chunk belongs to (the stdcopy stream byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// 0
    Stdin = 0,
    /// 1
    Stdout = 1,
    /// 2
    Stderr = 2,
    /// 3: moby's systemErr, an error of the daemon itself in the middle of a
    /// stream (service logs that could not be read from a node).
    Systemerr = 3,
}

/// A piece of container output.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    /// stdout or stderr (with a TTY, always stdout).
    pub stream: StdStream,
    /// The bytes as the process wrote them.
    pub data: Bytes,
    /// When the engine read them (logs with `timestamps=1` print it).
    pub timestamp: Option<DateTime<Utc>>,
}

/// Output of a container or exec, ending when the process (or the log) ends.
pub type OutputStream = BoxStream<'static, OutputChunk>;

/// A stream of raw bytes (archives, exports); an error ends it.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Where client input goes. Shutting it down closes the process's stdin.
pub type StdinSink = Box<dyn AsyncWrite + Send + Unpin>;

/// The two directions of an attach or exec session.
pub struct AttachIo {
    /// With a TTY the output is raw; without, it is stdcopy-framed.
    pub tty: bool,
    /// What the process writes.
    pub output: OutputStream,
    /// Where client input goes, when stdin was requested and is open.
    pub stdin: Option<StdinSink>,
    /// The sequence in client input that ends the session (with stdin);
    /// the process keeps running.
    pub detach_keys: Vec<u8>,
    /// Called once when the client detached with the keys.
    pub on_detach: Option<Box<dyn FnOnce() + Send>>,
}

impl AttachIo {
    /// Output only: no stdin, so no detach keys.
    pub fn output_only(tty: bool, output: OutputStream) -> AttachIo {
        AttachIo {
            tty,
            output,
            stdin: None,
            detach_keys: Vec::new(),
            on_detach: None,
        }
    }
}

impl std::fmt::Debug for AttachIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachIo")
            .field("tty", &self.tty)
            .field("stdin", &self.stdin.is_some())
            .field("detach_keys", &self.detach_keys)
            .finish_non_exhaustive()
    }
}
