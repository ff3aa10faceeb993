//! The daemon process itself (issue #2): signals and live-restore, exclusive data-root, kill -9
//! and restart, daemon.json, --containerd, the supervised embedded containerd. Every test owns its
//! daemon.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_shutdown;
mod t20_exclusive;
mod t30_kill9_restart;
mod t40_config;
mod t50_containerd;
mod t60_reload;
mod t70_metrics;
mod t80_tls;

use shoal_tests::{Daemon, secs};

/// Starts a container printing `n<i>` every 0.2 s; returns its pid.
pub fn ticker(d: &Daemon, name: &str) -> u32 {
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo n$i; i=$((i+1)); sleep 0.2; done",
    ]);
    d.cli().fmt(name, "{{.State.Pid}}").parse().unwrap()
}

/// The highest `n<i>` in the container's logs.
pub fn last_tick(d: &Daemon, name: &str) -> u64 {
    d.ok(&["logs", name])
        .lines()
        .filter_map(|l| l.strip_prefix('n')?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// After a restart: the ticker is the same process, still running, its logs follow with new
/// lines, exec works, and `wait` sees the exit caused by `stop`.
pub fn ticker_survived(d: &Daemon, name: &str, pid: u32, before: u64) {
    assert_eq!(
        d.cli().fmt(name, "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    let listed = d.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(listed, name);
    let follow = d.cli().spawn(&["logs", "-f", "--tail", "1", name]);
    let want = format!("n{}", before + 5);
    follow.wait_stdout(&want, secs(30));
    assert_eq!(d.ok(&["exec", name, "echo", "exec-ok"]), "exec-ok");
    // Whether `docker wait` registers before or after the stop, it reports the same exit code.
    let mut waiter = d.cli().spawn(&["wait", name]);
    d.ok(&["stop", "-t", "1", name]);
    assert_eq!(waiter.wait_exit(secs(30)), 0);
    assert_eq!(waiter.stdout().trim(), "137");
}
