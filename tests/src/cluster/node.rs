//! One swarm node: a daemon process (shoal or dockerd) inside its host's network namespace.

use super::cli_for;
use crate::daemon::Engine;
use crate::docker::{Cli, Out};
use crate::netns::Host;
use crate::{http, wait};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a daemon may take to answer `/_ping` after spawning.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A node of a [`super::Cluster`]; its daemon may be stopped, killed and restarted.
#[derive(Debug)]
pub struct Node {
    engine: Engine,
    /// The node's host (namespace, veth, address).
    pub host: Host,
    dir: PathBuf,
    cli: Cli,
    child: Mutex<Option<Child>>,
    /// Extra environment of the daemon (test-only hooks).
    pub(super) env: Vec<(String, String)>,
}

/// One row of `docker node ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Node ID.
    pub id: String,
    /// Hostname (the harness names hosts `m1`, `w1`, …).
    pub hostname: String,
    /// `Ready`, `Down`, `Unknown`, `Disconnected`.
    pub status: String,
    /// `Active`, `Pause`, `Drain`.
    pub availability: String,
    /// `Leader`, `Reachable`, `Unreachable`, or empty for a worker.
    pub manager_status: String,
    /// Whether this row is the node answering.
    pub is_self: bool,
}

impl Node {
    pub(super) fn new(engine: Engine, host: Host, dir: &Path) -> Node {
        std::fs::create_dir_all(dir.join("data")).expect("create node dir");
        // The test networks (10.77.K.0/24) may hold plain-HTTP registries of the tests.
        std::fs::write(
            dir.join("daemon.json"),
            r#"{"insecure-registries": ["10.77.0.0/16"]}"#,
        )
        .expect("write daemon.json");
        Node {
            engine,
            host,
            dir: dir.to_path_buf(),
            cli: cli_for(dir),
            child: Mutex::new(None),
            env: Vec::new(),
        }
    }

    /// Short name (`m1`); also its hostname.
    pub fn name(&self) -> &str {
        &self.host.name
    }

    /// The hostname `docker node ls` shows for this node.
    pub fn hostname(&self) -> &str {
        &self.host.name
    }

    /// Started as a manager (`m*`).
    pub fn is_manager_name(&self) -> bool {
        self.name().starts_with('m')
    }

    /// A spare host, not joined at start (`s*`).
    pub fn is_spare(&self) -> bool {
        self.name().starts_with('s')
    }

    /// The node's directory (`d.sock`, `data/`, `x/`, `daemon.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `--data-root`.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The docker CLI for this node.
    pub fn cli(&self) -> &Cli {
        &self.cli
    }

    /// The daemon command, run inside the host's network namespace (nsenter, which unlike
    /// `ip netns exec` leaves /sys and the cgroup tree alone) and its own UTS namespace so the
    /// node's hostname is its name.
    fn command(&self) -> Command {
        let d = &self.dir;
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.host.netns_path().display()))
            .args(["unshare", "--uts", "--", "sh", "-c"])
            .arg(r#"hostname "$0" && exec "$@""#)
            .arg(self.name())
            .arg(self.engine.binary());
        match self.engine {
            Engine::Shoal => {
                c.arg("daemon");
            }
            // Off the machine's networking; no --live-restore, which swarm mode refuses.
            Engine::Dockerd => {
                c.args(["--iptables=false", "--ip-forward=false", "--bridge=none"]);
            }
        }
        c.arg("-H")
            .arg(format!("unix://{}", d.join("d.sock").display()))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("x"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .args(["--log-level", &log_level()]);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Spawns the daemon (log appended to `daemon.log`) without waiting for it.
    pub fn spawn(&self) {
        let mut guard = self.child.lock().expect("lock");
        if let Some(c) = guard.as_mut() {
            assert!(
                !matches!(c.try_wait(), Ok(None)),
                "{}: daemon already running",
                self.name()
            );
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .expect("open daemon.log");
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        // nsenter, unshare and sh all exec: the child's pid is the daemon's.
        *guard = Some(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")));
    }

    /// Waits until `/_ping` answers 200; panics with the log if the daemon exits or times out.
    #[track_caller]
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if !self.running() {
                panic!(
                    "{}: daemon exited before it was ready\n{}",
                    self.name(),
                    self.log_tail_from(0, 100)
                );
            }
            if let Ok(r) = http::request(
                &self.dir.join("d.sock"),
                "GET",
                "/_ping",
                None,
                None,
                Duration::from_secs(5),
            ) && r.status == 200
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: daemon not ready after {READY_TIMEOUT:?}\n{}",
                    self.name(),
                    self.log_tail_from(0, 100)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the daemon process is running.
    pub fn running(&self) -> bool {
        let mut guard = self.child.lock().expect("lock");
        matches!(guard.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = self.child.lock().expect("lock").as_ref().map(Child::id);
        if let Some(pid) = pid {
            // ESRCH only means it already exited.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
        }
    }

    /// Waits for the daemon to exit; panics after `timeout`.
    #[track_caller]
    pub fn wait_exit(&self, timeout: Duration) {
        let name = self.name().to_string();
        wait::until(timeout, &format!("{name} to exit"), || {
            (!self.running()).then_some(())
        });
    }

    /// kill -9 the daemon (not its containerd), as a crash.
    pub fn kill9(&self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        self.wait_exit(Duration::from_secs(10));
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit(Duration::from_secs(60));
    }

    /// Starts the daemon again on the same directories and waits until it answers.
    pub fn restart(&self) {
        self.spawn();
        self.wait_ready();
    }

    /// Cuts this host off the network.
    pub fn cut(&self) {
        self.host.cut();
    }

    /// Reconnects this host.
    pub fn heal(&self) {
        self.host.heal();
    }

    pub(super) fn reap(&self) {
        if let Some(c) = self.child.lock().expect("lock").as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `docker <args>` against this node.
    pub fn docker(&self, args: &[&str]) -> Out {
        self.cli.run(args)
    }

    /// Loads `busybox:latest` into this node with `docker load`.
    #[track_caller]
    pub fn load_busybox(&self) {
        let out = self
            .cli
            .run_stdin(&["load"], crate::image::busybox_archive());
        assert!(
            out.code == 0 && out.stdout.contains("busybox:latest"),
            "{}: docker load busybox failed: {out:?}",
            self.name()
        );
    }

    /// `docker <args>` with `input` on stdin.
    pub fn docker_stdin(&self, args: &[&str], input: &str) -> Out {
        self.cli.run_stdin(args, input.as_bytes())
    }

    /// `docker <args>`, asserting success (with this node's log on failure); trimmed stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert_eq!(
            out.code,
            0,
            "{}: docker {args:?} failed: {}",
            self.name(),
            super::describe(&out)
        );
        out.stdout.trim().to_string()
    }

    /// `docker swarm join --advertise-addr <ip> --token <token> <manager_ip>:2377`.
    pub fn join_with(&self, token: &str, manager_ip: &str) -> Out {
        self.docker(&[
            "swarm",
            "join",
            "--advertise-addr",
            &self.host.ip,
            "--token",
            token,
            &format!("{manager_ip}:2377"),
        ])
    }

    /// `docker node ls` on this node, parsed; `Err(stderr)` when it is refused.
    pub fn node_ls(&self) -> Result<Vec<NodeRow>, String> {
        let out = self.docker(&[
            "node",
            "ls",
            "--format",
            "{{.ID}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}|{{.Self}}",
        ]);
        if out.code != 0 {
            return Err(out.stderr.trim().to_string());
        }
        Ok(out
            .lines()
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                let get = |i: usize| f.get(i).copied().unwrap_or("").trim().to_string();
                NodeRow {
                    id: get(0),
                    hostname: get(1),
                    status: get(2),
                    availability: get(3),
                    manager_status: get(4),
                    is_self: get(5) == "true",
                }
            })
            .collect())
    }

    /// `docker info -f <fmt>`, trimmed.
    #[track_caller]
    pub fn info(&self, fmt: &str) -> String {
        self.ok(&["info", "-f", fmt])
    }

    /// This node's swarm ID (`docker info .Swarm.NodeID`).
    #[track_caller]
    pub fn node_id(&self) -> String {
        self.info("{{.Swarm.NodeID}}")
    }

    /// `docker info .Swarm.LocalNodeState`: `inactive`, `pending`, `active`, `error`, `locked`.
    #[track_caller]
    pub fn swarm_state(&self) -> String {
        self.info("{{.Swarm.LocalNodeState}}")
    }

    pub(super) fn log_len(&self) -> u64 {
        std::fs::metadata(self.dir.join("daemon.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// The last `n` lines of the daemon log after byte `from`, framed for test output.
    pub fn log_tail_from(&self, from: u64, n: usize) -> String {
        let path = self.dir.join("daemon.log");
        let mut s = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&path)
            && f.seek(SeekFrom::Start(from)).is_ok()
        {
            let _ = f.read_to_end(&mut s);
        }
        let text = strip_ansi(&String::from_utf8_lossy(&s));
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        format!(
            "----- {} daemon log {} (last {} lines) -----\n{}\n----- end of {} log -----",
            self.name(),
            path.display(),
            lines.len() - start,
            lines[start..].join("\n"),
            self.name()
        )
    }
}

/// `SHOAL_SWARM_LOG_LEVEL`, default `info`: at debug, five nodes' Raft traffic buries the
/// lines that explain a failure.
fn log_level() -> String {
    std::env::var("SHOAL_SWARM_LOG_LEVEL").unwrap_or_else(|_| "info".to_string())
}

/// Drops ANSI colour sequences (`ESC [ … m`) so logs read well in test output.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_ansi_removes_colour_codes() {
        assert_eq!(
            super::strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m done"),
            "2026  INFO done"
        );
    }
}
