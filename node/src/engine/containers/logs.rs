//! `docker logs`: replay the json-file log, then follow it while the
//! container runs. The file is the source of truth; the attach broadcast
//! only wakes followers up.

use std::path::PathBuf;

use futures::StreamExt;
use shoal_api::routers::containers::LogsOptions;
use shoal_api::stream::{OutputChunk, OutputStream, StdStream};
use tokio::sync::broadcast;

use super::super::container::OutEvent;
use super::super::logfile;
use super::super::{Engine, EngineError, EngineResult};

fn keep(c: &OutputChunk, opts: &LogsOptions) -> bool {
    let stream_ok = match c.stream {
        StdStream::Stderr => opts.stderr,
        _ => opts.stdout,
    };
    let t = c
        .timestamp
        .map(|t| t.timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9);
    let since_ok = match (opts.since, t) {
        (Some(s), Some(t)) if s > 0.0 => t >= s,
        _ => true,
    };
    let until_ok = match (opts.until, t) {
        (Some(u), Some(t)) if u > 0.0 => t <= u,
        _ => true,
    };
    stream_ok && since_ok && until_ok
}

struct Follow {
    path: PathBuf,
    offset: u64,
    rx: broadcast::Receiver<OutEvent>,
    opts: LogsOptions,
    done: bool,
}

impl Follow {
    fn read_more(&mut self) -> Vec<OutputChunk> {
        let Ok(file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Rotated under us: continue with the new file.
            self.offset = 0;
        }
        let (chunks, off) = logfile::read_from(file, self.offset);
        self.offset = off;
        chunks.into_iter().filter(|c| keep(c, &self.opts)).collect()
    }
}

impl Engine {
    /// `GET /containers/{id}/logs`; returns whether the container has a TTY.
    pub async fn logs(&self, key: &str, opts: LogsOptions) -> EngineResult<(bool, OutputStream)> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        let driver = rec
            .host_config
            .log_config
            .as_ref()
            .and_then(|l| l.typ.clone())
            .unwrap_or_default();
        if driver == "none" {
            return Err(EngineError::Invalid(
                "configured logging driver does not support reading".into(),
            ));
        }
        if !opts.stdout && !opts.stderr {
            return Err(EngineError::Invalid(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        // Subscribe before reading so nothing written in between is missed.
        let rx = c.out_tx.subscribe();
        let live = c.state_tx.borrow().running;
        let path = self.log_path(&rec.id);
        let (all, offset) = logfile::read_all(&path);
        let mut past: Vec<OutputChunk> = all.into_iter().filter(|c| keep(c, &opts)).collect();
        if let Some(n) = opts.tail {
            let start = past.len().saturating_sub(n);
            past.drain(..start);
        }
        let head = futures::stream::iter(past);
        if !opts.follow || !live {
            return Ok((rec.tty(), head.boxed()));
        }
        let until = opts.until.filter(|u| *u > 0.0);
        let follow = Follow {
            path,
            offset,
            rx,
            opts,
            done: false,
        };
        let tail = futures::stream::unfold(follow, |mut f| async move {
            loop {
                if f.done {
                    return None;
                }
                let more = f.read_more();
                if !more.is_empty() {
                    return Some((futures::stream::iter(more), f));
                }
                match f.rx.recv().await {
                    Ok(OutEvent::Chunk(_)) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Ok(OutEvent::End) | Err(broadcast::error::RecvError::Closed) => {
                        f.done = true;
                        let rest = f.read_more();
                        return Some((futures::stream::iter(rest), f));
                    }
                }
            }
        })
        .flatten();
        let stream = head.chain(tail);
        let stream: OutputStream = match until {
            Some(u) => {
                let deadline = tokio::time::Instant::now()
                    + std::time::Duration::from_secs_f64(
                        (u - chrono::Utc::now().timestamp() as f64).max(0.0),
                    );
                stream
                    .take_until(tokio::time::sleep_until(deadline))
                    .boxed()
            }
            None => stream.boxed(),
        };
        Ok((rec.tty(), stream))
    }
}
