//! `POST /containers/{id}/resize`.

use super::super::{Engine, EngineError, EngineResult};

impl Engine {
    /// Resizes the container's TTY; 409 when not running.
    pub async fn resize(&self, key: &str, height: u16, width: u16) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        self.runtime()
            .task_resize(&rec.id, None, u32::from(width), u32::from(height))
            .await?;
        self.emit(
            &rec,
            "resize",
            &[("height", height.to_string()), ("width", width.to_string())],
        );
        Ok(())
    }
}
