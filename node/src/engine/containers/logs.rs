//! `docker logs`: replay the json-file log, then follow it while the
//! container runs. The file is the source of truth; the container's
//! `log_seq` only wakes followers up, and a follow ends once the exit of the
//! run is recorded (so a client that inspects right after sees it exited,
//! as with dockerd) and the rest of the file was read.

use std::path::PathBuf;

use futures::StreamExt;
use shoal_api::routers::containers::LogsOptions;
use shoal_api::stream::{OutputChunk, OutputStream, StdStream};
use tokio::sync::watch;

use super::super::container::WaitState;
use super::super::logdriver::{self, Format};
use super::super::{Engine, EngineError, EngineResult};

fn keep(c: &OutputChunk, opts: &LogsOptions) -> bool {
    let stream_ok = match c.stream {
        StdStream::Stderr => opts.stderr,
        _ => opts.stdout,
    };
    let t = c
        .timestamp
        .and_then(|t| t.timestamp_nanos_opt())
        .map(i128::from);
    let since_ok = match (opts.since, t) {
        (Some(s), Some(t)) => t >= s,
        _ => true,
    };
    let until_ok = match (opts.until, t) {
        (Some(u), Some(t)) => t <= u,
        _ => true,
    };
    stream_ok && since_ok && until_ok
}

struct Follow {
    path: PathBuf,
    format: Format,
    offset: u64,
    seq: watch::Receiver<u64>,
    state: watch::Receiver<WaitState>,
    /// `WaitState::exits` when the follow began: the run ends after it.
    exits: u64,
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
        let (chunks, off) = logdriver::read_from(file, self.offset, self.format);
        self.offset = off;
        chunks.into_iter().filter(|c| keep(c, &self.opts)).collect()
    }
}

impl Engine {
    /// `GET /containers/{id}/logs`; returns whether the container has a TTY.
    pub async fn logs(&self, key: &str, opts: LogsOptions) -> EngineResult<(bool, OutputStream)> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        let Some((path, format)) = self.log_file(&rec)? else {
            return Err(EngineError::Invalid(
                "configured logging driver does not support reading".into(),
            ));
        };
        if !opts.stdout && !opts.stderr {
            return Err(EngineError::Invalid(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        // Subscribe before reading so nothing written in between is missed.
        let seq = c.log_seq.subscribe();
        let state = c.state_tx.subscribe();
        let (live, exits) = {
            let s = state.borrow();
            (s.running && !s.removed, s.exits)
        };
        // `--tail N` of both streams reads only the end of the log; with stream or time
        // filters the tail is taken after filtering, so everything is read.
        let unfiltered = opts.stdout && opts.stderr && opts.since.is_none() && opts.until.is_none();
        let (past, offset) = match opts.tail {
            Some(n) if unfiltered => logdriver::read_tail(&path, format, n),
            _ => {
                let (all, offset) = logdriver::read_all(&path, format);
                let mut past: Vec<OutputChunk> =
                    all.into_iter().filter(|c| keep(c, &opts)).collect();
                if let Some(n) = opts.tail {
                    let start = past.len().saturating_sub(n);
                    past.drain(..start);
                }
                (past, offset)
            }
        };
        let head = futures::stream::iter(past);
        if !opts.follow || !live {
            return Ok((rec.tty(), head.boxed()));
        }
        let until = opts.until;
        let follow = Follow {
            path,
            format,
            offset,
            seq,
            state,
            exits,
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
                let ended = {
                    let s = f.state.borrow_and_update();
                    s.exits > f.exits || s.removed
                };
                if ended {
                    f.done = true;
                    let rest = f.read_more();
                    return Some((futures::stream::iter(rest), f));
                }
                let gone = tokio::select! {
                    r = f.seq.changed() => r.is_err(),
                    r = f.state.changed() => r.is_err(),
                };
                if gone {
                    f.done = true;
                    let rest = f.read_more();
                    return Some((futures::stream::iter(rest), f));
                }
            }
        })
        .flatten();
        let stream = head.chain(tail);
        let stream: OutputStream = match until {
            Some(u) => {
                let now = i128::from(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0));
                let wait = u64::try_from((u - now).max(0)).unwrap_or(u64::MAX);
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_nanos(wait);
                stream
                    .take_until(tokio::time::sleep_until(deadline))
                    .boxed()
            }
            None => stream.boxed(),
        };
        Ok((rec.tty(), stream))
    }
}
