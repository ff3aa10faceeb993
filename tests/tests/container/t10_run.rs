//! The first things a newcomer types.

use shoal_tests::{secs, shared, unique};

#[test]
fn run_rm_echo_prints_hello() {
    let d = shared();
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(out.ok(), "hello");
}

#[test]
fn run_exit_code_is_propagated() {
    let d = shared();
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.code, 3, "{out:?}");
}

#[test]
fn run_rm_removes_the_container() {
    let d = shared();
    let name = unique("rm");
    d.ok(&["run", "--rm", "--name", &name, "busybox", "true"]);
    // --rm removal happens after the exit is reported; poll for it.
    shoal_tests::wait::until(secs(20), "--rm container to disappear", || {
        d.docker(&["inspect", &name]).code.ne(&0).then_some(())
    });
}

#[test]
fn run_detached_ps_logs_exec_stop_rm() {
    let d = shared();
    let name = unique("detached");
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ]);
    assert_eq!(id.len(), 64, "run -d prints the full id: {id}");

    let ps = d.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.ID}} {{.Names}} {{.Status}}",
    ]);
    assert!(ps.starts_with(&id[..12]), "ps: {ps}");
    assert!(ps.contains(&name) && ps.contains("Up"), "ps: {ps}");

    let logs = d.cli().spawn(&["logs", "-f", &name]);
    logs.wait_stdout("started", secs(20));
    logs.wait_stdout("tick 3", secs(20));

    assert_eq!(d.ok(&["exec", &name, "echo", "from-exec"]), "from-exec");
    let exec = d.docker(&["exec", &name, "sh", "-c", "exit 5"]);
    assert_eq!(exec.code, 5, "exec exit code: {exec:?}");

    // sh ignores SIGTERM as pid 1, so stop has to fall back to SIGKILL after -t.
    d.ok(&["stop", "-t", "1", &name]);
    let mut logs = logs;
    assert_eq!(
        logs.wait_exit(secs(20)),
        0,
        "logs -f ends when the container stops"
    );
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "exited");
    assert!(
        d.ok(&["ps", "-q", "--filter", &format!("name={name}")])
            .is_empty()
    );

    d.ok(&["rm", &name]);
    let gone = d.docker(&["inspect", &name]);
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("No such object") || gone.stderr.contains("No such container"),
        "{gone:?}"
    );
}

#[test]
fn run_foreground_streams_stdout_and_stderr() {
    let d = shared();
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(out.ok(), "out");
    assert_eq!(out.stderr.trim(), "err");
}

#[test]
fn run_interactive_pipes_stdin() {
    let d = shared();
    let out = d.cli().run_stdin(
        &["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"],
        b"piped\n",
    );
    assert_eq!(out.ok(), "piped\ndone");
}

#[test]
fn run_unknown_image_fails_cleanly() {
    let d = shared();
    let out = d.fail(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "no-such-image-shoal:nope",
        "true",
    ]);
    assert!(
        out.stderr.to_lowercase().contains("no such image"),
        "{out:?}"
    );
}
