//! Swarm clusters of real daemons in network namespaces, joined with the real `docker swarm`
//! commands: the harness of `tests/tests/swarm/`.
//!
//! ```text
//!  Cluster::start(3, 2)
//!    ├─ Network::create()                      bridge s<K>-br, 10.77.K.0/24   (netns.rs)
//!    ├─ per node: Host (netns + veth) + Node   nsenter --net=… unshare --uts  shoal daemon | dockerd
//!    ├─ docker swarm init --advertise-addr 10.77.K.11          on m1
//!    └─ docker swarm join --token … 10.77.K.11:2377            on m2, m3, w1, w2
//! ```
//!
//! - Every cluster lives in its own `/tmp/shc-XXXXXX` (node `m1` in `m1/`: `d.sock`, `data/`,
//!   `x/` (exec-root), `daemon.log`) and its own subnet, so tests run in parallel. At most
//!   `SHOAL_SWARM_CLUSTERS` (default 3) owned clusters run at once per test binary, to keep a
//!   2-core machine's elections on time.
//! - A guardian process tears everything down (`netns-cluster.sh down`) when the cluster is
//!   dropped or the test process dies; when a test panics, every node's log is printed first.
//! - Nodes have their own hostname (`m1`, `w1`, …), which `docker node ls` shows.

use crate::daemon::Engine;
use crate::docker::{Cli, Out};
use crate::netns::Network;
use crate::procs::sweep;
use crate::wait;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod node;
pub use node::{Node, NodeRow};

/// How long convergence may take (joins, elections, heartbeats); dockerd's swarm notices a dead
/// leader after about 10 s, so this is generous.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Managers `m1..`, addresses `.11..`.
    pub managers: u8,
    /// Workers `w1..`, addresses `.21..`.
    pub workers: u8,
    /// Started but not joined hosts `s1..`, addresses `.31..` (for join tests).
    pub spares: u8,
    /// `docker swarm init --autolock`.
    pub autolock: bool,
    /// Node certificate lifetime in seconds through Shoal's test-only hook (Docker's
    /// `--cert-expiry` cannot go below 1h), to see renewals within a test.
    pub cert_expiry_secs: Option<u64>,
}

impl Spec {
    /// `managers` + `workers`, nothing else.
    pub fn new(managers: u8, workers: u8) -> Spec {
        Spec {
            managers,
            workers,
            spares: 0,
            autolock: false,
            cert_expiry_secs: None,
        }
    }
}

/// A running swarm. Dropping it removes every process, namespace, link and file it created.
#[derive(Debug)]
pub struct Cluster {
    engine: Engine,
    net: Network,
    nodes: Vec<Node>,
    dir: PathBuf,
    guardian: Mutex<Option<Child>>,
    unlock_key: Mutex<Option<String>>,
    _permit: Option<Permit>,
}

/// Limits how many owned clusters a test binary runs at once.
#[derive(Debug)]
struct Permit;

fn slots() -> &'static (Mutex<usize>, Condvar) {
    static SLOTS: OnceLock<(Mutex<usize>, Condvar)> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::env::var("SHOAL_SWARM_CLUSTERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3usize)
            .max(1);
        (Mutex::new(n), Condvar::new())
    })
}

impl Permit {
    fn acquire() -> Permit {
        let (m, cv) = slots();
        let mut free = m.lock().expect("lock");
        while *free == 0 {
            free = cv.wait(free).expect("lock");
        }
        *free -= 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let (m, cv) = slots();
        *m.lock().expect("lock") += 1;
        cv.notify_one();
    }
}

/// The guardian: waits for EOF on stdin (only we hold the write end), then tears down. It ignores
/// the signals a Ctrl-C sends to the whole process group, so cleanup still happens.
const GUARDIAN: &str = r#"trap '' INT TERM HUP; read _ignored; exec "$@" >/dev/null 2>&1"#;

impl Cluster {
    /// Starts `managers` + `workers` nodes of the engine from `SHOAL_E2E_ENGINE` and joins them.
    pub fn start(managers: u8, workers: u8) -> Cluster {
        Cluster::start_spec(Spec::new(managers, workers))
    }

    /// Starts the cluster described by `spec`.
    pub fn start_spec(spec: Spec) -> Cluster {
        let permit = Permit::acquire();
        let mut c = Cluster::create(spec);
        c._permit = Some(permit);
        c
    }

    fn create(spec: Spec) -> Cluster {
        let engine = Engine::from_env();
        let tmp = tempfile::Builder::new()
            .prefix("shc-")
            .tempdir_in("/tmp")
            .expect("create /tmp/shc-* dir");
        // The guardian removes the directory; keep it past the TempDir.
        let dir = tmp.keep();
        let net = Network::create();
        let teardown = net.teardown_command(&dir);
        let guardian = Command::new("sh")
            .args(["-c", GUARDIAN, "guardian"])
            .arg(teardown.get_program())
            .args(teardown.get_args())
            .envs(
                teardown
                    .get_envs()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cluster guardian");
        let mut c = Cluster {
            engine,
            net,
            nodes: Vec::new(),
            dir,
            guardian: Mutex::new(Some(guardian)),
            unlock_key: Mutex::new(None),
            _permit: None,
        };
        let mut names = Vec::new();
        for i in 1..=spec.managers {
            names.push((format!("m{i}"), 10 + i));
        }
        for i in 1..=spec.workers {
            names.push((format!("w{i}"), 20 + i));
        }
        for i in 1..=spec.spares {
            names.push((format!("s{i}"), 30 + i));
        }
        for (name, last) in names {
            let host = c.net.add_host(&name, last);
            let mut node = Node::new(engine, host, &c.dir.join(&name));
            if let Some(secs) = spec.cert_expiry_secs {
                node.env
                    .push(("SHOAL_TEST_NODE_CERT_EXPIRY_SECS".into(), secs.to_string()));
            }
            node.spawn();
            c.nodes.push(node);
        }
        for n in &c.nodes {
            n.wait_ready();
        }
        if spec.managers == 0 {
            return c;
        }
        let m1 = c.node("m1");
        let mut init = vec!["swarm", "init", "--advertise-addr", &m1.host.ip];
        if spec.autolock {
            init.push("--autolock");
        }
        m1.ok(&init);
        if spec.autolock {
            let key = m1.ok(&["swarm", "unlock-key", "-q"]);
            *c.unlock_key.lock().expect("lock") = Some(key);
        }
        for n in c.nodes.iter().filter(|n| n.name() != "m1") {
            if n.is_spare() {
                continue;
            }
            c.join(n, n.is_manager_name());
        }
        c.wait_converged((spec.managers + spec.workers) as usize);
        c
    }

    /// The engine the nodes run.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network the hosts are on.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Node by short name (`m1`, `w2`, `s1`).
    #[track_caller]
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node {name} in this cluster"))
    }

    /// Every node, managers first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Nodes started as managers (`m*`).
    pub fn managers(&self) -> Vec<&Node> {
        self.nodes.iter().filter(|n| n.is_manager_name()).collect()
    }

    /// Nodes started as workers (`w*`).
    pub fn workers(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.name().starts_with('w'))
            .collect()
    }

    /// The unlock key of an autolocked cluster.
    pub fn unlock_key(&self) -> Option<String> {
        self.unlock_key.lock().expect("lock").clone()
    }

    /// `docker swarm join-token -q <worker|manager>` on `via`.
    pub fn token(&self, via: &Node, manager: bool) -> String {
        via.ok(&[
            "swarm",
            "join-token",
            "-q",
            if manager { "manager" } else { "worker" },
        ])
    }

    /// Joins `n` through m1's address with the current token, asserting success.
    pub fn join(&self, n: &Node, manager: bool) {
        let m1 = self.node("m1");
        let token = self.token(m1, manager);
        let out = n.join_with(&token, &m1.host.ip);
        assert_eq!(
            out.code,
            0,
            "{} failed to join: {}{}",
            n.name(),
            out.stdout,
            out.stderr
        );
    }

    /// Waits until m1 lists `count` nodes, all Ready, with exactly one Leader.
    pub fn wait_converged(&self, count: usize) {
        let m1 = self.node("m1");
        let mut last = Vec::new();
        let ok = wait::try_until(CONVERGE, || {
            last = m1.node_ls().ok()?;
            (last.len() == count
                && last.iter().all(|r| r.status == "Ready")
                && last.iter().filter(|r| r.manager_status == "Leader").count() == 1
                && last
                    .iter()
                    .all(|r| matches!(r.manager_status.as_str(), "" | "Leader" | "Reachable")))
            .then_some(())
        });
        if ok.is_none() {
            panic!("cluster did not converge to {count} ready nodes with one leader: {last:#?}");
        }
    }

    /// The node whose engine reports itself as the raft leader, as seen from `via` (any live
    /// manager); waits up to [`CONVERGE`] for an election.
    #[track_caller]
    pub fn leader_via(&self, via: &Node) -> &Node {
        self.leader_via_except(via, "")
    }

    /// Like [`Cluster::leader_via`], but waits for a leader other than node `old` (after `old`
    /// was killed or cut off, `via` may still name it until it notices).
    #[track_caller]
    pub fn leader_via_except(&self, via: &Node, old: &str) -> &Node {
        let mut last = Err(String::new());
        let found = wait::try_until(CONVERGE, || {
            last = via.node_ls();
            let rows = last.as_ref().ok()?;
            let leaders: Vec<&NodeRow> = rows
                .iter()
                .filter(|r| r.manager_status == "Leader")
                .collect();
            match leaders.as_slice() {
                [one] if one.hostname != old => {
                    self.nodes.iter().find(|n| n.hostname() == one.hostname)
                }
                _ => None,
            }
        });
        found.unwrap_or_else(|| {
            panic!(
                "no single leader seen from {} within {CONVERGE:?}: {last:#?}",
                via.name()
            )
        })
    }

    /// The current leader, asked of the first manager that answers.
    #[track_caller]
    pub fn leader(&self) -> &Node {
        let via = self
            .managers()
            .into_iter()
            .find(|m| m.running())
            .expect("a running manager");
        self.leader_via(via)
    }

    /// Stops every node (SIGTERM, all at once) and starts them all again.
    pub fn restart_all(&self) {
        for n in &self.nodes {
            n.signal(nix::sys::signal::Signal::SIGTERM);
        }
        for n in &self.nodes {
            n.wait_exit(Duration::from_secs(60));
        }
        for n in &self.nodes {
            n.spawn();
        }
        for n in &self.nodes {
            n.wait_ready();
        }
    }

    /// Every node's log from its mark, framed, for failure output.
    pub fn logs_from(&self, marks: &[u64]) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            s.push_str(&n.log_tail_from(marks.get(i).copied().unwrap_or(0), 120));
            s.push('\n');
        }
        s
    }

    /// Each node's current log length (see [`Cluster::logs_from`]).
    pub fn log_marks(&self) -> Vec<u64> {
        self.nodes.iter().map(Node::log_len).collect()
    }

    fn teardown(&self) {
        let g = self.guardian.lock().expect("lock").take();
        if let Some(mut g) = g {
            drop(g.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(g.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Reap our children (the guardian has killed them) and catch anything it missed.
        for n in &self.nodes {
            n.reap();
        }
        sweep(&self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs_from(&[]));
        }
        self.teardown();
    }
}

/// The per-test-binary shared cluster (3 managers + 2 workers), for tests that only read, with
/// its logs printed when the test using it fails.
#[derive(Debug)]
pub struct Shared {
    cluster: &'static Cluster,
    marks: Vec<u64>,
}

impl std::ops::Deref for Shared {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        self.cluster
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.cluster.logs_from(&self.marks));
        }
    }
}

/// The shared 3 + 2 cluster of this test binary, started on first use. It is never dropped;
/// its guardian tears it down when the test process exits.
pub fn shared() -> Shared {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    let cluster = SHARED.get_or_init(|| Cluster::create(Spec::new(3, 2)));
    Shared {
        cluster,
        marks: cluster.log_marks(),
    }
}

/// A CLI for a node's socket (used by [`Node`]).
fn cli_for(dir: &Path) -> Cli {
    Cli::new(&dir.join("d.sock"), &dir.join("cli"))
}

/// `out` as one string, for assertion messages.
pub fn describe(out: &Out) -> String {
    format!(
        "exit {}\nstdout: {}\nstderr: {}",
        out.code,
        out.stdout.trim(),
        out.stderr.trim()
    )
}
