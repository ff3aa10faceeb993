//! `shoal_api` archive backend (`docker cp`, `docker diff`) over the engine.

use async_trait::async_trait;
use shoal_api::error::ApiResult;
use shoal_api::models::FilesystemChange;
use shoal_api::routers::archive::{ArchiveBackend, PathStat, PutOptions};
use shoal_api::stream::ByteStream;

use crate::engine::Engine;

use super::errors::engine_error;

/// The archive API.
#[derive(Debug, Clone)]
pub struct ArchiveApi {
    /// The local engine.
    pub engine: Engine,
}

#[async_trait]
impl ArchiveBackend for ArchiveApi {
    #[tracing::instrument(skip_all, fields(container.id = %id))]
    async fn stat(&self, id: &str, path: &str) -> ApiResult<PathStat> {
        self.engine
            .archive_stat(id, path)
            .await
            .map_err(engine_error)
    }

    #[tracing::instrument(skip_all, fields(container.id = %id))]
    async fn get(&self, id: &str, path: &str) -> ApiResult<(PathStat, ByteStream)> {
        self.engine
            .archive_get(id, path)
            .await
            .map_err(engine_error)
    }

    #[tracing::instrument(skip_all, fields(container.id = %id))]
    async fn put(&self, id: &str, path: &str, body: ByteStream, opts: PutOptions) -> ApiResult<()> {
        self.engine
            .archive_put(id, path, body, opts)
            .await
            .map_err(engine_error)
    }

    #[tracing::instrument(skip_all, fields(container.id = %id))]
    async fn changes(&self, id: &str) -> ApiResult<Vec<FilesystemChange>> {
        self.engine.changes(id).await.map_err(engine_error)
    }
}
