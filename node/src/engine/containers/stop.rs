//! `docker stop` and `docker restart`.

use std::sync::Arc;
use std::time::Duration;

use super::super::container::Container;
use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};
use super::kill::parse_signal;

impl Engine {
    /// `POST /containers/{id}/stop`; 304 when not running.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn stop(
        &self,
        key: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            let (_, r) = c.update(|r| r.state.manually_stopped = true);
            self.persist(&r).await?;
            return Err(EngineError::NotModified);
        }
        let (_, r) = c.update(|r| r.state.manually_stopped = true);
        self.persist(&r).await?;
        self.stop_locked(&c, signal, timeout).await
    }

    /// `POST /containers/{id}/restart`.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn restart(
        &self,
        key: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        if c.snapshot().state.status.is_live() {
            let (_, r) = c.update(|r| r.state.manually_stopped = true);
            self.persist(&r).await?;
            self.stop_locked(&c, signal, timeout).await?;
        }
        let (_, r) = c.update(|r| r.state.manually_stopped = false);
        self.persist(&r).await?;
        self.start_locked(&c).await?;
        self.emit(&r, "restart", &[]);
        Ok(())
    }

    /// Signal, grace period, SIGKILL; waits for the exit to be recorded.
    pub(crate) async fn stop_locked(
        &self,
        c: &Arc<Container>,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> EngineResult<()> {
        let rec = c.snapshot();
        let sig_text = signal
            .filter(|s| !s.is_empty())
            .or_else(|| rec.config.stop_signal.clone().filter(|s| !s.is_empty()));
        let sig = match sig_text {
            Some(s) => parse_signal(&s)?,
            None => 15,
        };
        let grace = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let mut rx = c.state_tx.subscribe();
        let exits = rx.borrow().exits;
        if rec.state.status == Status::Paused {
            let _ = self.runtime().task_resume(&rec.id).await;
        }
        if let Err(e) = self.runtime().task_kill(&rec.id, sig, false).await {
            tracing::warn!(error = %e, "stop signal failed; killing");
        }
        self.emit(&rec, "kill", &[("signal", sig.to_string())]);
        let exited = |s: &super::super::container::WaitState| !s.running || s.exits > exits;
        let graceful = if grace < 0 {
            rx.wait_for(exited).await.is_ok()
        } else {
            tokio::time::timeout(Duration::from_secs(grace as u64), rx.wait_for(exited))
                .await
                .is_ok()
        };
        if !graceful {
            self.runtime().task_kill(&rec.id, 9, true).await.ok();
            self.emit(&rec, "kill", &[("signal", "9".into())]);
            let waited = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(exited)).await;
            if waited.is_err() {
                return Err(EngineError::Conflict(format!(
                    "cannot stop container: {}: tried to kill container, but did not receive an exit event",
                    rec.id
                )));
            }
        }
        self.emit(&c.snapshot(), "stop", &[]);
        Ok(())
    }
}
