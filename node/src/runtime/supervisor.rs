//! The embedded containerd: config, start, health, restart with back-off.
//!
//! Modelled on moby's `libcontainerd/supervisor`: shoal writes a private
//! `containerd.toml` (its own root, state and socket, CRI off, no debug or
//! metrics listeners, so it never clashes with a system containerd), spawns
//! `containerd --config …` in its own process group (a Ctrl-C on shoal's
//! terminal must not reach it), appends its output to
//! `<data_root>/containerd.log`, and restarts it with back-off (1 s doubling
//! to 30 s) whenever it dies.
//!
//! Containers outlive all of this: runc v2 shims run in their own process
//! groups and reconnect to a restarted containerd, and shutdown only
//! signals containerd itself. A pid file in `<exec_root>/containerd` lets a
//! shoal restarted after `kill -9` adopt the containerd that is still
//! running (if its socket answers) instead of starting a second one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use containerd_client::services::v1::version_client::VersionClient;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{RuntimeError, RuntimeResult};

/// How long a fresh containerd gets to answer on its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long containerd gets to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A containerd that ran this long resets the back-off.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Plugins turned off: CRI (Docker's engine does not use it) and
/// snapshotters/tracing that only fail noisily on a Docker host.
const DISABLED_PLUGINS: &[&str] = &[
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
];

/// Where and how to run the embedded containerd.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// shoal's data root; containerd's root is `<data_root>/containerd`.
    pub data_root: PathBuf,
    /// shoal's exec root; containerd's state, socket, config and pid file
    /// live in `<exec_root>/containerd`.
    pub exec_root: PathBuf,
    /// containerd `--log-level` (`debug`, `info`, `warn`, `error`).
    pub log_level: String,
}

impl SupervisorConfig {
    fn state_dir(&self) -> PathBuf {
        self.exec_root.join("containerd")
    }
    fn socket(&self) -> PathBuf {
        self.state_dir().join("containerd.sock")
    }
    fn pid_file(&self) -> PathBuf {
        self.state_dir().join("containerd.pid")
    }
    fn config_file(&self) -> PathBuf {
        self.state_dir().join("containerd.toml")
    }
    fn log_file(&self) -> PathBuf {
        self.data_root.join("containerd.log")
    }
}

/// The running (spawned or adopted) containerd and its monitor task.
#[derive(Debug)]
pub struct Supervisor {
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    monitor: JoinHandle<()>,
}

/// A containerd process we either started or found from a previous run.
#[derive(Debug)]
enum Proc {
    Child(Child),
    Adopted(i32),
}

impl Proc {
    fn pid(&self) -> Option<i32> {
        match self {
            Proc::Child(c) => c.id().and_then(|p| i32::try_from(p).ok()),
            Proc::Adopted(p) => Some(*p),
        }
    }

    /// Resolves when the process has exited.
    async fn exited(&mut self) {
        match self {
            Proc::Child(c) => {
                let status = c.wait().await;
                warn!(?status, "containerd exited");
            }
            // Not our child: no wait(2); poll /proc until it is gone.
            Proc::Adopted(pid) => {
                while is_containerd(*pid) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                warn!(pid = *pid, "adopted containerd exited");
            }
        }
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    async fn terminate(&mut self) {
        let Some(pid) = self.pid() else { return };
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        if tokio::time::timeout(STOP_TIMEOUT, self.exited())
            .await
            .is_err()
        {
            warn!(pid, "containerd ignored SIGTERM; killing it");
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = tokio::time::timeout(STOP_TIMEOUT, self.exited()).await;
        }
    }
}

/// Whether `pid` is a live (non-zombie) containerd process.
fn is_containerd(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "<pid> (<comm>) <state> …"; comm may hold spaces, so split at the last ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return false;
    };
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
    let state = tail.trim_start().chars().next().unwrap_or('Z');
    comm == "containerd" && state != 'Z' && state != 'X'
}

fn io_err(context: impl Into<String>, source: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        context: context.into(),
        source,
    }
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The generated `containerd.toml` (config version 2, containerd 1.6).
fn render_config(cfg: &SupervisorConfig) -> String {
    let disabled: Vec<String> = DISABLED_PLUGINS.iter().map(|p| toml_str(p)).collect();
    let root = cfg.data_root.join("containerd");
    format!(
        "# Generated by shoal; rewritten at every start.\n\
         version = 2\n\
         root = {root}\n\
         state = {state}\n\
         disabled_plugins = [{disabled}]\n\
         \n\
         [grpc]\n  address = {socket}\n\
         \n\
         [ttrpc]\n  address = \"\"\n\
         \n\
         [debug]\n  address = \"\"\n\
         \n\
         [metrics]\n  address = \"\"\n",
        root = toml_str(&root.to_string_lossy()),
        state = toml_str(&cfg.state_dir().to_string_lossy()),
        disabled = disabled.join(", "),
        socket = toml_str(&cfg.socket().to_string_lossy()),
    )
}

/// Whether containerd answers a version call on `socket` within `timeout`.
async fn socket_answers(socket: &Path, timeout: Duration) -> bool {
    let socket = socket.to_owned();
    let probe = async move {
        let channel = containerd_client::connect(&socket).await.ok()?;
        VersionClient::new(channel).version(()).await.ok()
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(_)))
}

fn spawn(cfg: &SupervisorConfig) -> RuntimeResult<Proc> {
    let log_path = cfg.log_file();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| io_err(format!("open {}", log_path.display()), e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| io_err(format!("dup {}", log_path.display()), e))?;
    // A stale socket file would make the readiness probe hit nothing useful.
    let _ = std::fs::remove_file(cfg.socket());
    let child = Command::new("containerd")
        .arg("--config")
        .arg(cfg.config_file())
        .arg("--log-level")
        .arg(&cfg.log_level)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        // Own process group: terminal signals to shoal's group skip containerd.
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| io_err("spawn containerd", e))?;
    let proc = Proc::Child(child);
    if let Some(pid) = proc.pid() {
        std::fs::write(cfg.pid_file(), format!("{pid}\n"))
            .map_err(|e| io_err(format!("write {}", cfg.pid_file().display()), e))?;
        info!(pid, socket = %cfg.socket().display(), "containerd started");
    }
    Ok(proc)
}

/// Waits until `proc` answers on the socket; fails if it exits first or
/// [`START_TIMEOUT`] passes.
async fn wait_ready(cfg: &SupervisorConfig, proc: &mut Proc) -> RuntimeResult<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if socket_answers(&cfg.socket(), Duration::from_secs(1)).await {
            return Ok(());
        }
        if let Proc::Child(c) = proc
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(RuntimeError::Unavailable(format!(
                "containerd exited during start ({status}); see {}",
                cfg.log_file().display()
            )));
        }
        if Instant::now() >= deadline {
            return Err(RuntimeError::Unavailable(format!(
                "containerd did not answer on {} within {START_TIMEOUT:?}",
                cfg.socket().display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finds the containerd of a previous shoal run via the pid file: adopts it
/// if it answers, kills it otherwise.
async fn adopt_previous(cfg: &SupervisorConfig) -> Option<Proc> {
    let pid: i32 = std::fs::read_to_string(cfg.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // The pid may have been recycled, possibly by another containerd (the
    // system's): only ours runs with our config file.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let config = cfg.config_file();
    let ours = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == config.as_os_str().as_encoded_bytes());
    if !is_containerd(pid) || !ours {
        return None;
    }
    if socket_answers(&cfg.socket(), Duration::from_secs(2)).await {
        info!(pid, "reusing containerd from a previous run");
        return Some(Proc::Adopted(pid));
    }
    warn!(
        pid,
        "containerd from a previous run does not answer; killing it"
    );
    Proc::Adopted(pid).terminate().await;
    None
}

impl Supervisor {
    /// Starts (or adopts) containerd and returns once its socket answers.
    ///
    /// Errors: `Io` for files and spawning, `Unavailable` when containerd
    /// exits during start or does not answer within 30 s.
    pub async fn start(cfg: SupervisorConfig) -> RuntimeResult<Supervisor> {
        for dir in [cfg.data_root.join("containerd"), cfg.state_dir()] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| io_err(format!("create {}", dir.display()), e))?;
        }
        std::fs::write(cfg.config_file(), render_config(&cfg))
            .map_err(|e| io_err(format!("write {}", cfg.config_file().display()), e))?;

        let proc = match adopt_previous(&cfg).await {
            Some(p) => p,
            None => {
                let mut p = spawn(&cfg)?;
                if let Err(e) = wait_ready(&cfg, &mut p).await {
                    p.terminate().await;
                    return Err(e);
                }
                p
            }
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let socket = cfg.socket();
        let monitor = tokio::spawn(monitor(cfg, proc, stop_rx));
        Ok(Supervisor {
            socket,
            stop: Some(stop_tx),
            monitor,
        })
    }

    /// containerd's gRPC socket, for `Runtime::connect`.
    pub fn socket(&self) -> PathBuf {
        self.socket.clone()
    }

    /// Stops containerd (SIGTERM, SIGKILL after 10 s) and waits for it.
    /// Running containers are left alone. Dropping a `Supervisor` without
    /// calling this leaves containerd running for the next shoal to adopt.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.monitor).await;
    }
}

/// Watches containerd and restarts it with back-off until told to stop.
async fn monitor(cfg: SupervisorConfig, proc: Proc, mut stop: oneshot::Receiver<()>) {
    let mut proc = Some(proc);
    let mut backoff = BACKOFF_MIN;
    loop {
        let started = Instant::now();
        if let Some(p) = proc.as_mut() {
            tokio::select! {
                _ = p.exited() => {}
                res = &mut stop => {
                    if res.is_ok() {
                        p.terminate().await;
                        let _ = std::fs::remove_file(cfg.pid_file());
                        info!("containerd stopped");
                    }
                    return;
                }
            }
        }
        proc = None;
        if started.elapsed() >= HEALTHY_RUN {
            backoff = BACKOFF_MIN;
        }
        warn!(?backoff, "restarting containerd");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = &mut stop => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        match spawn(&cfg) {
            Ok(mut p) => {
                if let Err(e) = wait_ready(&cfg, &mut p).await {
                    warn!(error = %e, "restarted containerd is not ready");
                }
                proc = Some(p);
            }
            Err(e) => warn!(error = %e, "cannot restart containerd"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_uses_private_paths() {
        let cfg = SupervisorConfig {
            data_root: PathBuf::from("/var/lib/shoal"),
            exec_root: PathBuf::from("/run/shoal"),
            log_level: "info".into(),
        };
        let toml = render_config(&cfg);
        assert!(toml.contains("version = 2\n"));
        assert!(toml.contains("root = \"/var/lib/shoal/containerd\"\n"));
        assert!(toml.contains("state = \"/run/shoal/containerd\"\n"));
        assert!(toml.contains("[grpc]\n  address = \"/run/shoal/containerd/containerd.sock\"\n"));
        assert!(toml.contains("\"io.containerd.grpc.v1.cri\""));
        assert!(toml.contains("[debug]\n  address = \"\""));
        assert!(toml.contains("[metrics]\n  address = \"\""));
        assert!(toml.contains("[ttrpc]\n  address = \"\""));
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_str(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn our_own_process_is_not_containerd() {
        assert!(!is_containerd(std::process::id() as i32));
        assert!(!is_containerd(i32::MAX));
    }
}
