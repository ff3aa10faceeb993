//! `docker start`: FIFOs, output pumps, task create + start, exit monitor.

use std::sync::{Arc, Mutex};

use crate::runtime::io::{FifoWriter, create_fifos};
use crate::runtime::{IoPaths, RuntimeError};

use super::super::container::{Container, OutEvent};
use super::super::logdriver::{self, DriverConfig, FileLog, RemoteLog};
use super::super::pump::{self, Sinks};
use super::super::record::{ContainerRecord, Status};
use super::super::{Engine, EngineError, EngineResult};

/// dockerd's exit codes for a process that could not be started.
fn start_failure_code(msg: &str) -> i64 {
    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
        127
    } else if msg.contains("permission denied") {
        126
    } else {
        128
    }
}

impl Engine {
    /// `POST /containers/{id}/start`. 304 when already running.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn start(&self, key: &str) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        match c.snapshot().state.status {
            Status::Running => return Err(EngineError::NotModified),
            Status::Paused => {
                return Err(EngineError::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ));
            }
            Status::Removing | Status::Dead => {
                return Err(EngineError::Conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )));
            }
            _ => {}
        }
        c.update(|r| r.state.manually_stopped = false);
        self.start_locked(&c).await
    }

    /// Starts the task of `c`; the caller holds `c.op`.
    pub(crate) async fn start_locked(&self, c: &Arc<Container>) -> EngineResult<()> {
        let rec = c.snapshot();
        // A volume that does not mount fails the start like a task that
        // does not start: the same clean-up, `--rm` included.
        let started = match self.activate_volumes(&rec).await {
            Ok(()) => self.start_task(c, &rec).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(pid) => {
                let (_, rec) = c.update(|r| {
                    r.state.status = Status::Running;
                    r.state.pid = pid;
                    r.state.started_at = Some(chrono::Utc::now());
                    r.state.exit_code = 0;
                    r.state.error.clear();
                    r.state.oom_killed = false;
                });
                self.persist(&rec).await?;
                c.state_tx.send_modify(|s| s.running = true);
                self.emit_volume_mounts(&rec);
                self.emit(&rec, "start", &[]);
                self.spawn_monitor(c.clone());
                self.spawn_health(c).await;
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                let (_, rec) = c.update(|r| {
                    r.state.error = msg.clone();
                    r.state.exit_code = start_failure_code(&msg);
                    if r.state.status != Status::Exited {
                        r.state.status = Status::Created;
                    }
                });
                self.persist(&rec).await?;
                let _ = self.runtime().task_delete(&rec.id).await;
                self.release_network(c).await;
                self.deactivate_volumes(&rec).await;
                let rec = c.snapshot();
                *c.stdin.lock().await = None;
                // Attached clients and waiters of this run must not hang.
                c.out.publish(OutEvent::End).await;
                let code = rec.state.exit_code;
                c.state_tx.send_modify(|s| {
                    s.running = false;
                    s.exit_code = code;
                    s.exits += 1;
                });
                if rec.host_config.auto_remove == Some(true) {
                    // dockerd removes an auto-remove container whose start failed.
                    if let Err(e) = self.remove_locked(c, true).await {
                        tracing::warn!(error = %e, "auto-remove after failed start");
                    }
                }
                Err(match e {
                    EngineError::Runtime(RuntimeError::InvalidArgument(m))
                    | EngineError::Runtime(RuntimeError::FailedPrecondition(m))
                    | EngineError::Runtime(RuntimeError::Internal(m))
                    | EngineError::Runtime(RuntimeError::NotFound(m)) => {
                        EngineError::Invalid(format!("failed to create task for container: {m}"))
                    }
                    other => other,
                })
            }
        }
    }

    /// The FIFO paths of the container's init process.
    pub(crate) fn init_io(&self, rec: &ContainerRecord) -> IoPaths {
        let dir = self.container_run_dir(&rec.id);
        IoPaths {
            stdin: rec.open_stdin().then(|| dir.join("init-stdin")),
            stdout: Some(dir.join("init-stdout")),
            stderr: (!rec.tty()).then(|| dir.join("init-stderr")),
            terminal: rec.tty(),
        }
    }

    /// The logging of `rec`, as checked at create.
    pub(crate) fn log_config(&self, rec: &ContainerRecord) -> EngineResult<DriverConfig> {
        let lc = rec.host_config.log_config.clone().unwrap_or_default();
        logdriver::parse(
            lc.typ.as_deref().unwrap_or(""),
            &lc.config.unwrap_or_default(),
        )
        .map_err(EngineError::Invalid)
    }

    /// Where output goes for `rec`: its readable log file (the driver's own or the
    /// dual-logging cache), a syslog or journald connection, and the attach hub.
    pub(crate) fn sinks(&self, c: &Container, rec: &ContainerRecord) -> EngineResult<Sinks> {
        let cfg = self.log_config(rec)?;
        let log = match cfg.file {
            Some(spec) => {
                let path = logdriver::file_path(&self.container_dir(&rec.id), &rec.id, &cfg);
                let w =
                    FileLog::open(&path, spec).map_err(EngineError::io("opening container log"))?;
                Some(Arc::new(Mutex::new(w)))
            }
            None => None,
        };
        let remote = match &cfg.remote {
            Some(spec) => {
                let info = logdriver::TagInfo {
                    id: &rec.id,
                    name: rec.name.trim_start_matches('/'),
                    image_name: rec.config.image.as_deref().unwrap_or(""),
                    image_id: &rec.image_id,
                };
                let w = RemoteLog::connect(spec, info).map_err(EngineError::Invalid)?;
                Some(Arc::new(Mutex::new(w)))
            }
            None => None,
        };
        Ok(Sinks {
            log,
            remote,
            out: c.out.clone(),
            log_seq: Some(c.log_seq.clone()),
        })
    }

    /// The readable log of `rec` and its format, if its driver keeps one.
    pub(crate) fn log_file(
        &self,
        rec: &ContainerRecord,
    ) -> EngineResult<Option<(std::path::PathBuf, logdriver::Format)>> {
        let cfg = self.log_config(rec)?;
        Ok(cfg.file.map(|spec| {
            (
                logdriver::file_path(&self.container_dir(&rec.id), &rec.id, &cfg),
                spec.format,
            )
        }))
    }

    /// `<data-root>/containers/<id>/<id>-json.log`, as dockerd names it.
    pub(crate) fn log_path(&self, id: &str) -> std::path::PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// Connects pumps and stdin to the FIFOs of a task that exists.
    pub(crate) async fn connect_io(
        &self,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        io: &IoPaths,
        reattach: bool,
    ) -> EngineResult<()> {
        let sinks = self.sinks(c, rec)?;
        let span = tracing::info_span!("pump", container.id = %rec.id);
        let done = pump::spawn(self.tracker(), io, sinks, span, reattach)?;
        *c.pumps_done.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
        if let Some(p) = &io.stdin {
            *c.stdin.lock().await = Some(FifoWriter::open(p)?);
        }
        Ok(())
    }

    async fn start_task(&self, c: &Arc<Container>, rec: &ContainerRecord) -> EngineResult<u32> {
        // A previous run's task must go before a new one can be created.
        let _ = self.runtime().task_delete(&rec.id).await;
        self.create_runtime_container(rec).await?;
        let dir = self.container_run_dir(&rec.id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(EngineError::io("creating FIFO dir"))?;
        let io = create_fifos(&dir, "init", rec.open_stdin(), rec.tty())?;
        let mounts = self.runtime().snapshot_mounts(&rec.id).await?;
        let created_pid = self.runtime().task_create(&rec.id, &mounts, &io).await?;
        // The namespace exists now and nothing runs in it yet: wire it.
        let rec = &self.attach_network(c, created_pid).await?;
        if let Err(e) = self.connect_io(c, rec, &io, false).await {
            self.release_network(c).await;
            return Err(e);
        }
        match self.runtime().task_start(&rec.id).await {
            Ok(pid) => Ok(pid),
            Err(e) => {
                self.release_network(c).await;
                Err(e.into())
            }
        }
    }
}
