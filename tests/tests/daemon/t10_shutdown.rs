//! SIGTERM/SIGINT: exit 0, leave containers running (live-restore), pick them up on restart.

use crate::{last_tick, ticker, ticker_survived};
use nix::sys::signal::Signal;
use shoal_tests::procs::alive;
use shoal_tests::{Daemon, Options, secs, wait};

#[test]
fn sigterm_exits_zero_and_leaves_containers_running() {
    let d = Daemon::start(Options::default());
    let pid = ticker(&d, "ticker");
    d.ok(&[
        "create", "--name", "idle", "-l", "keep=me", "busybox", "true",
    ]);
    d.ok(&[
        "run", "-d", "--rm", "--name", "auto", "busybox", "sleep", "1000",
    ]);
    wait::until(secs(20), "a few ticks", || {
        (last_tick(&d, "ticker") >= 2).then_some(())
    });

    assert_eq!(d.terminate(), 0, "daemon exit code after SIGTERM");
    assert!(alive(pid), "container process {pid} survives the daemon");
    assert!(d.http_result("GET", "/_ping").is_err(), "socket is closed");

    d.restart();
    ticker_survived(&d, "ticker", pid, 2);
    assert_eq!(
        d.cli().fmt(
            "idle",
            "{{.State.Status}} {{index .Config.Labels \"keep\"}}"
        ),
        "created me"
    );
    // Names are still taken after the restart.
    let out = d.fail(&["create", "--name", "idle", "busybox", "true"]);
    assert!(out.stderr.contains("is already in use"), "{out:?}");
}

#[test]
fn sigint_exits_zero() {
    let d = Daemon::start(Options {
        no_busybox: true,
        ..Options::default()
    });
    d.signal(Signal::SIGINT);
    let code = wait::until(secs(60), "daemon to exit after SIGINT", || d.exited());
    assert_eq!(code, 0);
}
