//! Health checks: the probe of a running container, run as an exec on
//! its schedule, and `State.Health` kept in the record (moby
//! `daemon/health.go`).
//!
//! One monitor task per run of a container with a health check: it
//! starts with the task, ends when that run ends (its `exits` count
//! moves) or the daemon shuts down, and skips probes while paused.
//! Status changes publish `health_status: <status>` events.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use shoal_api::models::ExecConfig;

use super::containers::Probe;
use super::record::{HealthState, ProbeResult, Status};
use super::{Container, Engine};

/// dockerd keeps the last five probe results.
const MAX_LOG: usize = 5;
/// And the first 4 KiB of each probe's output.
const MAX_OUTPUT: usize = 4096;

/// The state after `result`, dockerd's rules: success is healthy with
/// the streak reset; a failure in the start period leaves a starting
/// container starting; otherwise `retries` failures in a row make it
/// unhealthy.
pub(crate) fn next_health(
    prev: &HealthState,
    result: ProbeResult,
    retries: i64,
    in_start_period: bool,
) -> HealthState {
    let mut h = prev.clone();
    if result.exit_code == 0 {
        h.failing_streak = 0;
        h.status = "healthy".into();
    } else if in_start_period && h.status == "starting" {
        // Failures while starting up do not count.
    } else {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = "unhealthy".into();
        }
    }
    h.log.push(result);
    let excess = h.log.len().saturating_sub(MAX_LOG);
    h.log.drain(..excess);
    h
}

impl Engine {
    /// Starts the health monitor of `c`'s current run, if its config has
    /// a health check: `State.Health` begins as `starting`.
    pub(crate) async fn spawn_health(&self, c: &Arc<Container>) {
        let rec = c.snapshot();
        let Some(probe) = super::containers::health_probe(&rec.config) else {
            return;
        };
        // dockerd keeps the log of earlier runs and resets the rest.
        let (_, rec) = c.update(|r| {
            let log = r.state.health.take().map(|h| h.log).unwrap_or_default();
            r.state.health = Some(HealthState {
                status: "starting".into(),
                failing_streak: 0,
                log,
            })
        });
        c.health_tx.send_replace(Some("starting".into()));
        self.persist_or_log(&rec).await;
        let run = c.state_tx.borrow().exits;
        let engine = self.clone();
        let c = c.clone();
        let span = tracing::info_span!("health", container.id = %c.id);
        self.tracker().spawn(tracing::Instrument::instrument(
            async move {
                let token = engine.shutdown_token().clone();
                tokio::select! {
                    () = engine.health_loop(&c, &probe, run) => engine.health_ended(&c).await,
                    () = token.cancelled() => {}
                }
            },
            span,
        ));
    }

    /// The run's monitor stopped with the run: dockerd then reports the
    /// container `unhealthy` (its `CloseMonitorChannel`, kept "for
    /// compatibility"), with no event, until the next start resets it.
    async fn health_ended(&self, c: &Arc<Container>) {
        // Under the op lock, so a restart's record is never overwritten by this one.
        let _op = c.op.lock().await;
        if c.state_tx.borrow().removed {
            return;
        }
        let (changed, rec) = c.update(|r| match r.state.health.as_mut() {
            // A newer run (a quick restart) has its own monitor.
            Some(h) if !r.state.status.is_live() && h.status != "unhealthy" => {
                h.status = "unhealthy".into();
                true
            }
            _ => false,
        });
        if changed {
            self.persist_or_log(&rec).await;
        }
    }

    async fn health_loop(&self, c: &Arc<Container>, probe: &Probe, run: u64) {
        let started = tokio::time::Instant::now();
        let mut state = c.state_tx.subscribe();
        loop {
            let in_start = started.elapsed() < probe.start_period;
            let starting = c
                .snapshot()
                .state
                .health
                .is_some_and(|h| h.status == "starting");
            let wait = if in_start && starting {
                probe.start_interval
            } else {
                probe.interval
            };
            // Sleep, but end with the run.
            let ended = tokio::select! {
                () = tokio::time::sleep(wait) => false,
                r = state.wait_for(|s| s.exits != run || !s.running) => {
                    let _ = r;
                    true
                }
            };
            if ended || state.borrow().exits != run {
                return;
            }
            if c.status() != Status::Running {
                continue;
            }
            let result = self.run_probe(c, probe).await;
            if state.borrow().exits != run {
                return;
            }
            let in_start = started.elapsed() < probe.start_period;
            let (changed, rec) = c.update(|r| {
                let prev = r.state.health.clone().unwrap_or_default();
                let next = next_health(&prev, result, probe.retries, in_start);
                let changed = (prev.status != next.status).then(|| next.status.clone());
                r.state.health = Some(next);
                changed
            });
            if let Some(status) = &changed {
                c.health_tx.send_replace(Some(status.clone()));
            }
            self.persist_or_log(&rec).await;
            if let Some(status) = changed {
                self.emit(&rec, &format!("health_status: {status}"), &[]);
            }
        }
    }

    /// One probe: an exec of the probe command, its output and exit code,
    /// killed at the timeout (exit code -1, as dockerd reports it).
    async fn run_probe(&self, c: &Arc<Container>, probe: &Probe) -> ProbeResult {
        let start = Utc::now();
        let failed = |output: String| ProbeResult {
            start,
            end: Utc::now(),
            exit_code: -1,
            output,
        };
        let cfg = ExecConfig {
            cmd: Some(probe.cmd.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec_id = match self.exec_create(&c.id, cfg).await {
            Ok(id) => id,
            Err(e) => return failed(e.to_string()),
        };
        let run = async {
            let io = self.exec_start(&exec_id, false, Some(false)).await?;
            let mut out: Vec<u8> = Vec::new();
            let mut output = io.output;
            while let Some(chunk) = output.next().await {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&chunk.data[..chunk.data.len().min(room)]);
            }
            let code = self.exec_inspect(&exec_id)?.exit_code.unwrap_or(-1);
            super::EngineResult::Ok((code, out))
        };
        let result = match tokio::time::timeout(probe.timeout, run).await {
            Ok(Ok((code, out))) => ProbeResult {
                start,
                end: Utc::now(),
                exit_code: code,
                output: String::from_utf8_lossy(&out).into_owned(),
            },
            Ok(Err(e)) => failed(e.to_string()),
            Err(_) => {
                if let Err(e) = self.runtime().exec_kill(&c.id, &exec_id, 9).await {
                    tracing::debug!(error = %e, "killing a timed-out health probe");
                }
                failed(format!(
                    "Health check exceeded timeout ({})",
                    go_duration(probe.timeout)
                ))
            }
        };
        self.exec_forget(c, &exec_id);
        result
    }
}

/// Go's `time.Duration` text, as dockerd prints the timeout (`300ms`,
/// `1.5s`, `2m0s`, `1h0m30s`).
fn go_duration(d: Duration) -> String {
    /// `whole.frac` with the fraction's trailing zeros dropped.
    fn decimal(whole: u128, frac: u128, digits: usize) -> String {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{f}")
        }
    }
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", decimal(ns / 1_000, ns % 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", decimal(ns / 1_000_000, ns % 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let s = format!("{}s", decimal(secs % 60, ns % 1_000_000_000, 9));
    let (m, h) = ((secs / 60) % 60, secs / 3600);
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> ProbeResult {
        let now = Utc::now();
        ProbeResult {
            start: now,
            end: now,
            exit_code: code,
            output: String::new(),
        }
    }

    fn starting() -> HealthState {
        HealthState {
            status: "starting".into(),
            ..Default::default()
        }
    }

    #[test]
    fn healthy_then_unhealthy_after_retries() {
        let h = next_health(&starting(), result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        let h = next_health(&h, result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 1));
        let h = next_health(&h, result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        let h = next_health(&h, result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        assert_eq!(h.log.len(), 4);
    }

    #[test]
    fn start_period_failures_do_not_count_and_log_keeps_five() {
        let mut h = starting();
        for _ in 0..7 {
            h = next_health(&h, result(1), 1, true);
        }
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        assert_eq!(h.log.len(), MAX_LOG);
        let h = next_health(&h, result(1), 1, false);
        assert_eq!(h.status, "unhealthy");
    }

    #[test]
    fn timeouts_print_as_go_durations() {
        for (d, text) in [
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3630), "1h0m30s"),
            (Duration::from_nanos(5), "5ns"),
        ] {
            assert_eq!(go_duration(d), text);
        }
    }
}
