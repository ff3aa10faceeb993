//! exec: CLI flags, `exec -it` under a pty, and the create/start/inspect/resize API.

use shoal_tests::pty::Terminal;
use shoal_tests::{secs, shared, unique, wait};

fn running(d: &shoal_tests::Fixture, prefix: &str, tty: bool) -> String {
    let name = unique(prefix);
    let mut args = vec!["run", "-d", "--name", &name];
    if tty {
        args.push("-t");
    }
    args.extend_from_slice(&["busybox", "sleep", "1000"]);
    d.ok(&args);
    name
}

#[test]
fn exec_user_workdir_env_and_detach() {
    let d = shared();
    let name = running(&d, "exec", false);
    assert_eq!(
        d.ok(&[
            "exec",
            "-u",
            "1000",
            "-w",
            "/tmp",
            "-e",
            "X=1",
            &name,
            "sh",
            "-c",
            "id -u; pwd; echo $X"
        ]),
        "1000\n/tmp\n1"
    );
    // The container's own env is inherited.
    assert!(d.ok(&["exec", &name, "env"]).contains("PATH="));
    let out = d
        .cli()
        .run_stdin(&["exec", "-i", &name, "cat"], b"via-stdin\n");
    assert_eq!(out.ok(), "via-stdin");
    let out = d.docker(&["exec", &name, "sh", "-c", "echo e >&2; exit 9"]);
    assert_eq!((out.code, out.stderr.trim()), (9, "e"));
    let out = d.docker(&["exec", &name, "no-such-binary"]);
    assert_ne!(out.code, 0, "{out:?}");

    d.ok(&["exec", "-d", &name, "sh", "-c", "echo detached > /tmp/f"]);
    wait::until(secs(20), "detached exec to write its file", || {
        (d.docker(&["exec", &name, "cat", "/tmp/f"]).stdout.trim() == "detached").then_some(())
    });
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn exec_it_under_a_pty_with_resize() {
    let d = shared();
    let name = running(&d, "execit", false);
    let t = Terminal::docker(d.cli(), &["exec", "-it", &name, "sh"], 80, 24);
    t.wait_for("/ #", secs(30));
    t.type_line("tty; stty size");
    t.wait_for("24 80", secs(10));
    assert!(t.screen().contains("/dev/pts/"), "{}", t.screen());
    t.resize(90, 30);
    wait::until(secs(20), "exec tty to be resized to 30x90", || {
        t.type_line("stty size");
        t.screen().contains("30 90").then_some(())
    });
    t.type_line("exit 3");
    assert_eq!(t.wait_exit(secs(30)), 3);
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn exec_api_create_start_inspect_resize() {
    let d = shared();
    let name = running(&d, "execapi", false);

    let r = d.http(
        "POST",
        &format!("/containers/{name}/exec"),
        Some(r#"{"Cmd":["sh","-c","echo hi; exit 6"],"AttachStdout":true,"AttachStderr":true}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().unwrap().to_string();
    let v = d.http("GET", &format!("/exec/{exec_id}/json"), None).json();
    assert_eq!(v["Running"], false);
    assert_eq!(v["ExitCode"], serde_json::Value::Null);
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(v["ProcessConfig"]["tty"], false);
    assert_eq!(v["OpenStdout"], true);
    let container_id = d.cli().fmt(&name, "{{.Id}}");
    assert_eq!(v["ContainerID"], container_id.as_str());

    let r = d.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(r#"{"Detach":false,"Tty":false}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        shoal_tests::http::demux(&r.body),
        vec![(1, b"hi\n".to_vec())]
    );
    let v = wait::until(secs(20), "exec to be reported finished", || {
        let v = d.http("GET", &format!("/exec/{exec_id}/json"), None).json();
        (v["Running"] == false && v["ExitCode"] != serde_json::Value::Null).then_some(v)
    });
    assert_eq!(v["ExitCode"], 6);
    // An exec runs once.
    let r = d.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert!(
        r.status == 409 || r.status == 500,
        "restart of a finished exec: {} {}",
        r.status,
        r.text()
    );

    // A TTY exec, started detached, can be resized while it runs.
    let r = d.http(
        "POST",
        &format!("/containers/{name}/exec"),
        Some(r#"{"Cmd":["sleep","30"],"Tty":true,"AttachStdout":false}"#),
    );
    let tty_exec = r.json()["Id"].as_str().unwrap().to_string();
    let r = d.http(
        "POST",
        &format!("/exec/{tty_exec}/start"),
        Some(r#"{"Detach":true,"Tty":true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait::until(secs(20), "detached tty exec to run", || {
        (d.http("GET", &format!("/exec/{tty_exec}/json"), None)
            .json()["Running"]
            == true)
            .then_some(())
    });
    let r = d.http("POST", &format!("/exec/{tty_exec}/resize?h=30&w=90"), None);
    assert!(
        r.status == 200 || r.status == 201,
        "{} {}",
        r.status,
        r.text()
    );
    let v = d
        .http("GET", &format!("/exec/{tty_exec}/json"), None)
        .json();
    assert_eq!(v["ProcessConfig"]["tty"], true);
    assert!(v["Pid"].as_u64().unwrap_or(0) > 0, "{v}");

    // Errors.
    let r = d.http("GET", "/exec/no-such-exec-shoal/json", None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.message().contains("No such exec instance"),
        "{}",
        r.message()
    );
    let r = d.http(
        "POST",
        &format!("/containers/{name}/exec"),
        Some(r#"{"Cmd":[]}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    d.ok(&["stop", "-t", "1", &name]);
    let r = d.http(
        "POST",
        &format!("/containers/{name}/exec"),
        Some(r#"{"Cmd":["true"]}"#),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.message().contains("is not running"), "{}", r.message());
    let out = d.fail(&["exec", &name, "true"]);
    assert!(out.stderr.contains("is not running"), "{out:?}");
    d.ok(&["rm", &name]);
}
