//! [`TaskController`]: the narrow view of the node's engine the agent runs tasks through
//! (swarmkit's `exec.Controller`), so the agent never sees the whole `Engine` and its task
//! logic can be tested against a fake.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use shoal_api::models::ContainerCreateBody;
use shoal_api::routers::containers::LogsOptions;
use shoal_api::stream::OutputStream;
use shoal_scheduler::model::service::PortConfig;
use tokio::sync::watch;

/// What the engine knows of one task container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContainer {
    /// The container ID.
    pub id: String,
    /// The task it belongs to (`com.docker.swarm.task.id`).
    pub task_id: String,
    /// Whether its process is alive.
    pub running: bool,
    /// Its last exit code (when not running).
    pub exit_code: i64,
    /// Host PID while running.
    pub pid: u32,
    /// Its published ports while running (host mode), as the task's `PortStatus` shows them.
    pub ports: Vec<PortConfig>,
}

/// Why a controller call failed; `message` is what the task's status shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    /// The engine's text (e.g. "No such image: busybox:latest").
    pub message: String,
    /// The container does not exist (any more).
    pub not_found: bool,
}

impl ExecError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            not_found: false,
        }
    }
}

/// The engine operations a task needs.
#[async_trait]
pub trait TaskController: Send + Sync + 'static {
    /// Every container carrying a swarm task label (for adoption after a restart and for
    /// removing containers of tasks this node no longer holds).
    async fn task_containers(&self) -> Result<Vec<TaskContainer>, ExecError>;
    /// Makes sure `image` is on this node, pulling it when absent with `registry_auth`
    /// (`X-Registry-Auth` form; None: anonymously). Errors: the registry's or engine's text.
    async fn ensure_image(&self, image: &str, registry_auth: Option<&str>)
    -> Result<(), ExecError>;
    /// Creates the container `name` from `body`; returns its ID.
    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, ExecError>;
    /// Starts it.
    async fn start(&self, id: &str) -> Result<(), ExecError>;
    /// A future of the exit code once the container is not running.
    fn wait(&self, id: &str) -> Result<BoxFuture<'static, i64>, ExecError>;
    /// The health status its probes decided in the current run (`starting`, `healthy`,
    /// `unhealthy`), or None when the container has no health check.
    fn health(&self, id: &str) -> Result<Option<watch::Receiver<Option<String>>>, ExecError>;
    /// Stops it with `signal` (default SIGTERM) and kills after `grace`.
    async fn stop(
        &self,
        id: &str,
        signal: Option<String>,
        grace: Duration,
    ) -> Result<(), ExecError>;
    /// Removes it (forcefully).
    async fn remove(&self, id: &str) -> Result<(), ExecError>;
    /// Its state now.
    async fn inspect(&self, id: &str) -> Result<TaskContainer, ExecError>;
    /// Its log output (for the manager's log broker).
    async fn logs(&self, id: &str, opts: LogsOptions) -> Result<OutputStream, ExecError>;
}
