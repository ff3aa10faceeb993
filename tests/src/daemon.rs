//! Starting, stopping, killing and restarting the daemon under test.
//!
//! Each [`Daemon`] lives in its own short temp dir (`/tmp/shoal-t-XXXXXX`, so socket paths stay far
//! below the 108-byte limit) holding `docker.sock`, `data/`, `exec/`, `daemon.pid`, `daemon.log`
//! and the CLI's `DOCKER_CONFIG`. The same tests run against Shoal or, to prove the tests right,
//! against Debian's dockerd ([`Engine`], from `SHOAL_E2E_ENGINE`).
//!
//! Two kinds of daemon:
//! - [`crate::shared::shared`]: one per test binary, started lazily, for tests that only create their own
//!   uniquely named objects. A guardian process cleans it up when the test binary exits.
//! - [`Daemon::start`]: owned by one test (restarts, kills, prunes, daemon flags); cleaned up on
//!   drop.
//!
//! When a test panics, the daemon log (from where the test started) is printed.

use crate::docker::{Cli, Out, run_command};
use crate::http::{self, Response};
use crate::wait;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a daemon may take to answer `/_ping` after spawning.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a daemon may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which engine the suite drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The `shoal` binary (default).
    Shoal,
    /// Debian's `dockerd`, the reference the tests are validated against.
    Dockerd,
}

impl Engine {
    /// From `SHOAL_E2E_ENGINE` (`shoal` or `dockerd`; default `shoal`).
    pub fn from_env() -> Engine {
        match std::env::var("SHOAL_E2E_ENGINE").as_deref() {
            Ok("dockerd") => Engine::Dockerd,
            Ok("shoal") | Ok("") | Err(_) => Engine::Shoal,
            Ok(other) => panic!("SHOAL_E2E_ENGINE={other}: expected shoal or dockerd"),
        }
    }

    /// True for Shoal; use it to guard Shoal-specific assertions, explicitly.
    pub fn is_shoal(self) -> bool {
        self == Engine::Shoal
    }

    /// The daemon executable.
    pub fn binary(self) -> PathBuf {
        match self {
            Engine::Shoal => shoal_bin(),
            Engine::Dockerd => {
                let p = PathBuf::from("/usr/sbin/dockerd");
                assert!(
                    p.exists(),
                    "dockerd not found: apt-get install -y docker.io"
                );
                p
            }
        }
    }
}

/// The shoal binary: `SHOAL_BIN`, else `<workspace>/target/debug/shoal`.
pub fn shoal_bin() -> PathBuf {
    let p = match std::env::var_os("SHOAL_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/shoal"),
    };
    assert!(
        p.exists(),
        "shoal binary not found at {} (run `cargo build -p shoal-node` first, or set SHOAL_BIN)",
        p.display()
    );
    p
}

/// Extra settings for an owned daemon.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Written to `daemon.json` and passed with `--config-file`.
    pub config: Option<serde_json::Value>,
    /// Appended to the daemon's command line.
    pub extra_args: Vec<String>,
    /// Skip loading `busybox:latest` after start.
    pub no_busybox: bool,
    /// Put `hosts`, `data-root`, `exec-root` and `pidfile` in `daemon.json` instead of flags.
    pub paths_in_config: bool,
    /// Give dockerd real networking (its own bridge and iptables) instead of `--bridge=none`;
    /// also set by `SHOAL_E2E_DOCKERD_NET=1`. Shoal always has its default bridge.
    pub networking: bool,
    /// Run the daemon (and so its embedded containerd and containers) in a network namespace of
    /// its own with only loopback up, so nothing it does can reach another machine; the unix
    /// socket stays reachable from the host. Reach its TCP listeners with [`Daemon::in_netns`].
    pub own_netns: bool,
}

/// One daemon process (possibly restarted several times) on one set of directories.
#[derive(Debug)]
pub struct Daemon {
    engine: Engine,
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
    sock: PathBuf,
    pidfile: PathBuf,
    log: PathBuf,
    config_file: PathBuf,
    extra_args: Vec<String>,
    paths_in_config: bool,
    own_netns: bool,
    net: Option<crate::netslot::NetSlot>,
    child: Mutex<Option<Child>>,
    cli: Cli,
}

impl Daemon {
    /// Starts an owned daemon of the engine from the environment, with `busybox:latest` loaded
    /// (unless `opts.no_busybox`). Panics with the daemon log if it does not come up.
    pub fn start(opts: Options) -> Daemon {
        Daemon::start_engine(Engine::from_env(), opts)
    }

    /// Like [`Daemon::start`] for a given engine (compatibility tests run both side by side).
    pub fn start_engine(engine: Engine, opts: Options) -> Daemon {
        let d = Daemon::prepare(engine, opts.clone());
        d.spawn();
        if let Err(e) = d.wait_ready() {
            panic!("{e}\n{}", d.log_tail(200));
        }
        if !opts.no_busybox {
            d.load_busybox();
        }
        d
    }

    /// Creates the directories and config without starting anything.
    pub fn prepare(engine: Engine, opts: Options) -> Daemon {
        assert!(
            nix::unistd::geteuid().is_root(),
            "end-to-end tests need root: they start containerd and run containers (sudo cargo test)"
        );
        let tmp = tempfile::Builder::new()
            .prefix("shoal-t-")
            .tempdir_in("/tmp")
            .expect("create /tmp/shoal-t-* dir");
        let dir = tmp.path().to_path_buf();
        let config_file = dir.join("daemon.json");
        let mut config = opts.config.unwrap_or_else(|| serde_json::json!({}));
        let dockerd_net =
            opts.networking || std::env::var("SHOAL_E2E_DOCKERD_NET").as_deref() == Ok("1");
        let net = (engine == Engine::Shoal || dockerd_net).then(crate::netslot::NetSlot::acquire);
        if let (Engine::Shoal, Some(slot), Some(m)) = (engine, &net, config.as_object_mut()) {
            // The test's own keys win (daemon config tests set some of these themselves).
            if let Some(defaults) = slot.shoal_config().as_object() {
                for (k, v) in defaults {
                    m.entry(k.clone()).or_insert(v.clone());
                }
            }
        }
        if opts.paths_in_config
            && let Some(m) = config.as_object_mut()
        {
            m.insert(
                "hosts".into(),
                serde_json::json!([format!("unix://{}/docker.sock", dir.display())]),
            );
            m.insert("data-root".into(), serde_json::json!(dir.join("data")));
            m.insert("exec-root".into(), serde_json::json!(dir.join("exec")));
            m.insert("pidfile".into(), serde_json::json!(dir.join("daemon.pid")));
        }
        std::fs::write(
            &config_file,
            serde_json::to_vec_pretty(&config).expect("json"),
        )
        .expect("write daemon.json");
        let sock = dir.join("docker.sock");
        Daemon {
            engine,
            cli: Cli::new(&sock, &dir.join("cli")),
            sock,
            pidfile: dir.join("daemon.pid"),
            log: dir.join("daemon.log"),
            config_file,
            extra_args: opts.extra_args,
            paths_in_config: opts.paths_in_config,
            own_netns: opts.own_netns,
            net,
            child: Mutex::new(None),
            dir,
            _tmp: Some(tmp),
        }
    }

    /// The engine this daemon runs.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The temp dir holding everything of this daemon.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The API socket.
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// `--data-root`.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `--exec-root`.
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }

    /// `--pidfile`.
    pub fn pidfile(&self) -> &Path {
        &self.pidfile
    }

    /// The daemon's log file (all starts appended).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// This daemon's network slot (bridge, subnets, chains); `None` for dockerd without
    /// networking.
    pub fn net(&self) -> Option<&crate::netslot::NetSlot> {
        self.net.as_ref()
    }

    /// The docker CLI for this daemon.
    pub fn cli(&self) -> &Cli {
        &self.cli
    }

    /// The command line for this daemon on the given socket, exec-root and pidfile.
    pub fn command_with(&self, sock: &Path, exec_root: &Path, pidfile: &Path) -> Command {
        let mut c = if self.own_netns {
            // unshare and sh both exec, so the child's pid is the daemon's.
            let mut c = Command::new("unshare");
            c.args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec \"$0\" \"$@\"",
            ])
            .arg(self.engine.binary());
            c
        } else {
            Command::new(self.engine.binary())
        };
        let host = format!("unix://{}", sock.display());
        if self.engine == Engine::Shoal {
            c.arg("daemon");
        }
        if !self.paths_in_config {
            c.args(["-H", &host])
                .arg("--data-root")
                .arg(self.data_root())
                .arg("--exec-root")
                .arg(exec_root)
                .arg("--pidfile")
                .arg(pidfile);
        }
        c.arg("--config-file")
            .arg(&self.config_file)
            .args(["--log-level", "debug"]);
        match (self.engine, &self.net) {
            (Engine::Dockerd, Some(slot)) => {
                // dockerd's -b needs the bridge to exist, with its address.
                let br = slot.bridge();
                let _ = Command::new("ip")
                    .args(["link", "add", &br, "type", "bridge"])
                    .output();
                let _ = Command::new("ip")
                    .args(["addr", "add", &slot.bip(), "dev", &br])
                    .output();
                let _ = Command::new("ip").args(["link", "set", &br, "up"]).output();
                // Forwarding already on keeps dockerd from setting the FORWARD policy to DROP.
                let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
                c.arg(format!("--bridge={br}"))
                    .arg(format!("--default-address-pool={}", slot.pool()))
                    .args(["--iptables=true", "--ip-forward=true", "--live-restore"]);
            }
            (Engine::Dockerd, None) => {
                // Keep the reference daemon off the host's networking (no docker0, no iptables
                // rules). Live-restore matches Shoal's default of leaving containers running
                // over a restart.
                c.args([
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-forward=false",
                    "--live-restore",
                ]);
            }
            (Engine::Shoal, _) => {}
        }
        c.args(&self.extra_args);
        c
    }

    /// `program args` in the daemon's network namespace (see [`Options::own_netns`]).
    pub fn in_netns(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .args(["--", program]);
        c
    }

    /// The command line this daemon runs with.
    pub fn command(&self) -> Command {
        self.command_with(&self.sock, &self.exec_root(), &self.pidfile)
    }

    /// Spawns the daemon process (log appended to `daemon.log`); does not wait for readiness.
    pub fn spawn(&self) {
        let mut guard = self.child.lock().expect("lock");
        if let Some(c) = guard.as_mut() {
            assert!(
                !matches!(c.try_wait(), Ok(None)),
                "daemon already running (pid {})",
                c.id()
            );
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open daemon.log");
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        *guard = Some(child);
    }

    /// Waits until `/_ping` answers 200, failing early if the process exits.
    pub fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(code) = self.exited() {
                return Err(format!("daemon exited with {code:?} before it was ready"));
            }
            if let Ok(r) = http::request(
                &self.sock,
                "GET",
                "/_ping",
                None,
                None,
                Duration::from_secs(5),
            ) && r.status == 200
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("daemon not ready after {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `Some(exit code)` if the process has exited (-1 for a signal), `None` while running.
    pub fn exited(&self) -> Option<i32> {
        let mut guard = self.child.lock().expect("lock");
        match guard.as_mut().map(Child::try_wait) {
            Some(Ok(Some(s))) => Some(s.code().unwrap_or(-1)),
            Some(Ok(None)) => None,
            Some(Err(_)) | None => Some(-1),
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .lock()
            .expect("lock")
            .as_ref()
            .map(Child::id)
            .expect("daemon was started")
    }

    /// Sends SIGTERM and waits for exit; returns the exit code (-1 for a signal). Panics if it
    /// does not exit within a minute.
    pub fn terminate(&self) -> i32 {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        wait::until(STOP_TIMEOUT, "daemon to exit after SIGTERM", || {
            self.exited()
        })
    }

    /// Sends SIGKILL to the daemon process (not to its children) and reaps it.
    pub fn kill9(&self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        wait::until(
            Duration::from_secs(10),
            "daemon to die after SIGKILL",
            || self.exited(),
        );
    }

    /// Sends `sig` to the daemon process.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        // ESRCH only means it already exited; exited() reports that.
        let _ = nix::sys::signal::kill(pid, sig);
    }

    /// Starts the daemon again on the same directories and waits until it is ready.
    pub fn restart(&self) {
        self.spawn();
        if let Err(e) = self.wait_ready() {
            panic!("restart: {e}\n{}", self.log_tail(200));
        }
    }

    /// Loads `busybox:latest` with `docker load`.
    pub fn load_busybox(&self) {
        let out = self
            .cli
            .run_stdin(&["load"], crate::image::busybox_archive());
        assert!(
            out.code == 0 && out.stdout.contains("busybox:latest"),
            "docker load busybox failed: {out:?}\n{}",
            self.log_tail(100)
        );
    }

    /// `docker <args>`.
    pub fn docker(&self, args: &[&str]) -> Out {
        self.cli.run(args)
    }

    /// `docker <args>`, asserting success; trimmed stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(args)
    }

    /// `docker <args>`, asserting failure.
    #[track_caller]
    pub fn fail(&self, args: &[&str]) -> Out {
        self.cli.fail(args)
    }

    /// A raw HTTP request on the API socket (JSON body).
    #[track_caller]
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        http::request(
            &self.sock,
            method,
            path,
            body.map(str::as_bytes),
            None,
            Duration::from_secs(120),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A raw HTTP request that may fail to connect (the daemon is down).
    pub fn http_result(&self, method: &str, path: &str) -> std::io::Result<Response> {
        http::request(
            &self.sock,
            method,
            path,
            None,
            None,
            Duration::from_secs(10),
        )
    }

    /// Starts a raw HTTP request and returns once the response head has arrived.
    #[track_caller]
    pub fn pending(&self, method: &str, path: &str, body: Option<&str>) -> http::Pending {
        http::Pending::start(
            &self.sock,
            method,
            path,
            body.map(str::as_bytes),
            Duration::from_secs(120),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// The current size of the daemon log, to print only what follows.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// The daemon log from byte `from`.
    pub fn log_from(&self, from: u64) -> String {
        let mut s = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.log)
            && f.seek(SeekFrom::Start(from)).is_ok()
        {
            let _ = f.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    }

    /// The last `n` lines of the daemon log, framed for test output.
    pub fn log_tail(&self, n: usize) -> String {
        let all = self.log_from(0);
        tail_framed(&self.log, &all, n)
    }

    /// Removes every container, stops the daemon, kills what it left behind under our dir and
    /// unmounts. Used on drop of owned daemons.
    fn cleanup(&self) {
        if self.exited().is_none() {
            let ids = self.cli.run(&["ps", "-aq"]);
            let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = run_command(self.cli.command(&args), None, Duration::from_secs(60));
            }
            self.signal(nix::sys::signal::Signal::SIGTERM);
            if wait::try_until(Duration::from_secs(30), || self.exited()).is_none() {
                self.signal(nix::sys::signal::Signal::SIGKILL);
                let _ = wait::try_until(Duration::from_secs(5), || self.exited());
            }
        }
        crate::procs::sweep(&self.dir);
    }
}

pub(crate) fn tail_framed(path: &Path, all: &str, n: usize) -> String {
    let lines: Vec<&str> = all.lines().collect();
    let start = lines.len().saturating_sub(n);
    format!(
        "----- daemon log {} (last {} lines) -----\n{}\n----- end of daemon log -----",
        path.display(),
        lines.len() - start,
        lines[start..].join("\n")
    )
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(300));
        }
        self.cleanup();
    }
}
