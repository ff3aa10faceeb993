//! `docker pause` / `docker unpause`.

use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};

impl Engine {
    /// Freezes the container; 409 unless running.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn pause(&self, key: &str) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        match rec.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is already paused",
                    rec.id
                )));
            }
            _ => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not running",
                    rec.id
                )));
            }
        }
        self.runtime().task_pause(&rec.id).await?;
        let (_, rec) = c.update(|r| r.state.status = Status::Paused);
        self.persist(&rec).await?;
        self.emit(&rec, "pause", &[]);
        Ok(())
    }

    /// Thaws the container; 409 unless paused.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn unpause(&self, key: &str) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if rec.state.status != Status::Paused {
            return Err(EngineError::Conflict(format!(
                "Container {} is not paused",
                rec.id
            )));
        }
        self.runtime().task_resume(&rec.id).await?;
        let (_, rec) = c.update(|r| r.state.status = Status::Running);
        self.persist(&rec).await?;
        self.emit(&rec, "unpause", &[]);
        Ok(())
    }
}
