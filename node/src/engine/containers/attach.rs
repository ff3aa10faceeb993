//! `docker attach` (and the attach `docker run`/`start -a` do first).

use std::sync::Arc;

use futures::StreamExt;
use shoal_api::routers::containers::AttachOptions;
use shoal_api::stream::{AttachIo, OutputStream, StdStream, StdinSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

use super::super::container::{Container, OutEvent};
use super::super::{Engine, EngineResult};

/// Output events as a stream that ends with the run.
pub(crate) fn live_output(
    rx: broadcast::Receiver<OutEvent>,
    stdout: bool,
    stderr: bool,
) -> OutputStream {
    futures::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(OutEvent::Chunk(c)) => {
                    let wanted = match c.stream {
                        StdStream::Stderr => stderr,
                        _ => stdout,
                    };
                    if wanted {
                        return Some((c, rx));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "attach client too slow; output dropped");
                }
                Ok(OutEvent::End) | Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// Forwards client input to the container's stdin once it is running;
/// closes it at client EOF when the container has `StdinOnce`.
fn stdin_forwarder(engine: &Engine, c: Arc<Container>, once: bool) -> StdinSink {
    let (client, mut ours) = tokio::io::duplex(64 * 1024);
    let runtime = engine.runtime().clone();
    engine.tracker().spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match ours.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // `docker run -i` attaches before start: wait for the task.
            let mut rx = c.state_tx.subscribe();
            if rx.wait_for(|s| s.running || s.removed).await.is_err() {
                return;
            }
            let mut guard = c.stdin.lock().await;
            let Some(w) = guard.as_mut() else { return };
            if w.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        if once {
            let mut guard = c.stdin.lock().await;
            if let Some(mut w) = guard.take() {
                let _ = w.shutdown().await;
                // The shim holds its own end open; only this makes the process see EOF.
                if let Err(e) = runtime.task_close_stdin(&c.id, None).await {
                    tracing::debug!(error = %e, "closing container stdin");
                }
            }
        }
    });
    Box::new(client)
}

impl Engine {
    /// `POST /containers/{id}/attach`: live output of the current (or
    /// next) run, and stdin when the container keeps it open.
    pub async fn attach(&self, key: &str, opts: AttachOptions) -> EngineResult<AttachIo> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        let rx = c.out_tx.subscribe();
        let mut output: OutputStream = if opts.stream {
            live_output(rx, opts.stdout, opts.stderr)
        } else {
            futures::stream::empty().boxed()
        };
        if opts.logs {
            let replay = self
                .logs(
                    key,
                    shoal_api::routers::containers::LogsOptions {
                        stdout: opts.stdout,
                        stderr: opts.stderr,
                        ..Default::default()
                    },
                )
                .await
                .map(|(_, s)| s)
                .unwrap_or_else(|_| futures::stream::empty().boxed());
            output = replay.chain(output).boxed();
        }
        let stdin = (opts.stdin && rec.open_stdin())
            .then(|| stdin_forwarder(self, c.clone(), rec.config.stdin_once.unwrap_or(false)));
        self.emit(&rec, "attach", &[]);
        Ok(AttachIo {
            tty: rec.tty(),
            output,
            stdin,
        })
    }
}
