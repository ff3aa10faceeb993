//! The `journald` log driver: each output line becomes one journal entry, sent over
//! systemd-journald's native protocol (datagrams of `KEY=value` fields on
//! `/run/systemd/journal/socket`), with dockerd's fields:
//!
//! ```text
//! MESSAGE            the line (without its newline)
//! CONTAINER_ID       12-character ID        CONTAINER_ID_FULL  full ID
//! CONTAINER_NAME     name without '/'       CONTAINER_TAG      expanded `tag` (default {{.ID}})
//! SYSLOG_IDENTIFIER  the same tag           IMAGE_NAME         image as given
//! PRIORITY           6 (info) for stdout, 3 (err) for stderr
//! ```
//!
//! The protocol is a few lines (systemd's `journal-native-protocol` document): a field is
//! `KEY=value\n`, or, when the value holds a newline, `KEY\n` + the value's length as a
//! little-endian u64 + the value + `\n`. No crate: `libsystemd` would bring its own socket
//! and error types for these few bytes, and the socket path must be configurable for tests.
//!
//! `docker logs` reads the dual-logging cache (local format), as for syslog.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use shoal_api::stream::{OutputChunk, StdStream};

/// Where systemd-journald listens for native-protocol datagrams.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";
/// How long one send may block when journald is slow.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

static SOCKET: OnceLock<PathBuf> = OnceLock::new();

/// Sets the journal socket for this process (the daemon's hidden `--journald-socket`
/// flag, used by tests); call before the first container is created. Later calls are
/// ignored: the journal does not move while the daemon runs.
pub fn set_socket(path: PathBuf) {
    let _ = SOCKET.set(path);
}

/// The journal socket this daemon sends to.
pub fn socket() -> &'static Path {
    SOCKET.get_or_init(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Whether journald is there to receive (its socket exists).
pub fn available() -> bool {
    socket().exists()
}

/// The container facts the entries carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFields {
    /// Full container ID.
    pub id: String,
    /// Name without the slash.
    pub name: String,
    /// Expanded tag.
    pub tag: String,
    /// Image as given.
    pub image_name: String,
}

/// One container's connection to the journal.
#[derive(Debug)]
pub struct JournalWriter {
    sock: UnixDatagram,
    /// The fields every entry of this container carries, pre-encoded.
    common: Vec<u8>,
}

/// Appends one field in the native format.
fn field(buf: &mut Vec<u8>, key: &str, value: &[u8]) {
    buf.extend_from_slice(key.as_bytes());
    if value.contains(&b'\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        buf.push(b'=');
    }
    buf.extend_from_slice(value);
    buf.push(b'\n');
}

impl JournalWriter {
    /// Connects to the journal socket (missing journald fails the container's start).
    pub fn connect(fields: &JournalFields) -> std::io::Result<JournalWriter> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(socket())?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut common = Vec::new();
        let short: String = fields.id.chars().take(12).collect();
        field(&mut common, "CONTAINER_ID", short.as_bytes());
        field(&mut common, "CONTAINER_ID_FULL", fields.id.as_bytes());
        field(&mut common, "CONTAINER_NAME", fields.name.as_bytes());
        field(&mut common, "CONTAINER_TAG", fields.tag.as_bytes());
        field(&mut common, "IMAGE_NAME", fields.image_name.as_bytes());
        field(&mut common, "SYSLOG_IDENTIFIER", fields.tag.as_bytes());
        Ok(JournalWriter { sock, common })
    }

    /// The datagram for one line.
    fn entry(&self, stream: StdStream, line: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.common.len() + line.len() + 32);
        field(&mut buf, "MESSAGE", line);
        // info for stdout, err for stderr, as dockerd.
        let priority: &[u8] = if stream == StdStream::Stderr {
            b"3"
        } else {
            b"6"
        };
        field(&mut buf, "PRIORITY", priority);
        buf.extend_from_slice(&self.common);
        buf
    }

    /// Sends each line of `chunk` as one entry (empty lines are skipped, as dockerd).
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        for line in chunk.data.split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            self.sock.send(&self.entry(chunk.stream, line))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_use_the_binary_form_only_for_values_with_newlines() {
        let mut buf = Vec::new();
        field(&mut buf, "A", b"plain");
        field(&mut buf, "B", b"two\nlines");
        let mut want = b"A=plain\nB\n".to_vec();
        want.extend_from_slice(&9u64.to_le_bytes());
        want.extend_from_slice(b"two\nlines\n");
        assert_eq!(buf, want);
    }
}
