//! Daemon start: bring back every container record and reconcile it with
//! what containerd still runs (live-restore), then apply restart policies.

use std::sync::Arc;

use shoal_api::models::RestartPolicyNameEnum;

use crate::runtime::{ExitStatus, TaskStatus};

use super::container::Container;
use super::record::Status;
use super::{Engine, EngineResult};

impl Engine {
    pub(crate) async fn restore(&self) -> EngineResult<()> {
        let (records, bad) = self.store().load_all()?;
        for e in bad {
            tracing::error!(error = %e, "skipping unreadable container record");
        }
        let mut to_start = Vec::new();
        for rec in records {
            let c = Arc::new(Container::new(rec.clone()));
            self.insert(c.clone());
            match rec.state.status {
                Status::Running | Status::Paused | Status::Restarting => {
                    // Endpoints first, so a task found dead releases them;
                    // its mounted volumes stay mounted and are counted again.
                    self.restore_network(&rec).await;
                    if let Err(e) = self.activate_volumes(&rec).await {
                        tracing::warn!(container.id = %rec.id, error = %e, "volume mounts");
                    }
                    self.reattach(&c).await;
                }
                Status::Removing | Status::Dead => {
                    if let Err(e) = self.remove_container(&c, true).await {
                        tracing::warn!(container.id = %rec.id, error = %e, "finishing removal");
                    }
                    continue;
                }
                Status::Created | Status::Exited => {}
            }
            let rec = c.snapshot();
            let policy = rec
                .host_config
                .restart_policy
                .as_ref()
                .and_then(|p| p.name)
                .unwrap_or(RestartPolicyNameEnum::EMPTY);
            let wants = match policy {
                RestartPolicyNameEnum::ALWAYS => true,
                RestartPolicyNameEnum::UNLESS_STOPPED => !rec.state.manually_stopped,
                _ => false,
            };
            if rec.state.status == Status::Exited && wants && !rec.state.manually_stopped {
                to_start.push(c);
            }
        }
        if let Err(e) = self.net().sync_firewall().await {
            tracing::error!(error = %e, "restoring published ports");
        }
        for c in to_start {
            let _op = c.op.lock().await;
            if let Err(e) = self.start_locked(&c).await {
                tracing::warn!(container.id = %c.id, error = %e, "restart policy at daemon start");
            }
        }
        Ok(())
    }

    /// Reconnects to a task that was live when the daemon went away.
    async fn reattach(&self, c: &Arc<Container>) {
        let rec = c.snapshot();
        let task = match self.runtime().task_get(&rec.id).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(container.id = %rec.id, error = %e, "querying task");
                None
            }
        };
        match task {
            Some(t)
                if matches!(
                    t.status,
                    TaskStatus::Running | TaskStatus::Paused | TaskStatus::Pausing
                ) =>
            {
                let io = self.init_io(&rec);
                if let Err(e) = self.connect_io(c, &rec, &io, true).await {
                    tracing::warn!(container.id = %rec.id, error = %e, "reconnecting output");
                }
                let status = if t.status == TaskStatus::Running {
                    Status::Running
                } else {
                    Status::Paused
                };
                let (_, rec) = c.update(|r| {
                    r.state.status = status;
                    r.state.pid = t.pid;
                });
                self.persist_or_log(&rec).await;
                c.state_tx.send_modify(|s| s.running = true);
                self.spawn_monitor(c.clone());
                self.spawn_health(c).await;
            }
            Some(t) => {
                // Exited while we were away: record its real exit code.
                let exit = t.exit.unwrap_or(ExitStatus {
                    code: 255,
                    exited_at: None,
                });
                self.on_exit(c, exit).await;
            }
            None => {
                self.on_exit(
                    c,
                    ExitStatus {
                        code: 255,
                        exited_at: None,
                    },
                )
                .await;
            }
        }
    }
}
