//! kill -9 of the daemon with containers running; one exits while the daemon is down.

use crate::{last_tick, ticker, ticker_survived};
use shoal_tests::containerd::Containerd;
use shoal_tests::procs::alive;
use shoal_tests::{Daemon, Engine, Options, secs, wait};

/// Shoal runs on its embedded containerd, which is what these tests are about. dockerd 20.10
/// cannot restart after kill -9 while its orphaned managed containerd still runs ("timeout
/// waiting for containerd"), so the reference run gives it an external one.
fn start() -> (Daemon, Option<Containerd>) {
    if Engine::from_env().is_shoal() {
        return (Daemon::start(Options::default()), None);
    }
    let c = Containerd::start();
    let d = Daemon::start(Options {
        extra_args: vec!["--containerd".into(), c.sock().display().to_string()],
        ..Options::default()
    });
    (d, Some(c))
}

#[test]
fn kill9_then_restart_keeps_everything() {
    let (d, _containerd) = start();
    let pid = ticker(&d, "ticker");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "exiter",
        "busybox",
        "sh",
        "-c",
        "while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 7",
    ]);
    let exiter_pid: u32 = d.cli().fmt("exiter", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(
        d.docker(&[
            "run",
            "--name",
            "done-before",
            "busybox",
            "sh",
            "-c",
            "exit 3"
        ])
        .code,
        3
    );
    d.ok(&[
        "create", "--name", "created", "-l", "a=b", "-e", "X=1", "busybox", "echo", "later",
    ]);
    wait::until(secs(20), "a few ticks", || {
        (last_tick(&d, "ticker") >= 2).then_some(())
    });

    d.kill9();
    // Make the second container exit while the daemon is down: reach into its rootfs.
    std::fs::write(format!("/proc/{exiter_pid}/root/tmp/go"), b"").unwrap();
    wait::until(secs(20), "exiter to exit while the daemon is down", || {
        (!alive(exiter_pid)).then_some(())
    });
    assert!(alive(pid), "ticker survives kill -9 of the daemon");

    d.restart();
    ticker_survived(&d, "ticker", pid, 2);

    let ex = wait::until(secs(30), "exiter to be reported exited", || {
        let s = d
            .cli()
            .fmt("exiter", "{{.State.Status}} {{.State.ExitCode}}");
        (s != "running 0").then_some(s)
    });
    assert_eq!(ex, "exited 7");
    let ps = d.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=exiter",
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.starts_with("Exited (7)"), "{ps}");
    assert_eq!(
        d.cli()
            .fmt("done-before", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 3"
    );
    assert_eq!(d.ok(&["wait", "exiter"]), "7");

    // The created container kept its whole config and still runs.
    let v = d.cli().inspect("created");
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["Config"]["Labels"]["a"], "b");
    assert!(
        v["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "X=1")
    );
    d.ok(&["start", "-a", "created"]);
    assert_eq!(d.ok(&["logs", "created"]), "later");

    // New work still runs after the restart.
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hello"]), "hello");
}

#[test]
fn kill9_twice_in_a_row() {
    let (d, _containerd) = start();
    let pid = ticker(&d, "ticker");
    d.kill9();
    d.restart();
    d.kill9();
    d.restart();
    assert_eq!(
        d.cli().fmt("ticker", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(d.ok(&["ps", "-a", "-q"]).lines().count(), 1);
}

/// The scale: 50 containers running through a kill -9 of the daemon. After the restart
/// every one is the same running process, and `docker logs -f` and `docker attach` on each
/// receive its new output.
#[test]
fn kill9_with_fifty_running_containers() {
    const N: usize = 50;
    let (d, _containerd) = start();
    let names: Vec<String> = (0..N).map(|i| format!("fifty-{i}")).collect();
    for n in &names {
        d.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo n$i; i=$((i+1)); sleep 1; done",
        ]);
    }
    let pids: Vec<String> = names
        .iter()
        .map(|n| d.cli().fmt(n, "{{.State.Pid}}"))
        .collect();

    d.kill9();
    for p in &pids {
        assert!(
            alive(p.parse().unwrap()),
            "container process {p} survives kill -9 of the daemon"
        );
    }
    d.restart();

    let running = d.ok(&["ps", "-q", "--filter", "status=running"]);
    assert_eq!(running.lines().count(), N, "{running}");
    for (n, p) in names.iter().zip(&pids) {
        assert_eq!(
            d.cli().fmt(n, "{{.State.Status}} {{.State.Pid}}"),
            format!("running {p}"),
            "{n}"
        );
    }
    // Ten containers at a time, each followed and attached at once.
    for chunk in names.chunks(10) {
        let sessions: Vec<_> = chunk
            .iter()
            .map(|n| {
                let next = last_tick(&d, n) + 2;
                let follow = d.cli().spawn(&["logs", "-f", "--tail", "1", n]);
                let attach = d.cli().spawn(&["attach", "--no-stdin", n]);
                (n, next, follow, attach)
            })
            .collect();
        for (n, next, follow, attach) in &sessions {
            let want = format!("n{next}\n");
            follow.wait_stdout(&want, secs(30));
            attach.wait_stdout(&want, secs(30));
            assert_eq!(d.cli().fmt(n, "{{.State.Running}}"), "true", "{n}");
        }
    }
    assert_eq!(d.ok(&["exec", "fifty-49", "echo", "exec-ok"]), "exec-ok");
}
