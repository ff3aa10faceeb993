//! `docker exec`: extra processes in a running container's task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use shoal_api::models::{ExecConfig, ExecInspectResponse, ProcessConfig};
use shoal_api::stream::detach::parse_detach_keys;
use shoal_api::stream::{AttachIo, StdinSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::runtime::io::{FifoWriter, create_fifos};

use super::containers::live_output;
use super::hub::OutputHub;
use super::names;
use super::pump::{self, Sinks};
use super::record::Status;
use super::{Engine, EngineError, EngineResult};

/// Run state of one exec.
#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: u32,
}

/// One exec instance.
#[derive(Debug)]
pub struct Exec {
    id: String,
    container_id: String,
    config: ExecConfig,
    state: Mutex<ExecState>,
    /// Turns true once the exit code is recorded; the output stream ends
    /// only then, because clients read the code right after it ends.
    exited: tokio::sync::watch::Sender<bool>,
}

/// Every exec known to the engine (dockerd also keeps them in memory only).
#[derive(Debug, Default)]
pub struct ExecTable {
    execs: Mutex<HashMap<String, Arc<Exec>>>,
}

impl ExecTable {
    fn get(&self, id: &str) -> Option<Arc<Exec>> {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
    fn insert(&self, e: Arc<Exec>) {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.id.clone(), e);
    }
    fn remove(&self, id: &str) {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    fn remove_container(&self, cid: &str) {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container_id != cid);
    }
}

impl Exec {
    fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, f: impl FnOnce(&mut ExecState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Engine {
    fn exec_lookup(&self, id: &str) -> EngineResult<Arc<Exec>> {
        self.inner
            .execs
            .get(id)
            .ok_or_else(|| EngineError::NoSuchExec(id.to_owned()))
    }

    /// Drops one exec (a finished health probe) from the table and from
    /// its container's list, as dockerd unregisters probe execs.
    pub(crate) fn exec_forget(&self, c: &super::Container, exec_id: &str) {
        self.inner.execs.remove(exec_id);
        c.update(|r| r.exec_ids.retain(|e| e != exec_id));
    }

    pub(crate) fn exec_forget_container(&self, cid: &str) {
        self.inner.execs.remove_container(cid);
    }

    /// `POST /containers/{id}/exec`.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn exec_create(&self, key: &str, config: ExecConfig) -> EngineResult<String> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        match rec.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )));
            }
            _ => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not running",
                    rec.id
                )));
            }
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(EngineError::Invalid("No exec command specified".into()));
        }
        parse_detach_keys(config.detach_keys.as_deref()).map_err(EngineError::Invalid)?;
        let id = names::new_id();
        self.inner.execs.insert(Arc::new(Exec {
            id: id.clone(),
            container_id: rec.id.clone(),
            config: config.clone(),
            state: Mutex::new(ExecState::default()),
            exited: tokio::sync::watch::channel(false).0,
        }));
        let (_, rec) = c.update(|r| r.exec_ids.push(id.clone()));
        let cmd = config.cmd.unwrap_or_default().join(" ");
        self.emit(
            &rec,
            &format!("exec_create: {cmd}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    /// `POST /exec/{id}/start`.
    #[tracing::instrument(skip_all, fields(exec.id = %exec_id))]
    pub async fn exec_start(
        &self,
        exec_id: &str,
        detach: bool,
        tty: Option<bool>,
    ) -> EngineResult<AttachIo> {
        let ex = self.exec_lookup(exec_id)?;
        {
            let mut st = ex.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.started {
                return Err(EngineError::Conflict(format!(
                    "Error: Exec command {exec_id} has already run"
                )));
            }
            st.started = true;
        }
        let c = self.lookup(&ex.container_id)?;
        let rec = c.snapshot();
        if rec.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let tty = tty.or(ex.config.tty).unwrap_or(false);
        let detach_keys =
            parse_detach_keys(ex.config.detach_keys.as_deref()).map_err(EngineError::Invalid)?;
        let stdin = ex.config.attach_stdin.unwrap_or(false) && !detach;
        let process = self.exec_process(&rec, &ex.config, tty)?;
        let dir = self.container_run_dir(&rec.id);
        std::fs::create_dir_all(&dir).map_err(EngineError::io("creating FIFO dir"))?;
        let io = create_fifos(&dir, &format!("exec-{}", &ex.id[..12]), stdin, tty)?;
        self.runtime()
            .exec_create(&rec.id, &ex.id, &process, &io)
            .await?;
        // The one reader subscribes before the process starts, so output
        // waits in its queue (and then the pipe) until the client reads it.
        let hub = Arc::new(OutputHub::default());
        let rx = (!detach).then(|| hub.subscribe());
        let span = tracing::info_span!("exec pump", exec.id = %ex.id);
        let done = pump::spawn(
            self.tracker(),
            &io,
            Sinks {
                log: None,
                remote: None,
                out: hub,
                log_seq: None,
            },
            span,
            false,
        )?;
        let stdin_writer = match &io.stdin {
            Some(p) => Some(FifoWriter::open(p)?),
            None => None,
        };
        let pid = match self.runtime().exec_start(&rec.id, &ex.id).await {
            Ok(pid) => pid,
            Err(e) => {
                let _ = self.runtime().exec_delete(&rec.id, &ex.id).await;
                ex.set(|s| s.exit_code = Some(126));
                ex.exited.send_replace(true);
                return Err(EngineError::Invalid(format!(
                    "OCI runtime exec failed: {e}"
                )));
            }
        };
        ex.set(|s| {
            s.running = true;
            s.pid = pid;
        });
        self.emit(
            &rec,
            &format!(
                "exec_start: {}",
                ex.config.cmd.clone().unwrap_or_default().join(" ")
            ),
            &[("execID", ex.id.clone())],
        );
        self.spawn_exec_waiter(ex.clone(), done, io.clone());
        let stdin_sink = stdin_writer.map(|w| {
            let exited = tty.then(|| ex.exited.subscribe());
            self.exec_stdin(w, rec.id.clone(), ex.id.clone(), exited)
        });
        let output = match rx {
            None => futures::stream::empty().boxed(),
            Some(rx) => {
                let mut exited = ex.exited.subscribe();
                let after = futures::stream::once(async move {
                    let _ = exited.wait_for(|e| *e).await;
                })
                .filter_map(|()| futures::future::ready(None));
                live_output(rx, true, true).chain(after).boxed()
            }
        };
        Ok(AttachIo {
            tty,
            output,
            stdin: stdin_sink,
            detach_keys,
            on_detach: None,
        })
    }

    /// The sink for an exec's stdin. Without a TTY, the end of the client's
    /// input (EOF or detach) closes the process's stdin, as dockerd does. With
    /// a TTY (`exited` given) it never does: the shim hangs the terminal up
    /// when its stdin FIFO loses its last writer, so the writer is held until
    /// the exec exits, and a detached `docker exec -it` keeps running.
    fn exec_stdin(
        &self,
        mut w: FifoWriter,
        cid: String,
        eid: String,
        exited: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> StdinSink {
        let (client, mut ours) = tokio::io::duplex(64 * 1024);
        let runtime = self.runtime().clone();
        self.tracker().spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match ours.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if w.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            if let Some(mut exited) = exited {
                let _ = w.flush().await;
                let _ = exited.wait_for(|e| *e).await;
                return;
            }
            let _ = w.shutdown().await;
            if let Err(e) = runtime.task_close_stdin(&cid, Some(&eid)).await {
                tracing::debug!(error = %e, "closing exec stdin");
            }
        });
        Box::new(client)
    }

    fn spawn_exec_waiter(
        &self,
        ex: Arc<Exec>,
        mut done: tokio::sync::watch::Receiver<bool>,
        io: crate::runtime::IoPaths,
    ) {
        let engine = self.clone();
        self.tracker().spawn(async move {
            let code = match engine.runtime().exec_wait(&ex.container_id, &ex.id).await {
                Ok(s) => i64::from(s.code),
                Err(e) => {
                    tracing::warn!(exec.id = %ex.id, error = %e, "exec wait failed");
                    -1
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), done.wait_for(|d| *d))
                .await;
            let _ = engine.runtime().exec_delete(&ex.container_id, &ex.id).await;
            ex.set(|s| {
                s.running = false;
                s.exit_code = Some(code);
            });
            ex.exited.send_replace(true);
            for p in [io.stdin, io.stdout, io.stderr].into_iter().flatten() {
                let _ = std::fs::remove_file(p);
            }
            if let Ok(c) = engine.lookup(&ex.container_id) {
                let rec = c.snapshot();
                engine.emit(
                    &rec,
                    "exec_die",
                    &[("execID", ex.id.clone()), ("exitCode", code.to_string())],
                );
            }
        });
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> EngineResult<ExecInspectResponse> {
        let ex = self.exec_lookup(exec_id)?;
        let st = ex.state();
        let cmd = ex.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspectResponse {
            can_remove: Some(false),
            detach_keys: Some(ex.config.detach_keys.clone().unwrap_or_default()),
            id: Some(ex.id.clone()),
            running: Some(st.running),
            exit_code: st.exit_code,
            process_config: Some(ProcessConfig {
                privileged: Some(ex.config.privileged.unwrap_or(false)),
                user: Some(ex.config.user.clone().unwrap_or_default()),
                tty: Some(ex.config.tty.unwrap_or(false)),
                entrypoint: cmd.first().cloned(),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
            }),
            open_stdin: Some(ex.config.attach_stdin.unwrap_or(false)),
            open_stderr: Some(ex.config.attach_stderr.unwrap_or(false)),
            open_stdout: Some(ex.config.attach_stdout.unwrap_or(false)),
            container_id: Some(ex.container_id.clone()),
            pid: Some(i64::from(st.pid)),
        })
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> EngineResult<()> {
        let ex = self.exec_lookup(exec_id)?;
        if !ex.state().running {
            return Err(EngineError::Conflict(format!(
                "Exec {exec_id} is not running"
            )));
        }
        self.runtime()
            .task_resize(
                &ex.container_id,
                Some(&ex.id),
                u32::from(width),
                u32::from(height),
            )
            .await?;
        Ok(())
    }
}
