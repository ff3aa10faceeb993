//! create, start, stop, restart, kill, wait (every condition), rm (force, v).

use shoal_tests::{secs, shared, unique, wait};
use std::time::Instant;

#[test]
fn create_then_start_then_stop() {
    let d = shared();
    let name = unique("life");
    let id = d.ok(&["create", "--name", &name, "busybox", "sleep", "1000"]);
    assert_eq!(id.len(), 64);
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "created");
    assert_eq!(d.cli().fmt(&name, "{{.State.Pid}}"), "0");

    assert_eq!(d.ok(&["start", &name]), name);
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    let pid: u32 = d.cli().fmt(&name, "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Starting a running container is not an error for the CLI (the API says 304).
    d.ok(&["start", &name]);

    // sleep is pid 1 without a SIGTERM handler, so the kernel ignores SIGTERM and stop kills.
    let t = Instant::now();
    assert_eq!(d.ok(&["stop", "-t", "1", &name]), name);
    assert!(t.elapsed() < secs(15), "stop -t 1 took {:?}", t.elapsed());
    assert_eq!(
        d.cli().fmt(
            &name,
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"
        ),
        "exited 137 false"
    );
    // Stopping a stopped container is fine for the CLI too (304 underneath).
    d.ok(&["stop", &name]);
    d.ok(&["rm", &name]);
}

#[test]
fn stop_sends_sigterm_first() {
    let d = shared();
    let name = unique("term");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    wait::until(secs(20), "container to print ready", || {
        d.docker(&["logs", &name])
            .stdout
            .contains("ready")
            .then_some(())
    });
    d.ok(&["stop", "-t", "30", &name]);
    assert_eq!(d.cli().fmt(&name, "{{.State.ExitCode}}"), "0");
    assert!(d.ok(&["logs", &name]).contains("got-term"));
    d.ok(&["rm", &name]);
}

#[test]
fn restart_gives_a_new_process() {
    let d = shared();
    let name = unique("restart");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
    let pid1 = d.cli().fmt(&name, "{{.State.Pid}}");
    let started1 = d.cli().fmt(&name, "{{.State.StartedAt}}");
    assert_eq!(d.ok(&["restart", "-t", "1", &name]), name);
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    assert_ne!(d.cli().fmt(&name, "{{.State.Pid}}"), pid1);
    assert_ne!(d.cli().fmt(&name, "{{.State.StartedAt}}"), started1);
    // A manual restart is not a restart-policy restart.
    assert_eq!(d.cli().fmt(&name, "{{.RestartCount}}"), "0");

    // Restarting a stopped container starts it.
    d.ok(&["stop", "-t", "1", &name]);
    d.ok(&["restart", "-t", "1", &name]);
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn kill_default_and_custom_signal() {
    let d = shared();
    let name = unique("kill");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    wait::until(secs(20), "container to print ready", || {
        d.docker(&["logs", &name])
            .stdout
            .contains("ready")
            .then_some(())
    });
    d.ok(&["kill", "-s", "USR1", &name]);
    wait::until(secs(20), "the USR1 trap to run", || {
        d.docker(&["logs", &name])
            .stdout
            .contains("got-usr1")
            .then_some(())
    });
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");

    assert_eq!(d.ok(&["kill", &name]), name);
    wait::until(secs(20), "killed container to be exited", || {
        (d.cli().fmt(&name, "{{.State.Status}}") == "exited").then_some(())
    });
    assert_eq!(d.cli().fmt(&name, "{{.State.ExitCode}}"), "137");

    // Killing a stopped container is a conflict.
    let r = d.http("POST", &format!("/containers/{name}/kill"), None);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.message().contains("is not running"), "{}", r.message());
    d.ok(&["rm", &name]);
}

#[test]
fn wait_prints_exit_code() {
    let d = shared();
    let name = unique("wait");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; exit 42",
    ]);
    assert_eq!(d.ok(&["wait", &name]), "42");
    // Waiting on an exited container returns at once with its code.
    assert_eq!(d.ok(&["wait", &name]), "42");
    d.ok(&["rm", &name]);
}

#[test]
fn wait_conditions() {
    let d = shared();
    let name = unique("waitc");
    d.ok(&[
        "create",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 4",
    ]);

    // not-running (the default) is satisfied at once by a created container.
    let r = d.http(
        "POST",
        &format!("/containers/{name}/wait?condition=not-running"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["StatusCode"], 0);

    // next-exit waits for the next run to end.
    let next = d.pending(
        "POST",
        &format!("/containers/{name}/wait?condition=next-exit"),
        None,
    );
    assert_eq!(next.status(), Some(200));
    d.ok(&["start", &name]);
    let r = next.finish().unwrap();
    assert_eq!(r.json()["StatusCode"], 4, "{}", r.text());

    // removed waits until the container is gone.
    let removed = d.pending(
        "POST",
        &format!("/containers/{name}/wait?condition=removed"),
        None,
    );
    assert_eq!(removed.status(), Some(200));
    d.ok(&["rm", &name]);
    let r = removed.finish().unwrap();
    assert_eq!(r.json()["StatusCode"], 4, "{}", r.text());

    // An unknown container is 404.
    let r = d.http("POST", "/containers/no-such-container-shoal/wait", None);
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn rm_running_needs_force() {
    let d = shared();
    let name = unique("rmf");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
    let out = d.fail(&["rm", &name]);
    assert!(
        out.stderr.contains("cannot remove") || out.stderr.contains("You cannot remove"),
        "{out:?}"
    );
    let r = d.http("DELETE", &format!("/containers/{name}"), None);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");

    assert_eq!(d.ok(&["rm", "-f", &name]), name);
    assert_ne!(d.docker(&["inspect", &name]).code, 0);

    // rm -v on a container without volumes is simply rm.
    let name2 = unique("rmv");
    d.ok(&["create", "--name", &name2, "busybox", "true"]);
    assert_eq!(d.ok(&["rm", "-v", &name2]), name2);
    let r = d.http("DELETE", &format!("/containers/{name2}?v=1&force=1"), None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.message().contains("No such container"), "{}", r.message());
}

#[test]
fn restart_policies_restart_exited_containers() {
    let d = shared();
    // on-failure:2 restarts a failing process twice, then leaves it exited with its code.
    let failing = unique("rp-fail");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &failing,
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait::until(secs(30), "on-failure:2 gives up after two restarts", || {
        let s = d.cli().fmt(
            &failing,
            "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        );
        (s == "exited 2 3").then_some(())
    });
    std::thread::sleep(secs(1));
    assert_eq!(
        d.cli().fmt(&failing, "{{.RestartCount}}"),
        "2",
        "no third restart"
    );

    // on-failure does not restart a clean exit; always does, until the container is stopped.
    let clean = unique("rp-clean");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &clean,
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    let always = unique("rp-always");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &always,
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3",
    ]);
    wait::until(secs(30), "always restarts a clean exit", || {
        let n: u32 = d.cli().fmt(&always, "{{.RestartCount}}").parse().ok()?;
        (n >= 2).then_some(())
    });
    assert_eq!(
        d.cli().fmt(&clean, "{{.State.Status}} {{.RestartCount}}"),
        "exited 0"
    );
    d.ok(&["stop", "-t", "1", &always]);
    let stopped_at = d.cli().fmt(&always, "{{.RestartCount}}");
    std::thread::sleep(secs(2));
    assert_eq!(
        d.cli().fmt(&always, "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {stopped_at}"),
        "a stopped container is not restarted"
    );
    d.ok(&["rm", "-f", &failing, &clean, &always]);
}
