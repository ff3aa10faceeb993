//! Output pumps: copy a task's stdout/stderr FIFOs into the json-file log
//! and to attached clients, for one run of a container or one exec.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use shoal_api::stream::{OutputChunk, StdStream};
use tokio::sync::watch;

use crate::runtime::io::FifoReader;
use crate::runtime::{IoPaths, RuntimeResult};

use super::container::OutEvent;
use super::hub::OutputHub;
use super::logdriver::{FileLog, RemoteLog};

/// Where pumped output goes.
#[derive(Debug, Clone)]
pub struct Sinks {
    /// The container's readable log (its driver's file or the dual-logging cache).
    pub log: Option<Arc<Mutex<FileLog>>>,
    /// A driver that ships output elsewhere (syslog, journald).
    pub remote: Option<Arc<Mutex<RemoteLog>>>,
    /// Live readers.
    pub out: Arc<OutputHub>,
    /// Bumped after each chunk appended to the log (wakes log followers).
    pub log_seq: Option<Arc<watch::Sender<u64>>>,
}

/// Opens the output FIFOs of `io` and copies them to `sinks` until the
/// process has exited and everything was read; then sends [`OutEvent::End`].
/// The returned receiver turns `true` at that point.
/// `reattach` is for a process that was already running before this
/// daemon started (its FIFOs may already be closed by the shim).
pub fn spawn(
    tracker: &tokio_util::task::TaskTracker,
    io: &IoPaths,
    sinks: Sinks,
    span: tracing::Span,
    reattach: bool,
) -> RuntimeResult<watch::Receiver<bool>> {
    let open = |p: &Path| {
        if reattach {
            FifoReader::reattach(p)
        } else {
            FifoReader::open(p)
        }
    };
    let mut readers = Vec::new();
    if let Some(p) = &io.stdout {
        readers.push((StdStream::Stdout, open(p)?));
    }
    if let Some(p) = &io.stderr {
        readers.push((StdStream::Stderr, open(p)?));
    }
    let (done_tx, done_rx) = watch::channel(false);
    let mut handles = Vec::new();
    for (stream, reader) in readers {
        let sinks = sinks.clone();
        handles.push(tracker.spawn(tracing::Instrument::instrument(
            copy(stream, reader, sinks),
            span.clone(),
        )));
    }
    tracker.spawn(tracing::Instrument::instrument(
        async move {
            for h in handles {
                let _ = h.await;
            }
            sinks.out.publish(OutEvent::End).await;
            let _ = done_tx.send(true);
        },
        span,
    ));
    Ok(done_rx)
}

async fn copy(stream: StdStream, mut reader: FifoReader, sinks: Sinks) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "reading container output");
                break;
            }
        };
        let chunk = OutputChunk {
            stream,
            data: Bytes::copy_from_slice(&buf[..n]),
            timestamp: Some(chrono::Utc::now()),
        };
        if let Some(log) = &sinks.log {
            let res = match log.lock() {
                Ok(mut w) => w.write(&chunk),
                Err(p) => p.into_inner().write(&chunk),
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, "writing container log");
            }
            if let Some(seq) = &sinks.log_seq {
                seq.send_modify(|n| *n += 1);
            }
        }
        if let Some(remote) = &sinks.remote {
            let mut w = remote.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = w.write(&chunk) {
                // The cache (when enabled) still has the line for `docker logs`.
                tracing::warn!(error = %e, driver = w.driver(), "shipping container output");
            }
        }
        sinks.out.publish(OutEvent::Chunk(chunk)).await;
    }
}
