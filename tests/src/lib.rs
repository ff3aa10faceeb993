//! End-to-end harness for Shoal: black-box tests that drive a real daemon with the real `docker`
//! CLI, raw HTTP and bollard, exactly as users do.
//!
//! ```text
//!  tests/<area>/t*.rs ──► daemon::shared() / Daemon::start()   (spawn shoal or dockerd)
//!          │                   │
//!          ├─ docker::Cli ─────┤  /usr/local/bin/docker, DOCKER_HOST=unix://…
//!          ├─ http::request ───┤  raw HTTP/1.1 on the socket (status, headers, bad JSON)
//!          ├─ sdk::connect ────┤  bollard
//!          └─ pty::Terminal ───┘  docker run -it under tmux
//!
//!  tests/swarm/t*.rs ──► cluster::Cluster::start(3, 2) / cluster::shared()
//!          └─ netns::Network: one bridge + one network namespace per node, real `docker swarm`
//! ```
//!
//! - `SHOAL_E2E_ENGINE=dockerd` runs the same tests against Debian's dockerd, to prove the tests
//!   right; Shoal-only assertions are guarded with [`daemon::Engine::is_shoal`].
//! - `SHOAL_BIN` overrides the shoal binary (default `<workspace>/target/debug/shoal`).
//! - Images are built here ([`image`]) from `/bin/busybox`; nothing is pulled.
//! - Waiting is always [`wait::until`] with a deadline and a reason.
//!
//! A test on the shared daemon (objects named with [`unique`], so tests run in parallel):
//!
//! ```no_run
//! use shoal_tests::{shared, unique};
//!
//! let d = shared();
//! let name = unique("demo");
//! d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "100"]);
//! assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
//! let r = d.http("POST", &format!("/containers/{name}/start"), None);
//! assert_eq!(r.status, 304);
//! d.ok(&["rm", "-f", &name]);
//! ```
//!
//! A test that restarts or reconfigures the daemon owns one:
//! `let d = Daemon::start(Options::default()); d.kill9(); d.restart();` (cleaned up on drop).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
pub mod containerd;
pub mod daemon;
pub mod docker;
pub mod http;
pub mod image;
pub mod netns;
pub mod netslot;
pub mod procs;
pub mod pty;
pub mod registry;
pub mod sdk;
pub mod shared;
pub mod wait;

pub use daemon::{Daemon, Engine, Options};
pub use shared::{Fixture, shared};
pub use wait::secs;

use std::sync::atomic::{AtomicU32, Ordering};

/// A name unique across test binaries and runs: `<prefix>-<pid>-<n><nanos>`, lower-case, valid
/// as a container name, image repository or label value.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}x{nanos:x}", std::process::id())
}
