//! `ExecBackend` over the engine.

use async_trait::async_trait;
use shoal_api::error::ApiResult;
use shoal_api::models::{ExecConfig, ExecInspectResponse, IdResponse};
use shoal_api::routers::exec::ExecBackend;
use shoal_api::stream::AttachIo;

use super::errors::engine_error;
use crate::engine::Engine;

/// The exec router's backend.
#[derive(Debug, Clone)]
pub struct ExecApi {
    /// The local engine.
    pub engine: Engine,
}

#[async_trait]
impl ExecBackend for ExecApi {
    async fn create(&self, container: &str, config: ExecConfig) -> ApiResult<IdResponse> {
        let id = self
            .engine
            .exec_create(container, config)
            .await
            .map_err(engine_error)?;
        Ok(IdResponse { id })
    }
    async fn start(&self, exec_id: &str, detach: bool, tty: Option<bool>) -> ApiResult<AttachIo> {
        self.engine
            .exec_start(exec_id, detach, tty)
            .await
            .map_err(engine_error)
    }
    async fn inspect(&self, exec_id: &str) -> ApiResult<ExecInspectResponse> {
        self.engine.exec_inspect(exec_id).map_err(engine_error)
    }
    async fn resize(&self, exec_id: &str, height: u16, width: u16) -> ApiResult<()> {
        self.engine
            .exec_resize(exec_id, height, width)
            .await
            .map_err(engine_error)
    }
}
