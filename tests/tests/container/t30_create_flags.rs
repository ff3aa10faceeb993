//! Every create flag of issue #2, checked by what the process sees and by `docker inspect`.

use shoal_tests::{secs, shared, unique, wait};
use std::time::Instant;

#[test]
fn cmd_and_entrypoint() {
    let d = shared();
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "a", "b"]), "a b");
    assert_eq!(
        d.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "x", "y"]),
        "x y"
    );
    // The image's Cmd ["sh"] is the default; with -i and stdin it reads a script.
    let out = d.cli().run_stdin(
        &["run", "--rm", "-i", "busybox"],
        b"echo from-default-cmd\n",
    );
    assert_eq!(out.ok(), "from-default-cmd");

    let name = unique("cmd");
    d.ok(&[
        "create",
        "--name",
        &name,
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "exit 0",
    ]);
    let v = d.cli().inspect(&name);
    assert_eq!(v["Config"]["Entrypoint"], serde_json::json!(["sh"]));
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["-c", "exit 0"]));
    assert_eq!(v["Path"], "sh");
    assert_eq!(v["Args"], serde_json::json!(["-c", "exit 0"]));
    d.ok(&["rm", &name]);
}

#[test]
fn env_merges_with_image_env() {
    let d = shared();
    let out = d.ok(&[
        "run", "--rm", "-e", "FOO=bar", "-e", "EMPTY=", "busybox", "env",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"FOO=bar"), "{out}");
    assert!(lines.contains(&"EMPTY="), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PATH=") && l.contains("/bin")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.starts_with("HOSTNAME=")), "{out}");
    assert!(lines.contains(&"HOME=/root"), "{out}");
}

#[test]
fn workdir_is_used_and_created() {
    let d = shared();
    assert_eq!(
        d.ok(&["run", "--rm", "-w", "/tmp", "busybox", "pwd"]),
        "/tmp"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-w", "/does/not/exist", "busybox", "pwd"]),
        "/does/not/exist"
    );
}

#[test]
fn user_numeric_and_named() {
    let d = shared();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-u",
            "1000:1000",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "1000\n1000"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-u", "nobody", "busybox", "id", "-u"]),
        "65534"
    );
    assert_eq!(d.ok(&["run", "--rm", "busybox", "id", "-u"]), "0");
    let out = d.fail(&["run", "--rm", "-u", "no-such-user-x", "busybox", "true"]);
    assert!(out.stderr.contains("no-such-user-x"), "{out:?}");
}

#[test]
fn labels_include_image_labels() {
    let d = shared();
    let name = unique("labels");
    let tag = format!("{name}:img");
    let spec = shoal_tests::image::ImageSpec::variant(&tag, &name);
    d.cli().run_stdin(&["load"], &spec.docker_archive()).ok();
    d.ok(&[
        "create", "--name", &name, "--label", "a=b", "--label", "empty=", &tag, "true",
    ]);
    let v = d.cli().inspect(&name);
    assert_eq!(v["Config"]["Labels"]["a"], "b");
    assert_eq!(v["Config"]["Labels"]["empty"], "");
    assert_eq!(v["Config"]["Labels"]["shoal.test.marker"], name.as_str());
    d.ok(&["rm", &name]);
    d.ok(&["rmi", &tag]);
}

#[test]
fn hostname_default_and_custom() {
    let d = shared();
    assert_eq!(
        d.ok(&["run", "--rm", "-h", "myhost", "busybox", "hostname"]),
        "myhost"
    );
    let name = unique("host");
    d.ok(&["run", "--name", &name, "busybox", "hostname"]);
    let id = d.cli().fmt(&name, "{{.Id}}");
    assert_eq!(d.ok(&["logs", &name]), &id[..12]);
    assert_eq!(d.cli().fmt(&name, "{{.Config.Hostname}}"), &id[..12]);
    d.ok(&["rm", &name]);
}

#[test]
fn tty_allocates_a_terminal() {
    let d = shared();
    let out = d.ok(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty; echo TERM=$TERM",
    ]);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{out:?}");
    assert_eq!(lines[1], "TERM=xterm", "{out:?}");
    let out = d.docker(&["run", "--rm", "busybox", "tty"]);
    assert_eq!(out.stdout.trim(), "not a tty");
}

#[test]
fn open_stdin_and_stdin_once() {
    let d = shared();
    let name = unique("stdin");
    d.ok(&["run", "-d", "-i", "--name", &name, "busybox", "cat"]);
    let v = d.cli().inspect(&name);
    assert_eq!(v["Config"]["OpenStdin"], true);
    assert_eq!(v["Config"]["StdinOnce"], false);
    // cat waits on the open stdin rather than exiting at EOF.
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    d.ok(&["rm", "-f", &name]);

    // StdinOnce: stdin closes when the attached client closes it, and the container exits.
    let out = d
        .cli()
        .run_stdin(&["run", "-i", "--name", &name, "busybox", "cat"], b"once\n");
    assert_eq!(out.ok(), "once");
    let v = d.cli().inspect(&name);
    assert_eq!(v["Config"]["OpenStdin"], true);
    assert_eq!(v["Config"]["StdinOnce"], true);
    assert_eq!(v["State"]["Status"], "exited");
    d.ok(&["rm", &name]);
}

#[test]
fn stop_signal_is_used_by_stop() {
    let d = shared();
    let name = unique("stopsig");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    assert_eq!(d.cli().fmt(&name, "{{.Config.StopSignal}}"), "SIGUSR1");
    wait::until(secs(20), "container to print ready", || {
        d.docker(&["logs", &name])
            .stdout
            .contains("ready")
            .then_some(())
    });
    d.ok(&["stop", "-t", "30", &name]);
    assert_eq!(d.cli().fmt(&name, "{{.State.ExitCode}}"), "0");
    assert!(d.ok(&["logs", &name]).contains("got-usr1"));
    d.ok(&["rm", &name]);
}

#[test]
fn stop_timeout_is_used_by_stop() {
    let d = shared();
    let name = unique("stoptmo");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(d.cli().fmt(&name, "{{.Config.StopTimeout}}"), "1");
    let t = Instant::now();
    d.ok(&["stop", &name]);
    // The default would be 10 s.
    assert!(t.elapsed() < secs(8), "stop took {:?}", t.elapsed());
    assert_eq!(d.cli().fmt(&name, "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", &name]);
}

#[test]
fn auto_remove_after_exit() {
    let d = shared();
    let name = unique("autorm");
    d.ok(&[
        "run", "-d", "--rm", "--name", &name, "busybox", "sleep", "1000",
    ]);
    assert_eq!(d.cli().fmt(&name, "{{.HostConfig.AutoRemove}}"), "true");
    d.ok(&["stop", "-t", "1", &name]);
    wait::until(secs(20), "--rm container to be removed after stop", || {
        (d.docker(&["inspect", &name]).code != 0).then_some(())
    });
}

#[test]
fn name_rules_and_uniqueness() {
    let d = shared();
    let name = unique("dup");
    let id = d.ok(&["create", "--name", &name, "busybox", "true"]);
    assert_eq!(d.cli().fmt(&name, "{{.Name}}"), format!("/{name}"));

    let out = d.fail(&["create", "--name", &name, "busybox", "true"]);
    assert!(out.stderr.contains("is already in use"), "{out:?}");
    let body = r#"{"Image":"busybox","Cmd":["true"]}"#;
    let r = d.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(body),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let msg = r.message();
    assert!(
        msg.contains(&format!(
            "The container name \"/{name}\" is already in use by container \"{id}\""
        )),
        "{msg}"
    );

    // A leading slash names the same container.
    let r = d.http(
        "POST",
        &format!("/containers/create?name=/{name}"),
        Some(body),
    );
    assert_eq!(r.status, 409, "{}", r.text());

    for bad in ["bad name", "-lead", "a/b", "x!"] {
        let q: String = bad
            .replace(' ', "%20")
            .replace('/', "%2F")
            .replace('!', "%21");
        let r = d.http("POST", &format!("/containers/create?name={q}"), Some(body));
        assert_eq!(r.status, 400, "name {bad:?}: {}", r.text());
        assert!(
            r.message().contains("Invalid container name"),
            "{}",
            r.message()
        );
    }
    let out = d.fail(&["create", "--name", "bad name", "busybox", "true"]);
    assert!(out.stderr.contains("Invalid container name"), "{out:?}");

    // Names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*.
    let ok_name = format!("{}_A.b-1", unique("Ok"));
    d.ok(&["create", "--name", &ok_name, "busybox", "true"]);
    d.ok(&["rm", &ok_name, &name]);
}
