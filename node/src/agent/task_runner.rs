//! One task's life on this node (swarmkit's `agent/task.go` + `exec.Do`): every step moves
//! the task's state forward by one and is reported; nothing moves backwards.
//!
//! ```text
//! assigned → accepted → preparing (secrets, create container) → ready → starting → running
//!   running → complete | failed (exit code)        desired ≥ shutdown → stop → shutdown
//!   any preparing error → rejected                  desired remove / unassigned → remove
//! ```
//!
//! With a health check (moby's executor) the task stays `starting` until the first healthy
//! probe; an unhealthy container is stopped and its task fails ("dockerexec: unhealthy
//! container"), so the restart policy replaces it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use shoal_scheduler::model::{
    Config, ConfigId, ContainerStatus, NodeId, Secret, SecretId, Task, TaskState, TaskStatus,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::container_config::{DEFAULT_GRACE_NS, create_body, task_name, unwired_ports};
use super::exec::{TaskContainer, TaskController};
use super::secrets::TaskFiles;
use crate::cluster::dispatcher::wire::{ServiceInfo, StatusUpdate};
use crate::cluster::manager::now;

/// What a runner is told about its task; replaced whenever the assignment changes.
#[derive(Debug, Clone)]
pub struct TaskInput {
    /// The task as the dispatcher last sent it.
    pub task: Task,
    /// Its service.
    pub service: ServiceInfo,
    /// The secrets and configs it is granted (data included).
    pub secrets: BTreeMap<SecretId, Secret>,
    /// Configs.
    pub configs: BTreeMap<ConfigId, Config>,
    /// The task is no longer this node's: remove its container and stop.
    pub removed: bool,
}

/// What every runner shares.
#[derive(Clone)]
pub struct RunnerCtx {
    /// The engine, narrowly.
    pub ctl: Arc<dyn TaskController>,
    /// This node.
    pub node: NodeId,
    /// What this node reports about itself (hostname and platform for templates).
    pub host: shoal_scheduler::model::node::NodeDescription,
    /// Secret and config files.
    pub files: TaskFiles,
    /// Where status changes go (the session batches them to the dispatcher).
    pub reports: mpsc::Sender<StatusUpdate>,
}

impl std::fmt::Debug for RunnerCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerCtx")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

struct Runner {
    ctx: RunnerCtx,
    status: TaskStatus,
    container: Option<String>,
    task_id: shoal_scheduler::model::TaskId,
}

impl Runner {
    async fn report(&mut self, state: TaskState, message: &str, err: Option<String>) {
        if state < self.status.state {
            tracing::error!(task.id = %self.task_id, from = %self.status.state, to = %state, "refusing a backwards task transition");
            return;
        }
        self.status.state = state;
        self.status.message = message.to_owned();
        if let Some(e) = err {
            self.status.err = e;
        }
        self.status.timestamp = now();
        if let Some(id) = &self.container {
            let cs = self
                .status
                .container_status
                .get_or_insert_with(ContainerStatus::default);
            cs.container_id = id.clone();
        }
        let _ = self
            .ctx
            .reports
            .send(StatusUpdate {
                task_id: self.task_id.clone(),
                status: self.status.clone(),
            })
            .await;
    }

    fn set_exit(&mut self, c: &TaskContainer) {
        let cs = self
            .status
            .container_status
            .get_or_insert_with(ContainerStatus::default);
        cs.container_id = c.id.clone();
        cs.pid = i64::from(c.pid);
        if !c.running {
            cs.exit_code = Some(c.exit_code);
        }
        // Ports are bound while the container runs (swarmkit reports them with RUNNING).
        if c.running {
            self.status.port_status = c.ports.clone();
        }
    }

    async fn exited(&mut self, code: i64) {
        {
            let cs = self
                .status
                .container_status
                .get_or_insert_with(ContainerStatus::default);
            cs.exit_code = Some(code);
            cs.pid = 0;
        }
        if code == 0 {
            self.report(TaskState::Complete, "finished", None).await;
        } else {
            self.report(
                TaskState::Failed,
                "started",
                Some(format!("task: non-zero exit ({code})")),
            )
            .await;
        }
    }

    /// moby's executor on an unhealthy container: stop it, wait for the exit and fail the
    /// task with the health check as the cause, so the restart policy replaces it.
    async fn unhealthy(&mut self, input: &TaskInput, exit: BoxFuture<'static, i64>, message: &str) {
        self.stop(input).await;
        let code = exit.await;
        {
            let cs = self
                .status
                .container_status
                .get_or_insert_with(ContainerStatus::default);
            cs.exit_code = Some(code);
            cs.pid = 0;
        }
        let err = if code == 0 {
            UNHEALTHY.to_owned()
        } else {
            format!("task: non-zero exit ({code}): {UNHEALTHY}")
        };
        self.report(TaskState::Failed, message, Some(err)).await;
    }

    async fn remove_container(&mut self) {
        if let Some(id) = self.container.take()
            && let Err(e) = self.ctx.ctl.remove(&id).await
        {
            tracing::warn!(task.id = %self.task_id, error = %e, "removing task container failed");
        }
        let files = self.ctx.files.clone();
        let id = self.task_id.to_string();
        let _ = tokio::task::spawn_blocking(move || files.cleanup(&id)).await;
    }

    async fn stop(&mut self, input: &TaskInput) {
        if let Some(id) = self.container.clone() {
            let c = &input.task.spec.container;
            let grace = Duration::from_nanos(
                u64::try_from(c.stop_grace_period_ns.unwrap_or(DEFAULT_GRACE_NS)).unwrap_or(0),
            );
            let signal = (!c.stop_signal.is_empty()).then(|| c.stop_signal.clone());
            if let Err(e) = self.ctx.ctl.stop(&id, signal, grace).await
                && !e.not_found
            {
                tracing::warn!(task.id = %self.task_id, error = %e, "stopping task container failed");
            }
            if let Ok(c) = self.ctx.ctl.inspect(&id).await {
                self.set_exit(&c);
            }
        }
    }

    /// Creates the container (after its secret files).
    async fn prepare(&mut self, input: &TaskInput) -> Result<(), String> {
        let files = self.ctx.files.clone();
        let (task, secrets, configs) = (
            input.task.clone(),
            input.secrets.clone(),
            input.configs.clone(),
        );
        let mounts = tokio::task::spawn_blocking(move || files.prepare(&task, &secrets, &configs))
            .await
            .map_err(|e| e.to_string())??;
        let body = create_body(
            &input.task,
            &input.service,
            &self.ctx.node,
            &self.ctx.host,
            &mounts,
        )?;
        // Absent images are pulled here, while the task shows `preparing` (swarmkit's
        // controller Prepare), with the service's registry auth.
        let c = &input.task.spec.container;
        let auth = c
            .pull_options
            .as_ref()
            .map(|p| p.registry_auth.as_str())
            .filter(|a| !a.is_empty());
        self.ctx
            .ctl
            .ensure_image(&c.image, auth)
            .await
            .map_err(|e| e.message)?;
        let name = task_name(&input.service.name, &input.task);
        let id = self
            .ctx
            .ctl
            .create(&name, body)
            .await
            .map_err(|e| e.message)?;
        self.container = Some(id);
        Ok(())
    }
}

/// moby's executor error for a container its health check found unhealthy.
const UNHEALTHY: &str = "dockerexec: unhealthy container";

/// How waiting for a starting task's first healthy probe ended.
enum HealthWait {
    Healthy,
    /// The probes say unhealthy; the container still runs (its exit future is handed back).
    Unhealthy(BoxFuture<'static, i64>),
    /// The container exited first, with this code.
    Exited(i64),
    /// The assignment changed: look at the desired state again.
    Changed,
    /// The agent is shutting down.
    Stopped,
}

/// swarmkit's `controller.Start` for a container with a health check: the task is running
/// only once a probe says healthy.
async fn wait_healthy(
    health: &mut watch::Receiver<Option<String>>,
    mut exit: BoxFuture<'static, i64>,
    input: &mut watch::Receiver<TaskInput>,
    stop: &CancellationToken,
) -> HealthWait {
    loop {
        match health.borrow_and_update().as_deref() {
            Some("healthy") => return HealthWait::Healthy,
            Some("unhealthy") => return HealthWait::Unhealthy(exit),
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return HealthWait::Stopped,
            code = &mut exit => return HealthWait::Exited(code),
            c = input.changed() => {
                return if c.is_err() { HealthWait::Stopped } else { HealthWait::Changed };
            }
            c = health.changed() => {
                if c.is_err() {
                    // The container is gone; its exit future resolves with it.
                    return HealthWait::Exited(exit.await);
                }
            }
        }
    }
}

/// Resolves once the probes of a running task's container say unhealthy (never without a
/// health check).
async fn became_unhealthy(health: Option<watch::Receiver<Option<String>>>) {
    let Some(mut health) = health else {
        return std::future::pending().await;
    };
    loop {
        if health.borrow_and_update().as_deref() == Some("unhealthy") {
            return;
        }
        if health.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Runs one task until it is removed from this node or `stop` fires (daemon shutdown leaves
/// the container running, to be adopted on restart). `adopted` is its existing container.
pub async fn run(
    ctx: RunnerCtx,
    mut rx: watch::Receiver<TaskInput>,
    adopted: Option<TaskContainer>,
    stop: CancellationToken,
) {
    let first = rx.borrow().clone();
    let mut r = Runner {
        ctx,
        status: first.task.status.clone(),
        container: adopted.as_ref().map(|c| c.id.clone()),
        task_id: first.task.id.clone(),
    };
    if let Some(c) = &adopted {
        r.set_exit(c);
        if !r.status.state.is_terminal() {
            if c.running {
                // A container with a health check is running once healthy; until then the
                // task stays starting and the loop below waits for its probes.
                let healthy = match r.ctx.ctl.health(&c.id) {
                    Ok(Some(h)) => h.borrow().as_deref() == Some("healthy"),
                    _ => true,
                };
                if r.status.state < TaskState::Running && healthy {
                    r.report(TaskState::Running, "started", None).await;
                } else if r.status.state < TaskState::Starting {
                    r.report(TaskState::Starting, "starting", None).await;
                }
            } else if r.status.state >= TaskState::Running {
                // It exited while the agent was away.
                r.exited(c.exit_code).await;
            }
        }
    }
    loop {
        let input = rx.borrow_and_update().clone();
        if input.removed {
            if !r.status.state.is_terminal() {
                r.stop(&input).await;
            }
            r.remove_container().await;
            return;
        }
        let desired = input.task.desired_state;
        if r.status.state.is_terminal() {
            if desired >= TaskState::Remove {
                r.remove_container().await;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                c = rx.changed() => if c.is_err() { return },
            }
            continue;
        }
        // Desired RUNNING, or COMPLETE for a job, means run; above that, stop.
        if desired > TaskState::Complete {
            r.stop(&input).await;
            r.report(TaskState::Shutdown, "shutdown", None).await;
            let files = r.ctx.files.clone();
            let id = r.task_id.to_string();
            let _ = tokio::task::spawn_blocking(move || files.cleanup(&id)).await;
            if desired >= TaskState::Remove {
                r.remove_container().await;
            }
            continue;
        }
        match r.status.state {
            TaskState::New | TaskState::Pending | TaskState::Assigned => {
                r.report(TaskState::Accepted, "accepted", None).await;
            }
            TaskState::Accepted => r.report(TaskState::Preparing, "preparing", None).await,
            TaskState::Preparing => {
                if r.container.is_some() {
                    r.report(TaskState::Ready, "prepared", None).await;
                    continue;
                }
                match r.prepare(&input).await {
                    Ok(()) => r.report(TaskState::Ready, "prepared", None).await,
                    Err(e) => {
                        r.report(TaskState::Rejected, "preparing", Some(e)).await;
                        let files = r.ctx.files.clone();
                        let id = r.task_id.to_string();
                        let _ = tokio::task::spawn_blocking(move || files.cleanup(&id)).await;
                    }
                }
            }
            // Desired READY: prepared, not started yet (a delayed restart, a stop-first update).
            TaskState::Ready if desired < TaskState::Running => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    c = rx.changed() => if c.is_err() { return },
                }
            }
            TaskState::Ready => r.report(TaskState::Starting, "starting", None).await,
            TaskState::Starting => {
                let Some(id) = r.container.clone() else {
                    r.report(
                        TaskState::Rejected,
                        "starting",
                        Some("the task's container is gone".into()),
                    )
                    .await;
                    continue;
                };
                // Starting an adopted or already started container is a no-op (NotModified).
                match r.ctx.ctl.start(&id).await {
                    Ok(()) => {
                        if let Ok(c) = r.ctx.ctl.inspect(&id).await {
                            r.set_exit(&c);
                        }
                        let health = match r.ctx.ctl.health(&id) {
                            Ok(h) => h,
                            Err(e) => {
                                r.report(TaskState::Failed, "starting", Some(e.message))
                                    .await;
                                continue;
                            }
                        };
                        if let Some(mut health) = health {
                            let exit = match r.ctx.ctl.wait(&id) {
                                Ok(w) => w,
                                Err(e) => {
                                    r.report(TaskState::Failed, "starting", Some(e.message))
                                        .await;
                                    continue;
                                }
                            };
                            match wait_healthy(&mut health, exit, &mut rx, &stop).await {
                                HealthWait::Healthy => {}
                                HealthWait::Unhealthy(exit) => {
                                    r.unhealthy(&input, exit, "starting").await;
                                    continue;
                                }
                                HealthWait::Exited(code) => {
                                    r.exited(code).await;
                                    continue;
                                }
                                HealthWait::Changed => continue,
                                HealthWait::Stopped => return,
                            }
                        }
                        let unwired = unwired_ports(&input.service);
                        let message = if unwired.is_empty() {
                            "started".to_owned()
                        } else {
                            format!("started; {unwired}")
                        };
                        r.report(TaskState::Running, &message, None).await;
                    }
                    Err(e) => {
                        r.report(TaskState::Failed, "starting", Some(e.message))
                            .await
                    }
                }
            }
            TaskState::Running => {
                let Some(id) = r.container.clone() else {
                    r.report(
                        TaskState::Orphaned,
                        "orphaned",
                        Some("the task's container is gone".into()),
                    )
                    .await;
                    continue;
                };
                let mut wait = match r.ctx.ctl.wait(&id) {
                    Ok(w) => w,
                    Err(e) => {
                        r.report(TaskState::Failed, "started", Some(e.message))
                            .await;
                        continue;
                    }
                };
                let health = r.ctx.ctl.health(&id).ok().flatten();
                tokio::select! {
                    _ = stop.cancelled() => return,
                    code = &mut wait => r.exited(code).await,
                    c = rx.changed() => if c.is_err() { return },
                    () = became_unhealthy(health) => r.unhealthy(&input, wait, "started").await,
                }
            }
            // Terminal states are handled above.
            _ => {}
        }
    }
}
