//! `docker rm`.

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::RuntimeError;

use super::super::container::Container;
use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};

impl Engine {
    /// `DELETE /containers/{id}`; 409 when running without `force`.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn remove(&self, key: &str, force: bool, volumes: bool) -> EngineResult<()> {
        let c = self.lookup(key)?;
        self.remove_container(&c, force).await?;
        if volumes {
            self.remove_anonymous_volumes(&c.snapshot());
        }
        Ok(())
    }

    /// Removes `c` (taking its op lock); used by rm, prune and auto-remove.
    pub(crate) async fn remove_container(
        &self,
        c: &Arc<Container>,
        force: bool,
    ) -> EngineResult<()> {
        let _op = c.op.lock().await;
        self.remove_locked(c, force).await
    }

    /// Removes `c`; the caller holds `c.op`.
    pub(crate) async fn remove_locked(&self, c: &Arc<Container>, force: bool) -> EngineResult<()> {
        if c.state_tx.borrow().removed {
            return Ok(());
        }
        let rec = c.snapshot();
        if rec.state.status.is_live() {
            if !force {
                let what = if rec.state.status == Status::Paused {
                    "paused"
                } else {
                    "running"
                };
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"/{}\": container is {what}: stop the container before removing or force remove",
                    rec.name
                )));
            }
            let (_, r) = c.update(|r| r.state.manually_stopped = true);
            self.persist(&r).await?;
            let mut rx = c.state_tx.subscribe();
            let exits = rx.borrow().exits;
            if rec.state.status == Status::Paused {
                let _ = self.runtime().task_resume(&rec.id).await;
            }
            self.runtime().task_kill(&rec.id, 9, true).await.ok();
            self.emit(&rec, "kill", &[("signal", "9".into())]);
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                rx.wait_for(|s| !s.running || s.exits > exits),
            )
            .await;
        }
        let (_, rec) = c.update(|r| r.state.status = Status::Removing);
        let _ = self.runtime().task_delete(&rec.id).await;
        for r in [
            self.runtime().container_delete(&rec.id).await,
            self.runtime().remove_snapshot(&rec.id).await,
        ] {
            match r {
                Ok(()) | Err(RuntimeError::NotFound(_)) => {}
                Err(e) => {
                    let (_, rec) = c.update(|r| r.state.status = Status::Dead);
                    self.persist(&rec).await?;
                    return Err(e.into());
                }
            }
        }
        self.exec_forget_container(&rec.id);
        let _ = std::fs::remove_dir_all(self.container_run_dir(&rec.id));
        let _ = std::fs::remove_dir_all(self.container_dir(&rec.id));
        self.store().remove(&rec.id, &rec.name).await?;
        self.forget(&rec.id);
        self.emit(&rec, "destroy", &[]);
        c.state_tx.send_modify(|s| s.removed = true);
        Ok(())
    }
}
