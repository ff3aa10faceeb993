//! `ContainersBackend` over the engine.

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use shoal_api::error::ApiResult;
use shoal_api::extract::Filters;
use shoal_api::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerPruneResponse,
    ContainerSummary, ContainerTopResponse, ContainerWaitResponse,
};
use shoal_api::routers::containers::{
    AttachOptions, ContainersBackend, ListOptions, LogsOptions, WaitCondition,
};
use shoal_api::stream::{AttachIo, ByteStream, OutputStream};

use super::errors::engine_error;
use crate::engine::Engine;
use crate::metrics::timed;

/// The containers router's backend.
#[derive(Debug, Clone)]
pub struct ContainersApi {
    /// The local engine.
    pub engine: Engine,
}

#[async_trait]
impl ContainersBackend for ContainersApi {
    async fn create(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> ApiResult<ContainerCreateResponse> {
        let c = timed("create", self.engine.create(name, body))
            .await
            .map_err(engine_error)?;
        Ok(ContainerCreateResponse {
            id: c.id,
            warnings: c.warnings,
        })
    }
    async fn list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        self.engine.list(opts).await.map_err(engine_error)
    }
    async fn inspect(&self, id: &str, size: bool) -> ApiResult<ContainerInspectResponse> {
        self.engine.inspect(id, size).await.map_err(engine_error)
    }
    async fn start(&self, id: &str) -> ApiResult<()> {
        timed("start", self.engine.start(id))
            .await
            .map_err(engine_error)
    }
    async fn stop(&self, id: &str, signal: Option<String>, timeout: Option<i64>) -> ApiResult<()> {
        timed("stop", self.engine.stop(id, signal, timeout))
            .await
            .map_err(engine_error)
    }
    async fn restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()> {
        timed("restart", self.engine.restart(id, signal, timeout))
            .await
            .map_err(engine_error)
    }
    async fn kill(&self, id: &str, signal: Option<String>) -> ApiResult<()> {
        timed("kill", self.engine.kill(id, signal))
            .await
            .map_err(engine_error)
    }
    async fn pause(&self, id: &str) -> ApiResult<()> {
        timed("pause", self.engine.pause(id))
            .await
            .map_err(engine_error)
    }
    async fn unpause(&self, id: &str) -> ApiResult<()> {
        timed("unpause", self.engine.unpause(id))
            .await
            .map_err(engine_error)
    }
    async fn wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> ApiResult<BoxFuture<'static, ContainerWaitResponse>> {
        let fut = self.engine.wait(id, condition).map_err(engine_error)?;
        Ok(fut
            .map(|code| ContainerWaitResponse {
                status_code: code,
                error: None,
            })
            .boxed())
    }
    async fn remove(&self, id: &str, force: bool, volumes: bool) -> ApiResult<()> {
        timed("delete", self.engine.remove(id, force, volumes))
            .await
            .map_err(engine_error)
    }
    async fn rename(&self, id: &str, new_name: &str) -> ApiResult<()> {
        self.engine.rename(id, new_name).await.map_err(engine_error)
    }
    async fn top(&self, id: &str, ps_args: Option<String>) -> ApiResult<ContainerTopResponse> {
        self.engine.top(id, ps_args).await.map_err(engine_error)
    }
    async fn logs(&self, id: &str, opts: LogsOptions) -> ApiResult<(bool, OutputStream)> {
        self.engine.logs(id, opts).await.map_err(engine_error)
    }
    async fn attach(&self, id: &str, opts: AttachOptions) -> ApiResult<AttachIo> {
        self.engine.attach(id, opts).await.map_err(engine_error)
    }
    async fn resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()> {
        self.engine
            .resize(id, height, width)
            .await
            .map_err(engine_error)
    }
    async fn prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        self.engine.prune(filters).await.map_err(engine_error)
    }
    async fn export(&self, id: &str) -> ApiResult<ByteStream> {
        self.engine.export(id).await.map_err(engine_error)
    }
    async fn commit(
        &self,
        id: &str,
        opts: shoal_api::routers::containers::CommitOptions,
    ) -> ApiResult<String> {
        self.engine
            .commit(
                id,
                crate::engine::CommitOptions {
                    repo: opts.repo,
                    tag: opts.tag,
                    comment: opts.comment,
                    author: opts.author,
                    changes: opts.changes,
                    pause: opts.pause,
                },
            )
            .await
            .map_err(engine_error)
    }
    async fn stats(
        &self,
        id: &str,
        mode: shoal_api::routers::containers::StatsMode,
    ) -> ApiResult<futures::stream::BoxStream<'static, serde_json::Value>> {
        self.engine.stats(id, mode).await.map_err(engine_error)
    }
    async fn update(
        &self,
        id: &str,
        body: shoal_api::models::ContainerUpdateBody,
    ) -> ApiResult<shoal_api::models::ContainerUpdateResponse> {
        let warnings = timed("update", self.engine.update(id, body))
            .await
            .map_err(engine_error)?;
        Ok(shoal_api::models::ContainerUpdateResponse {
            warnings: Some(warnings),
        })
    }
}
