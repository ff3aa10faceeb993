//! containerd tasks service calls: the container's init process ("task")
//! and extra processes ("execs") inside it.
//!
//! Output FIFOs must have a reader while the shim opens them (task `Create`,
//! exec `Start`); [`RendezvousGuard`] provides one for the duration of those
//! calls so the engine may open its `FifoReader`s at any time.

use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    CloseIoRequest, CreateTaskRequest, DeleteProcessRequest, DeleteTaskRequest, ExecProcessRequest,
    GetRequest, KillRequest, ListPidsRequest, ListTasksRequest, PauseTaskRequest, ResizePtyRequest,
    ResumeTaskRequest, StartRequest, UpdateTaskRequest, WaitRequest,
};
use containerd_client::tonic::transport::Channel;
use containerd_client::types::Mount as PbMount;
use containerd_client::types::v1::Status as PbStatus;
use prost_types::{Any, Timestamp};
use tracing::instrument;

use super::{Runtime, status_to_error};
use crate::runtime::io::RendezvousGuard;
use crate::runtime::{
    ExitStatus, IoPaths, Mount, RuntimeError, RuntimeResult, TaskInfo, TaskStatus,
};

/// `Any` type URL containerd 1.6 registers for an OCI process spec.
const PROCESS_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";
/// `Any` type URL containerd 1.6 registers for OCI `linux.resources`.
const RESOURCES_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

fn path_str(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn timestamp(ts: Option<Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    let ts = ts?;
    // containerd reports the zero time (0001-01-01) for "not exited".
    if ts.seconds <= 0 {
        return None;
    }
    chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
}

fn task_info(p: &containerd_client::types::v1::Process) -> TaskInfo {
    let status = status(p.status);
    TaskInfo {
        pid: p.pid,
        status,
        exit: (status == TaskStatus::Stopped).then(|| ExitStatus {
            code: p.exit_status,
            exited_at: timestamp(p.exited_at),
        }),
    }
}

fn status(s: i32) -> TaskStatus {
    match PbStatus::try_from(s) {
        Ok(PbStatus::Created) => TaskStatus::Created,
        Ok(PbStatus::Running) => TaskStatus::Running,
        Ok(PbStatus::Stopped) => TaskStatus::Stopped,
        Ok(PbStatus::Paused) => TaskStatus::Paused,
        Ok(PbStatus::Pausing) => TaskStatus::Pausing,
        Ok(PbStatus::Unknown) | Err(_) => TaskStatus::Unknown,
    }
}

impl Runtime {
    fn tasks(&self) -> TasksClient<Channel> {
        TasksClient::new(self.channel())
    }

    /// Creates the task (init process, not started) of container `id` on the
    /// given rootfs mounts (empty when the container has a snapshot key),
    /// wiring its stdio to the FIFOs in `io`. Returns the init PID.
    ///
    /// Errors: `NotFound` (no container), `AlreadyExists` (task exists),
    /// `Internal` for OCI runtime failures (runc's message is kept).
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_create(
        &self,
        id: &str,
        rootfs: &[Mount],
        io: &IoPaths,
    ) -> RuntimeResult<u32> {
        let req = CreateTaskRequest {
            container_id: id.to_owned(),
            rootfs: rootfs
                .iter()
                .map(|m| PbMount {
                    r#type: m.kind.clone(),
                    source: m.source.clone(),
                    target: m.target.clone(),
                    options: m.options.clone(),
                })
                .collect(),
            stdin: path_str(&io.stdin),
            stdout: path_str(&io.stdout),
            stderr: path_str(&io.stderr),
            terminal: io.terminal,
            ..Default::default()
        };
        let _guard = RendezvousGuard::open(io)?;
        let resp = self
            .tasks()
            .create(self.request(req))
            .await
            .map_err(|s| status_to_error("create task", s))?;
        Ok(resp.into_inner().pid)
    }

    /// Starts the created task; returns its PID.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_start(&self, id: &str) -> RuntimeResult<u32> {
        self.start_process(id, "").await
    }

    async fn start_process(&self, id: &str, exec_id: &str) -> RuntimeResult<u32> {
        let resp = self
            .tasks()
            .start(self.request(StartRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("start task", s))?;
        Ok(resp.into_inner().pid)
    }

    /// The task of container `id`, or `None` when it has none.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_get(&self, id: &str) -> RuntimeResult<Option<TaskInfo>> {
        let resp = match self
            .tasks()
            .get(self.request(GetRequest {
                container_id: id.to_owned(),
                exec_id: String::new(),
            }))
            .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => match status_to_error("get task", s) {
                RuntimeError::NotFound(_) => return Ok(None),
                e => return Err(e),
            },
        };
        Ok(resp.process.as_ref().map(task_info))
    }

    /// Every task in the namespace as `(container id, info)`, sorted by ID;
    /// what the engine reconciles its records with after a restart.
    #[instrument(skip_all)]
    pub async fn task_list(&self) -> RuntimeResult<Vec<(String, TaskInfo)>> {
        let resp = self
            .tasks()
            .list(self.request(ListTasksRequest {
                filter: String::new(),
            }))
            .await
            .map_err(|s| status_to_error("list tasks", s))?;
        let mut tasks: Vec<(String, TaskInfo)> = resp
            .into_inner()
            .tasks
            .iter()
            // containerd 1.6 puts the container ID in `id` here, not `container_id`.
            .map(|p| {
                let id = if p.container_id.is_empty() {
                    p.id.clone()
                } else {
                    p.container_id.clone()
                };
                (id, task_info(p))
            })
            .collect();
        tasks.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(tasks)
    }

    /// Applies new cgroup limits (an OCI `linux.resources` object, see
    /// `oci_spec::update_resources`) to a running task (`docker update`).
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_update(&self, id: &str, resources: &serde_json::Value) -> RuntimeResult<()> {
        let value = serde_json::to_vec(resources)
            .map_err(|e| RuntimeError::InvalidArgument(format!("encode resources: {e}")))?;
        self.tasks()
            .update(self.request(UpdateTaskRequest {
                container_id: id.to_owned(),
                resources: Some(Any {
                    type_url: RESOURCES_TYPE_URL.to_owned(),
                    value,
                }),
                annotations: Default::default(),
            }))
            .await
            .map_err(|s| status_to_error("update task", s))?;
        Ok(())
    }

    /// Sends `signal` to the init process, or to every process of the
    /// container with `all`.
    ///
    /// Errors: `NotFound` when there is no task or it is not running.
    #[instrument(skip_all, fields(container.id = %id, signal))]
    pub async fn task_kill(&self, id: &str, signal: u32, all: bool) -> RuntimeResult<()> {
        self.kill_process(id, "", signal, all).await
    }

    async fn kill_process(
        &self,
        id: &str,
        exec_id: &str,
        signal: u32,
        all: bool,
    ) -> RuntimeResult<()> {
        self.tasks()
            .kill(self.request(KillRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.to_owned(),
                signal,
                all,
            }))
            .await
            .map_err(|s| status_to_error("kill", s))?;
        Ok(())
    }

    /// Blocks until the init process exits; returns at once if it already
    /// has. Cancel-safe (dropping the future only drops the RPC).
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_wait(&self, id: &str) -> RuntimeResult<ExitStatus> {
        self.wait_process(id, "").await
    }

    async fn wait_process(&self, id: &str, exec_id: &str) -> RuntimeResult<ExitStatus> {
        let resp = self
            .tasks()
            .wait(self.request(WaitRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("wait", s))?
            .into_inner();
        Ok(ExitStatus {
            code: resp.exit_status,
            exited_at: timestamp(resp.exited_at),
        })
    }

    /// Deletes the (stopped) task and returns how it exited; `Ok(None)` when
    /// there was no task.
    ///
    /// Errors: `FailedPrecondition` while the task is still running.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_delete(&self, id: &str) -> RuntimeResult<Option<ExitStatus>> {
        match self
            .tasks()
            .delete(self.request(DeleteTaskRequest {
                container_id: id.to_owned(),
            }))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                Ok(Some(ExitStatus {
                    code: r.exit_status,
                    exited_at: timestamp(r.exited_at),
                }))
            }
            Err(s) => match status_to_error("delete task", s) {
                RuntimeError::NotFound(_) => Ok(None),
                e => Err(e),
            },
        }
    }

    /// Freezes every process of the container (cgroup freezer).
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_pause(&self, id: &str) -> RuntimeResult<()> {
        self.tasks()
            .pause(self.request(PauseTaskRequest {
                container_id: id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("pause task", s))?;
        Ok(())
    }

    /// Thaws a paused container.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_resume(&self, id: &str) -> RuntimeResult<()> {
        self.tasks()
            .resume(self.request(ResumeTaskRequest {
                container_id: id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("resume task", s))?;
        Ok(())
    }

    /// Host PIDs of every process in the container.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn task_pids(&self, id: &str) -> RuntimeResult<Vec<u32>> {
        let resp = self
            .tasks()
            .list_pids(self.request(ListPidsRequest {
                container_id: id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("list pids", s))?;
        Ok(resp.into_inner().processes.iter().map(|p| p.pid).collect())
    }

    /// Resizes the pseudo-terminal of the init process (`exec_id` `None`)
    /// or of an exec.
    #[instrument(skip_all, fields(container.id = %id, exec.id = exec_id))]
    pub async fn task_resize(
        &self,
        id: &str,
        exec_id: Option<&str>,
        width: u32,
        height: u32,
    ) -> RuntimeResult<()> {
        self.tasks()
            .resize_pty(self.request(ResizePtyRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.unwrap_or_default().to_owned(),
                width,
                height,
            }))
            .await
            .map_err(|s| status_to_error("resize pty", s))?;
        Ok(())
    }

    /// Closes the shim's own write end of the stdin FIFO of the init process
    /// (`exec_id` `None`) or an exec. Together with closing the engine's
    /// `FifoWriter` this delivers EOF to the process.
    #[instrument(skip_all, fields(container.id = %id, exec.id = exec_id))]
    pub async fn task_close_stdin(&self, id: &str, exec_id: Option<&str>) -> RuntimeResult<()> {
        self.tasks()
            .close_io(self.request(CloseIoRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.unwrap_or_default().to_owned(),
                stdin: true,
            }))
            .await
            .map_err(|s| status_to_error("close stdin", s))?;
        Ok(())
    }

    /// Registers exec `exec_id` in the running container `id`; `process` is
    /// an OCI `process` object (see `oci_spec::exec_process`).
    ///
    /// Errors: `AlreadyExists` for a duplicate exec ID, `FailedPrecondition`
    /// or `NotFound` when the container is not running.
    #[instrument(skip_all, fields(container.id = %id, exec.id = %exec_id))]
    pub async fn exec_create(
        &self,
        id: &str,
        exec_id: &str,
        process: &serde_json::Value,
        io: &IoPaths,
    ) -> RuntimeResult<()> {
        let value = serde_json::to_vec(process)
            .map_err(|e| RuntimeError::InvalidArgument(format!("encode exec process: {e}")))?;
        self.tasks()
            .exec(self.request(ExecProcessRequest {
                container_id: id.to_owned(),
                stdin: path_str(&io.stdin),
                stdout: path_str(&io.stdout),
                stderr: path_str(&io.stderr),
                terminal: io.terminal,
                spec: Some(Any {
                    type_url: PROCESS_TYPE_URL.to_owned(),
                    value,
                }),
                exec_id: exec_id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("exec", s))?;
        Ok(())
    }

    /// Starts a created exec; returns its host PID. The output FIFOs given
    /// to [`Runtime::exec_create`] are opened by the shim during this call.
    #[instrument(skip_all, fields(container.id = %id, exec.id = %exec_id))]
    pub async fn exec_start(&self, id: &str, exec_id: &str) -> RuntimeResult<u32> {
        let io = self.exec_io(id, exec_id).await?;
        let _guard = RendezvousGuard::open(&io)?;
        self.start_process(id, exec_id).await
    }

    /// The FIFO paths containerd recorded for an exec.
    async fn exec_io(&self, id: &str, exec_id: &str) -> RuntimeResult<IoPaths> {
        let resp = self
            .tasks()
            .get(self.request(GetRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error("get exec", s))?
            .into_inner();
        let p = resp
            .process
            .ok_or_else(|| RuntimeError::NotFound(format!("exec {exec_id} in {id}")))?;
        let path = |s: String| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
        Ok(IoPaths {
            stdin: path(p.stdin),
            stdout: path(p.stdout),
            stderr: path(p.stderr),
            terminal: p.terminal,
        })
    }

    /// Blocks until the exec exits; returns at once if it already has.
    #[instrument(skip_all, fields(container.id = %id, exec.id = %exec_id))]
    pub async fn exec_wait(&self, id: &str, exec_id: &str) -> RuntimeResult<ExitStatus> {
        self.wait_process(id, exec_id).await
    }

    /// Sends `signal` to an exec.
    #[instrument(skip_all, fields(container.id = %id, exec.id = %exec_id, signal))]
    pub async fn exec_kill(&self, id: &str, exec_id: &str, signal: u32) -> RuntimeResult<()> {
        self.kill_process(id, exec_id, signal, false).await
    }

    /// Deletes a stopped exec and returns how it exited; `Ok(None)` when
    /// the exec (or the task) is gone already.
    #[instrument(skip_all, fields(container.id = %id, exec.id = %exec_id))]
    pub async fn exec_delete(&self, id: &str, exec_id: &str) -> RuntimeResult<Option<ExitStatus>> {
        match self
            .tasks()
            .delete_process(self.request(DeleteProcessRequest {
                container_id: id.to_owned(),
                exec_id: exec_id.to_owned(),
            }))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                Ok(Some(ExitStatus {
                    code: r.exit_status,
                    exited_at: timestamp(r.exited_at),
                }))
            }
            Err(s) => match status_to_error("delete exec", s) {
                RuntimeError::NotFound(_) => Ok(None),
                e => Err(e),
            },
        }
    }
}
