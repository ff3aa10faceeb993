//! `docker attach` (and the attach `docker run`/`start -a` do first).

use std::sync::Arc;

use futures::StreamExt;
use shoal_api::routers::containers::AttachOptions;
use shoal_api::stream::{AttachIo, OutputStream, StdStream, StdinSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::super::container::{Container, OutEvent};
use super::super::{Engine, EngineError, EngineResult};

/// Output events of a hub reader as a stream that ends with the run.
pub(crate) fn live_output(
    rx: mpsc::Receiver<OutEvent>,
    stdout: bool,
    stderr: bool,
) -> OutputStream {
    futures::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Some(OutEvent::Chunk(c)) => {
                    let wanted = match c.stream {
                        StdStream::Stderr => stderr,
                        _ => stdout,
                    };
                    if wanted {
                        return Some((c, rx));
                    }
                }
                Some(OutEvent::End) | None => return None,
            }
        }
    })
    .boxed()
}

/// Forwards client input to the container's stdin once it is running;
/// closes it at client EOF (or detach) when the container has `StdinOnce`
/// and no TTY, as dockerd does (with a TTY, closing stdin would hang up
/// the terminal).
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
        let detach_keys = shoal_api::stream::detach::parse_detach_keys(opts.detach_keys.as_deref())
            .map_err(EngineError::Invalid)?;
        let mut output: OutputStream = if opts.stream {
            live_output(c.out.subscribe(), opts.stdout, opts.stderr)
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
        let stdin = (opts.stdin && rec.open_stdin()).then(|| {
            let once = rec.config.stdin_once.unwrap_or(false) && !rec.tty();
            stdin_forwarder(self, c.clone(), once)
        });
        self.emit(&rec, "attach", &[]);
        let on_detach: Box<dyn FnOnce() + Send> = {
            let engine = self.clone();
            let c = c.clone();
            Box::new(move || engine.emit(&c.snapshot(), "detach", &[]))
        };
        Ok(AttachIo {
            tty: rec.tty(),
            output,
            stdin,
            detach_keys,
            on_detach: Some(on_detach),
        })
    }
}
