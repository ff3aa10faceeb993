//! Exit monitor: waits for a task to exit, records it, then applies
//! auto-remove or the restart policy.

use std::sync::Arc;
use std::time::Duration;

use shoal_api::models::RestartPolicyNameEnum;

use crate::runtime::{ExitStatus, RuntimeError};

use super::container::Container;
use super::record::Status;
use super::{Engine, EngineError};

/// How long an exit waits for output to drain before it is recorded anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl Engine {
    /// Watches the current run of `c` in the background.
    pub(crate) fn spawn_monitor(&self, c: Arc<Container>) {
        let engine = self.clone();
        let span = tracing::info_span!("monitor", container.id = %c.id);
        self.tracker().spawn(tracing::Instrument::instrument(
            async move {
                let token = engine.shutdown_token().clone();
                let status = tokio::select! {
                    s = engine.wait_exit(&c.id) => s,
                    // live-restore: the daemon goes, the container stays.
                    _ = token.cancelled() => return,
                };
                engine.on_exit(&c, status).await;
            },
            span,
        ));
    }

    /// Waits for the task to exit, riding out containerd restarts.
    async fn wait_exit(&self, id: &str) -> ExitStatus {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.runtime().task_wait(id).await {
                Ok(s) => return s,
                Err(RuntimeError::NotFound(_)) => {
                    // The task vanished (containerd lost it): report like dockerd.
                    return ExitStatus {
                        code: 255,
                        exited_at: Some(chrono::Utc::now()),
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for task exit; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Records an exit and decides what follows.
    pub(crate) async fn on_exit(&self, c: &Arc<Container>, status: ExitStatus) {
        let done = c
            .pumps_done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut done) = done {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, done.wait_for(|d| *d)).await;
        }
        // The cgroup (and its OOM counter) goes with the task: read it first.
        let oom = self.oom_killed(c).await;
        let _ = self.runtime().task_delete(&c.id).await;
        self.release_network(c).await;
        self.deactivate_volumes(&c.snapshot()).await;
        *c.stdin.lock().await = None;
        let code = i64::from(status.code);
        let finished = status.exited_at.unwrap_or_else(chrono::Utc::now);
        let (_, rec) = c.update(|r| {
            r.state.status = Status::Exited;
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.finished_at = Some(finished);
            r.state.oom_killed = oom;
        });
        self.persist_or_log(&rec).await;
        if oom {
            // dockerd's order: `oom` (containerd's TaskOOM) comes before `die`.
            self.emit(&rec, "oom", &[]);
        }
        self.emit(&rec, "die", &[("exitCode", code.to_string())]);
        c.state_tx.send_modify(|s| {
            s.running = false;
            s.exit_code = code;
            s.exits += 1;
        });
        if rec.host_config.auto_remove == Some(true) {
            // `--rm` takes the anonymous volumes along, as with dockerd.
            match self.remove_container(c, true).await {
                Ok(()) => self.remove_anonymous_volumes(&rec),
                Err(e) => tracing::error!(error = %e, "auto-remove failed"),
            }
            return;
        }
        if self.should_restart(&rec) {
            let engine = self.clone();
            let c = c.clone();
            let delay = Duration::from_millis(100u64 << rec.restart_count.clamp(0, 10));
            self.tracker().spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = c.op.lock().await;
                let rec = c.snapshot();
                if rec.state.manually_stopped || rec.state.status != Status::Exited {
                    return;
                }
                let (_, rec) = c.update(|r| r.restart_count += 1);
                engine.persist_or_log(&rec).await;
                match engine.start_locked(&c).await {
                    Ok(()) => engine.emit(&rec, "restart", &[]),
                    Err(EngineError::NoSuchContainer(_)) => {}
                    Err(e) => tracing::warn!(error = %e, "restart policy start failed"),
                }
            });
        }
    }

    /// Whether the kernel's OOM killer killed a process of this run (the
    /// memory cgroup's `oom_kill` counter, which starts at 0 with each
    /// task's fresh cgroup).
    async fn oom_killed(&self, c: &Container) -> bool {
        let rec = c.snapshot();
        let path = crate::runtime::oci_spec::cgroups_path(&rec.host_config, &rec.id);
        let read = tokio::task::spawn_blocking(move || {
            crate::runtime::cgroups::CgroupReader::new(&path).oom_kills()
        })
        .await;
        match read {
            Ok(Ok(n)) => n > 0,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "reading the OOM counter");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "OOM counter reader failed");
                false
            }
        }
    }

    fn should_restart(&self, rec: &super::record::ContainerRecord) -> bool {
        if rec.state.manually_stopped || self.shutdown_token().is_cancelled() {
            return false;
        }
        let Some(rp) = &rec.host_config.restart_policy else {
            return false;
        };
        match rp.name.unwrap_or(RestartPolicyNameEnum::EMPTY) {
            RestartPolicyNameEnum::ALWAYS | RestartPolicyNameEnum::UNLESS_STOPPED => true,
            RestartPolicyNameEnum::ON_FAILURE => {
                let max = rp.maximum_retry_count.unwrap_or(0);
                rec.state.exit_code != 0 && (max == 0 || rec.restart_count < max)
            }
            RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY => false,
        }
    }
}
