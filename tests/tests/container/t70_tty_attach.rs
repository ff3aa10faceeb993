//! `docker run -it` and `docker attach` under a real pseudo-terminal, and the raw attach stream.

use shoal_tests::pty::Terminal;
use shoal_tests::{secs, shared, unique, wait};

#[test]
fn run_it_has_a_tty_and_follows_resize() {
    let d = shared();
    let name = unique("it");
    let t = Terminal::docker(
        d.cli(),
        &["run", "-it", "--rm", "--name", &name, "busybox", "sh"],
        80,
        24,
    );
    t.wait_for("/ #", secs(30));
    t.type_line("tty; echo TTY-$?");
    t.wait_for("TTY-0", secs(10));
    assert!(t.screen().contains("/dev/pts/"), "{}", t.screen());
    t.type_line("stty size");
    t.wait_for("24 80", secs(10));
    t.resize(100, 40);
    // The CLI forwards SIGWINCH as a resize; poll until the container sees it.
    wait::until(secs(20), "container tty to be resized to 40x100", || {
        t.type_line("stty size");
        t.screen().contains("40 100").then_some(())
    });
    t.type_line("exit 7");
    assert_eq!(t.wait_exit(secs(30)), 7);
    wait::until(secs(20), "--rm container removal", || {
        (d.docker(&["inspect", &name]).code != 0).then_some(())
    });
}

#[test]
fn attach_to_tty_container_and_detach() {
    let d = shared();
    let name = unique("att");
    d.ok(&["run", "-d", "-it", "--name", &name, "busybox", "sh"]);
    let t = Terminal::docker(d.cli(), &["attach", &name], 80, 24);
    // The prompt was printed before we attached; ask for output instead.
    wait::until(secs(20), "attached shell to answer", || {
        t.type_line("echo attached-$((40+2))");
        t.screen().contains("attached-42").then_some(())
    });
    // Ctrl-P Ctrl-Q detaches and leaves the container running.
    t.key("C-p");
    t.key("C-q");
    // The CLI reports the detach ("read escape sequence", exit 1 with CLI 28) and returns.
    t.wait_exit(secs(20));
    assert!(
        t.screen().contains("read escape sequence"),
        "{}",
        t.screen()
    );
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn attach_non_tty_streams_output_and_stdin() {
    let d = shared();
    let name = unique("attn");
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "while read l; do echo \"echo:$l\"; echo \"err:$l\" >&2; done",
    ]);
    let mut a = d.cli().spawn(&["attach", &name]);
    wait::until(
        secs(20),
        "attach to relay stdin and both output streams",
        || {
            a.write_stdin(b"ping\n");
            (a.stdout().contains("echo:ping") && a.stderr().contains("err:ping")).then_some(())
        },
    );
    d.ok(&["stop", "-t", "1", &name]);
    // The attach ends with the container.
    a.wait_exit(secs(20));
    d.ok(&["rm", &name]);
}

#[test]
fn raw_attach_multiplexes_streams_without_tty() {
    let d = shared();
    let name = unique("rawatt");
    d.ok(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    let r = d.http(
        "POST",
        &format!("/containers/{name}/attach?logs=1&stream=0&stdout=1&stderr=1"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let frames = shoal_tests::http::demux(&r.body);
    assert!(frames.contains(&(1, b"out\n".to_vec())), "{frames:?}");
    assert!(frames.contains(&(2, b"err\n".to_vec())), "{frames:?}");
    d.ok(&["rm", &name]);

    // With a TTY the stream is raw, not framed.
    let name = unique("rawatt-tty");
    d.ok(&["run", "-t", "--name", &name, "busybox", "echo", "plain"]);
    let r = d.http(
        "POST",
        &format!("/containers/{name}/attach?logs=1&stream=0&stdout=1&stderr=1"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "plain\r\n");
    d.ok(&["rm", &name]);

    let r = d.http(
        "POST",
        "/containers/no-such-shoal-ctr/attach?stream=1&stdout=1",
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn start_attach_interactive() {
    let d = shared();
    let name = unique("startai");
    d.ok(&[
        "create",
        "-i",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "read l; echo \"got:$l\"; exit 4",
    ]);
    let out = d.cli().run_stdin(&["start", "-ai", &name], b"hello\n");
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout.trim(), "got:hello");
    // start -a on a finished container runs it again and streams the new output.
    let name2 = unique("starta");
    d.ok(&["create", "--name", &name2, "busybox", "echo", "again"]);
    assert_eq!(d.ok(&["start", "-a", &name2]), "again");
    assert_eq!(d.ok(&["start", "-a", &name2]), "again");
    assert_eq!(d.ok(&["logs", &name2]), "again\nagain");
    d.ok(&["rm", &name, &name2]);
}
