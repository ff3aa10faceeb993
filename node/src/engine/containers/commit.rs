//! `docker commit`: freeze (optionally), diff the rootfs into a new image,
//! thaw.

use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};
use crate::image::CommitRequest;

/// `POST /commit` options besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Repository (may include the tag).
    pub repo: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Commit message.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// Freeze a running container while its filesystem is read (dockerd's
    /// default), so the layer is consistent.
    pub pause: bool,
}

impl Engine {
    /// Commits container `key` as a new image; returns the image ID.
    /// 404 for an unknown container.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn commit(&self, key: &str, opts: CommitOptions) -> EngineResult<String> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let config = serde_json::to_value(&rec.config)
            .map_err(|e| EngineError::Invalid(format!("container config: {e}")))?;
        // Frozen at the task level only: the container's recorded state does
        // not change, and it is thawed whatever the commit's outcome.
        let freeze = opts.pause && rec.state.status == Status::Running;
        if freeze {
            self.runtime().task_pause(&rec.id).await?;
        }
        let result = self
            .images()
            .commit(CommitRequest {
                container_id: rec.id.clone(),
                image_id: rec.image_id.clone(),
                container_config: config,
                repo: opts.repo,
                tag: opts.tag,
                comment: opts.comment,
                author: opts.author,
                changes: opts.changes,
            })
            .await;
        if freeze && let Err(e) = self.runtime().task_resume(&rec.id).await {
            tracing::warn!(error = %e, "thawing after commit failed");
        }
        Ok(result?)
    }
}
