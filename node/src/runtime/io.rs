//! FIFOs between containerd shims and the engine.
//!
//! How the runc v2 shim of containerd 1.6 uses them (`pkg/process/io.go`
//! `copyPipes`, `runtime/v2/runc/platform.go` `CopyConsole`, `init.go`
//! `openStdin`, at v1.6.20) decides the design here:
//!
//! * stdout/stderr: during the task `Create` RPC (the exec `Start` RPC for
//!   execs) the shim opens each FIFO `O_WRONLY` *blocking*, so the RPC hangs
//!   (30 s, then fails) until some reader has the FIFO open; it then opens its
//!   own `O_RDONLY` end too and holds both until the process's output reaches
//!   EOF. Because the shim keeps a read end, a reader that goes away (shoal
//!   killed with -9) never makes the container's writes fail with EPIPE: the
//!   pipe buffer fills, the process blocks, and a new reader picks up where
//!   the old one stopped. The adapter holds a short-lived reader of its own
//!   around those RPCs ([`RendezvousGuard`]) so a [`FifoReader`] can be opened
//!   before or after `task_create`.
//! * stdin: the shim opens the FIFO for reading and *also* keeps a write end
//!   open, so the process sees EOF only once every writer is gone: the
//!   client's ([`FifoWriter::shutdown`](tokio::io::AsyncWriteExt::shutdown))
//!   and the shim's, which `Runtime::task_close_stdin` (containerd `CloseIO`)
//!   closes. Callers must do both, as dockerd does.
//!
//! A FIFO read end opened `O_NONBLOCK` before any writer reads 0 bytes at
//! once, which would look like EOF. Linux suppresses `EPOLLHUP` on such a
//! reader until a writer has come (pipe `w_counter`), so [`FifoReader`] waits
//! for epoll readiness before each read: a 0-byte read then really means the
//! shim closed its write end after the process's output ended.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use nix::sys::stat::Mode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

use super::{IoPaths, RuntimeError, RuntimeResult};

fn io_err(context: impl Into<String>, source: io::Error) -> RuntimeError {
    RuntimeError::Io {
        context: context.into(),
        source,
    }
}

/// Creates `<prefix>-stdin` (when `stdin`), `<prefix>-stdout` and
/// `<prefix>-stderr` (not with a `terminal`, whose output is one stream)
/// FIFOs with mode 0600 in `dir` (created if missing). Stale FIFOs of the
/// same name are replaced.
pub fn create_fifos(
    dir: &Path,
    prefix: &str,
    stdin: bool,
    terminal: bool,
) -> RuntimeResult<IoPaths> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(format!("create {}", dir.display()), e))?;
    let make = |name: &str| -> RuntimeResult<PathBuf> {
        let path = dir.join(format!("{prefix}-{name}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("remove stale {}", path.display()), e)),
        }
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600))
            .map_err(|e| io_err(format!("mkfifo {}", path.display()), e.into()))?;
        Ok(path)
    };
    Ok(IoPaths {
        stdin: if stdin { Some(make("stdin")?) } else { None },
        stdout: Some(make("stdout")?),
        stderr: if terminal {
            None
        } else {
            Some(make("stderr")?)
        },
        terminal,
    })
}

/// Removes the FIFOs of `io` (missing ones are fine). Open readers and
/// writers keep working on the unlinked pipes.
pub fn remove_fifos(io: &IoPaths) -> RuntimeResult<()> {
    for path in [&io.stdin, &io.stdout, &io.stderr].into_iter().flatten() {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("remove {}", path.display()), e)),
        }
    }
    Ok(())
}

fn open_nonblocking(path: &Path, read: bool, write: bool) -> RuntimeResult<File> {
    OpenOptions::new()
        .read(read)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_err(format!("open fifo {}", path.display()), e))
}

/// The read side of a stdout/stderr FIFO.
///
/// Reads return `Ok(0)` only after the shim closed its write end, which it
/// does once the process has exited and all its output was copied; data
/// still buffered in the pipe is returned first. Must be opened inside a
/// tokio runtime.
///
/// Open it before the process can exit: if the shim has already closed the
/// FIFO, [`FifoReader::open`] waits for a writer that never comes (use
/// [`FifoReader::reattach`] for a process that was running earlier).
#[derive(Debug)]
pub struct FifoReader {
    // tokio's pipe waits for epoll readiness before each read(2), which is
    // what makes a 0-byte read mean EOF (see the module docs).
    rx: pipe::Receiver,
    /// Bytes read by the `reattach` probe, handed out first.
    pending: Vec<u8>,
    /// The `reattach` probe found no writer: end of output.
    eof: bool,
}

impl FifoReader {
    /// Opens a FIFO for a process that is about to be created or started
    /// (before or after `task_create` / `exec_create`). A missing writer
    /// means "not yet", never EOF.
    pub fn open(path: &Path) -> RuntimeResult<FifoReader> {
        let file = open_nonblocking(path, true, false)?;
        Self::from_file(path, file, Vec::new(), false)
    }

    /// Re-opens the FIFO of a process that was already running (e.g. after
    /// shoal restarted): if no writer holds it any more, the shim has closed
    /// it and the first read returns `Ok(0)` instead of waiting forever.
    pub fn reattach(path: &Path) -> RuntimeResult<FifoReader> {
        let mut file = open_nonblocking(path, true, false)?;
        let mut pending = vec![0u8; 64 * 1024];
        // A plain read(2) right after open tells "no writer" (0) from "writer,
        // nothing buffered" (EAGAIN); epoll would hide the former.
        let (pending, eof) = match file.read(&mut pending) {
            Ok(0) => (Vec::new(), true),
            Ok(n) => {
                pending.truncate(n);
                (pending, false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => (Vec::new(), false),
            Err(e) => return Err(io_err(format!("read fifo {}", path.display()), e)),
        };
        Self::from_file(path, file, pending, eof)
    }

    fn from_file(path: &Path, file: File, pending: Vec<u8>, eof: bool) -> RuntimeResult<Self> {
        let rx = pipe::Receiver::from_file_unchecked(file)
            .map_err(|e| io_err(format!("register fifo {}", path.display()), e))?;
        Ok(FifoReader { rx, pending, eof })
    }

    /// Reads into `buf`; `Ok(0)` means end of output (see the type docs).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_read(cx, &mut rb)).await?;
        Ok(rb.filled().len())
    }
}

impl AsyncRead for FifoReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending[..n]);
            this.pending.drain(..n);
            return Poll::Ready(Ok(()));
        }
        if this.eof {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.rx).poll_read(cx, buf)
    }
}

/// The write side of a stdin FIFO.
///
/// Opened read-write so it never blocks or fails for want of a reader (the
/// shim opens its end during `task_create`/`exec_start`), and so writes
/// never raise EPIPE. `shutdown()` closes it; the process sees EOF once the
/// shim's own writer is closed too (`Runtime::task_close_stdin`).
#[derive(Debug)]
pub struct FifoWriter {
    tx: Option<pipe::Sender>,
}

impl FifoWriter {
    /// Opens the stdin FIFO at `path`. Must be called inside a tokio runtime.
    pub fn open(path: &Path) -> RuntimeResult<FifoWriter> {
        let file = open_nonblocking(path, true, true)?;
        let tx = pipe::Sender::from_file_unchecked(file)
            .map_err(|e| io_err(format!("register fifo {}", path.display()), e))?;
        Ok(FifoWriter { tx: Some(tx) })
    }
}

impl AsyncWrite for FifoWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().tx.as_mut() {
            Some(tx) => Pin::new(tx).poll_write(cx, buf),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "stdin fifo already closed",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no user-space buffer: every write already reached the kernel.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // tokio's Sender::poll_shutdown keeps the fd; dropping it is the close.
        self.get_mut().tx = None;
        Poll::Ready(Ok(()))
    }
}

/// Read ends held by the adapter while the shim opens its stdout/stderr
/// write ends (blocking `open(O_WRONLY)` inside task `Create` / exec
/// `Start`), so those RPCs never wait for the engine's [`FifoReader`].
/// Dropping it is harmless afterwards: the shim holds its own read end.
#[derive(Debug)]
pub(crate) struct RendezvousGuard {
    _files: Vec<File>,
}

impl RendezvousGuard {
    /// Opens a non-blocking read end of every output FIFO in `io`.
    pub(crate) fn open(io: &IoPaths) -> RuntimeResult<RendezvousGuard> {
        let mut files = Vec::new();
        for path in [&io.stdout, &io.stderr].into_iter().flatten() {
            files.push(open_nonblocking(path, true, false)?);
        }
        Ok(RendezvousGuard { _files: files })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;

    use super::*;

    #[test]
    fn creates_fifos_by_mode() {
        let dir = tempfile::tempdir().unwrap();
        let io = create_fifos(dir.path(), "init", true, false).unwrap();
        for p in [&io.stdin, &io.stdout, &io.stderr] {
            let p = p.as_ref().unwrap();
            let meta = std::fs::metadata(p).unwrap();
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            assert!(meta.file_type().is_fifo());
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        assert!(io.stdout.as_ref().unwrap().ends_with("init-stdout"));
        let tty = create_fifos(dir.path(), "exec1", false, true).unwrap();
        assert!(tty.stdin.is_none() && tty.stderr.is_none() && tty.terminal);
        // Re-creating over stale FIFOs works.
        create_fifos(dir.path(), "init", true, false).unwrap();
        remove_fifos(&io).unwrap();
        assert!(!io.stdout.as_ref().unwrap().exists());
    }

    #[tokio::test]
    async fn reader_waits_for_first_writer_then_sees_eof() {
        let dir = tempfile::tempdir().unwrap();
        let io = create_fifos(dir.path(), "t", false, false).unwrap();
        let path = io.stdout.clone().unwrap();
        let mut reader = FifoReader::open(&path).unwrap();
        let mut buf = [0u8; 16];
        // No writer yet: the read must wait, not return Ok(0).
        let early = tokio::time::timeout(Duration::from_millis(200), reader.read(&mut buf)).await;
        assert!(early.is_err(), "read returned before any writer: {early:?}");

        use std::io::Write;
        let mut writer = OpenOptions::new().write(true).open(&path).unwrap();
        writer.write_all(b"hello").unwrap();
        drop(writer);
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn reattach_reports_eof_when_no_writer() {
        let dir = tempfile::tempdir().unwrap();
        let io = create_fifos(dir.path(), "t", false, false).unwrap();
        let mut reader = FifoReader::reattach(io.stdout.as_ref().unwrap()).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn writer_shutdown_gives_eof_to_reader() {
        let dir = tempfile::tempdir().unwrap();
        let io = create_fifos(dir.path(), "t", true, false).unwrap();
        let path = io.stdin.clone().unwrap();
        let mut writer = FifoWriter::open(&path).unwrap();
        let mut reader = FifoReader::open(&path).unwrap();
        writer.write_all(b"abc").await.unwrap();
        writer.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abc");
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
        assert!(writer.write_all(b"x").await.is_err());
    }
}
