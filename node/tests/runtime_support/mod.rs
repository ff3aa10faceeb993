//! Shared harness for the runtime integration tests: a private containerd
//! (via `Supervisor`) on temp dirs, and a busybox rootfs bind-mounted as
//! each container's root. Needs root, containerd 1.6 and runc.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use shoal_node::runtime::io::FifoReader;
use shoal_node::runtime::oci_spec::{self, NetworkMode, SpecInput};
use shoal_node::runtime::supervisor::{Supervisor, SupervisorConfig};
use shoal_node::runtime::{IoPaths, Mount, Runtime};
use tokio::time::Instant;

const APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "cat", "id", "ls", "tty", "true", "false", "printf", "seq", "test",
    "grep", "pwd", "touch", "hostname", "stty",
];

/// One test's private containerd and scratch space.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sup: Option<Supervisor>,
    pub rt: Runtime,
    pub rootfs: PathBuf,
}

pub fn config(dir: &Path) -> SupervisorConfig {
    SupervisorConfig {
        data_root: dir.join("data"),
        exec_root: dir.join("run"),
        log_level: "info".into(),
    }
}

impl Env {
    pub async fn new() -> Env {
        assert!(nix::unistd::geteuid().is_root(), "runtime tests need root");
        // Short base path: the containerd socket path must stay < 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("shrt")
            .tempdir_in("/tmp")
            .unwrap();
        let sup = Supervisor::start(config(dir.path()))
            .await
            .expect("start containerd (is containerd 1.6 installed?)");
        let rt = Runtime::connect(&sup.socket(), "shoal-test", Duration::from_secs(10))
            .await
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        Env {
            dir,
            sup: Some(sup),
            rt,
            rootfs,
        }
    }

    pub fn fifo_dir(&self) -> PathBuf {
        self.dir.path().join("fifos")
    }

    pub fn rootfs_mounts(&self) -> Vec<Mount> {
        vec![Mount {
            kind: "bind".into(),
            source: self.rootfs.to_string_lossy().into_owned(),
            target: String::new(),
            options: vec!["rbind".into(), "rw".into()],
        }]
    }

    /// A per-process unique container ID (cgroup paths are host-global).
    pub fn id(name: &str) -> String {
        format!("{name}-{}", std::process::id())
    }

    pub fn spec(id: &str, cmd: &[&str], tty: bool) -> serde_json::Value {
        let mut input = SpecInput {
            id: id.to_owned(),
            network: NetworkMode::Isolated,
            cgroups_path: format!("/shoal-test/{id}"),
            cgroup_v2: oci_spec::cgroup_v2(),
            ..Default::default()
        };
        input.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        input.config.tty = Some(tty);
        oci_spec::build_spec(&input).unwrap()
    }

    /// Creates the container and its task (not started).
    pub async fn create(&self, id: &str, cmd: &[&str], stdin: bool, tty: bool) -> IoPaths {
        self.create_with_spec(id, &Self::spec(id, cmd, tty), stdin, tty)
            .await
    }

    /// Like [`Env::create`] with a caller-built spec.
    pub async fn create_with_spec(
        &self,
        id: &str,
        spec: &serde_json::Value,
        stdin: bool,
        tty: bool,
    ) -> IoPaths {
        self.rt
            .container_create(id, spec, None, "busybox", Default::default())
            .await
            .unwrap();
        let io = shoal_node::runtime::io::create_fifos(&self.fifo_dir(), id, stdin, tty).unwrap();
        self.rt
            .task_create(id, &self.rootfs_mounts(), &io)
            .await
            .unwrap();
        io
    }

    /// Kills, deletes the task and the container; tolerant of what is gone.
    pub async fn remove(&self, id: &str) {
        if let Ok(Some(t)) = self.rt.task_get(id).await
            && t.status != shoal_node::runtime::TaskStatus::Stopped
        {
            let _ = self.rt.task_kill(id, 9, true).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), self.rt.task_wait(id)).await;
        }
        self.rt.task_delete(id).await.unwrap();
        self.rt.container_delete(id).await.unwrap();
    }

    pub async fn shutdown(mut self) {
        if let Some(sup) = self.sup.take() {
            sup.shutdown().await;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A failed test must not leave its containerd, shims, containers or
        // mounts behind.
        if self.sup.is_none() && !std::thread::panicking() {
            return;
        }
        let run = config(self.dir.path()).exec_root;
        if let Some(pid) = std::fs::read_to_string(run.join("containerd/containerd.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            kill9(pid);
        }
        let socket = run.join("containerd/containerd.sock");
        let socket = socket.to_string_lossy();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if !args.iter().any(|a| a == socket.as_ref()) {
                continue;
            }
            // A shim of ours: kill its container's processes, then the shim.
            if let Some(id) = args
                .iter()
                .position(|a| a == "-id")
                .and_then(|i| args.get(i + 1))
            {
                for procs in [
                    format!("/sys/fs/cgroup/pids/shoal-test/{id}/cgroup.procs"),
                    format!("/sys/fs/cgroup/shoal-test/{id}/cgroup.procs"),
                ] {
                    for p in std::fs::read_to_string(procs).unwrap_or_default().lines() {
                        if let Ok(p) = p.trim().parse() {
                            kill9(p);
                        }
                    }
                }
            }
            kill9(pid);
        }
        let base = self.dir.path().to_string_lossy().into_owned();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for target in info.lines().filter_map(|l| l.split(' ').nth(4)) {
            if target.starts_with(&base) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Reads until EOF, failing after `limit`.
pub async fn read_to_end(reader: &mut FifoReader, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout_at(deadline, reader.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no EOF within {limit:?}; got {:?}",
                    String::from_utf8_lossy(&out)
                )
            })
            .unwrap();
        if n == 0 {
            return String::from_utf8_lossy(&out).into_owned();
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Reads until the output contains `needle`, failing after `limit`.
pub async fn read_until(reader: &mut FifoReader, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains(needle) {
        let n = tokio::time::timeout_at(deadline, reader.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{needle:?} not seen within {limit:?}; got {:?}",
                    String::from_utf8_lossy(&out)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "EOF before {needle:?}; got {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls `f` until it returns true or `limit` passes.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
