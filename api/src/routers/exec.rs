//! `/containers/{id}/exec` and `/exec/{id}/...`.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::models::{ExecConfig, ExecInspectResponse, IdResponse};
use crate::stream::AttachIo;

/// What the exec router needs from the engine.
#[async_trait]
pub trait ExecBackend: Send + Sync + 'static {
    /// Registers an exec on a running container; 404 unknown container,
    /// 409 when it is not running or paused.
    async fn create(&self, container: &str, config: ExecConfig) -> ApiResult<IdResponse>;
    /// Starts it. With `detach`, returns once started with an empty output.
    /// `tty` overrides the TTY setting from create when given.
    async fn start(&self, exec_id: &str, detach: bool, tty: Option<bool>) -> ApiResult<AttachIo>;
    /// Exec state, exit code, process config. 404 if unknown.
    async fn inspect(&self, exec_id: &str) -> ApiResult<ExecInspectResponse>;
    /// Resizes the exec's TTY.
    async fn resize(&self, exec_id: &str, height: u16, width: u16) -> ApiResult<()>;
}

mod handlers;

pub(crate) use handlers::routes;
