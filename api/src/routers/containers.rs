//! `/containers/...`: life cycle, inspect, logs, attach, export.

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerPruneResponse,
    ContainerSummary, ContainerTopResponse, ContainerUpdateBody, ContainerUpdateResponse,
    ContainerWaitResponse,
};
use crate::stream::{AttachIo, ByteStream, OutputStream};

/// `GET /containers/json` options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the `limit` most recently created (implies all).
    pub limit: Option<usize>,
    /// Compute SizeRw/SizeRootFs.
    pub size: bool,
    /// id, name, label, status, ancestor, exited, before, since...
    pub filters: Filters,
}

/// `GET /containers/{id}/logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Keep streaming new output until the container stops.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Unix time in nanoseconds (the query's `secs[.nanos]`, kept exact
    /// so `--since` the timestamp of a line includes that line).
    pub since: Option<i128>,
    /// Unix time in nanoseconds; no bound when absent.
    pub until: Option<i128>,
    /// Prefix lines with RFC3339Nano timestamps (the router does it).
    pub timestamps: bool,
    /// Only the last N lines; None for all.
    pub tail: Option<usize>,
}

/// `POST /containers/{id}/attach` options.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Stream live output.
    pub stream: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Detach key sequence (e.g. `ctrl-p,ctrl-q`).
    pub detach_keys: Option<String>,
}

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// Wait for a stop; return at once if not running (default).
    #[default]
    NotRunning,
    /// Wait for the next exit even if not running now.
    NextExit,
    /// Wait until the container is removed.
    Removed,
}

/// What the containers router needs from the engine.
#[async_trait]
pub trait ContainersBackend: Send + Sync + 'static {
    /// Creates a container. 409 on a name in use, 404 on a missing image,
    /// 400 on an invalid name or config.
    async fn create(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> ApiResult<ContainerCreateResponse>;
    /// Lists containers, newest first.
    async fn list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>>;
    /// Full inspect shape. 404 if unknown.
    async fn inspect(&self, id: &str, size: bool) -> ApiResult<ContainerInspectResponse>;
    /// Starts; NotModified (304) when already running.
    async fn start(&self, id: &str) -> ApiResult<()>;
    /// Stops with the stop signal, then SIGKILL after `timeout` seconds;
    /// NotModified (304) when not running.
    async fn stop(&self, id: &str, signal: Option<String>, timeout: Option<i64>) -> ApiResult<()>;
    /// Stop (if running) then start.
    async fn restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()>;
    /// Sends a signal (default SIGKILL); 409 when not running.
    async fn kill(&self, id: &str, signal: Option<String>) -> ApiResult<()>;
    /// Freezes the container; 409 when not running or already paused.
    async fn pause(&self, id: &str) -> ApiResult<()>;
    /// Thaws the container; 409 when not paused.
    async fn unpause(&self, id: &str) -> ApiResult<()>;
    /// Validates now (404 when unknown), then resolves when `condition` holds.
    async fn wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> ApiResult<BoxFuture<'static, ContainerWaitResponse>>;
    /// Removes; 409 when running without `force`. `volumes` removes anonymous volumes.
    async fn remove(&self, id: &str, force: bool, volumes: bool) -> ApiResult<()>;
    /// Renames; 409 when the new name is in use.
    async fn rename(&self, id: &str, new_name: &str) -> ApiResult<()>;
    /// Processes in the container; 409 when not running.
    async fn top(&self, id: &str, ps_args: Option<String>) -> ApiResult<ContainerTopResponse>;
    /// The container's log; `bool` is whether it has a TTY (raw framing).
    async fn logs(&self, id: &str, opts: LogsOptions) -> ApiResult<(bool, OutputStream)>;
    /// Live streams of a container (after the HTTP upgrade).
    async fn attach(&self, id: &str, opts: AttachOptions) -> ApiResult<AttachIo>;
    /// Resizes the container's TTY.
    async fn resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()>;
    /// Removes stopped containers matching `filters` (until, label).
    async fn prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse>;
    /// The container's filesystem as a tar stream.
    async fn export(&self, id: &str) -> ApiResult<ByteStream>;
    /// `POST /commit`: the container's changes as a new image; returns
    /// its ID. 404 for an unknown container.
    async fn commit(&self, id: &str, opts: CommitOptions) -> ApiResult<String>;
    /// `GET /containers/{id}/stats`: 404 when unknown, then one
    /// `ContainerStatsResponse` document per sample as `mode` asks.
    async fn stats(
        &self,
        id: &str,
        mode: StatsMode,
    ) -> ApiResult<futures::stream::BoxStream<'static, serde_json::Value>>;
    /// `POST /containers/{id}/update`: new limits and restart policy;
    /// 404 when unknown, 400 for invalid or unsupported fields.
    async fn update(
        &self,
        id: &str,
        body: ContainerUpdateBody,
    ) -> ApiResult<ContainerUpdateResponse>;
}

/// How `GET /containers/{id}/stats` wants its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsMode {
    /// `stream=true` (the default): a sample per second.
    Stream,
    /// `stream=false`: one sample, with `precpu_stats` from a priming one.
    Single,
    /// `stream=false&one-shot=true`: one sample at once, no `precpu_stats`.
    OneShot,
}

/// `POST /commit` query options.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `repo` (may include a tag).
    pub repo: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `changes` (Dockerfile instructions, repeatable).
    pub changes: Vec<String>,
    /// `pause` (default true).
    pub pause: bool,
}

mod handlers;
mod resources;

pub(crate) use handlers::{parse_size, parse_tail, parse_unix_time, routes};
