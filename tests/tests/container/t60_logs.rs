//! `docker logs`: streams, follow, timestamps, tail, since/until, and json-file rotation.

use shoal_tests::{secs, shared, unique, wait};

/// Runs `script` in a detached container and waits for it to exit with 0.
fn finished(d: &shoal_tests::Fixture, name: &str, extra: &[&str], script: &str) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    d.ok(&args);
    assert_eq!(d.ok(&["wait", name]), "0");
}

#[test]
fn logs_split_stdout_and_stderr() {
    let d = shared();
    let name = unique("logs");
    // The pause orders the streams in the log: stdout and stderr are copied independently.
    finished(
        &d,
        &name,
        &[],
        "echo out1; echo err1 >&2; sleep 0.5; echo out2",
    );
    let out = d.docker(&["logs", &name]);
    assert_eq!(out.ok(), "out1\nout2");
    assert_eq!(out.stderr.trim(), "err1");

    let out = d.docker(&["logs", "--tail", "1", &name]);
    assert_eq!(out.ok(), "out2");
    assert_eq!(out.stderr.trim(), "");
    let out = d.docker(&["logs", "--tail", "0", &name]);
    assert_eq!(out.ok(), "");
    let out = d.docker(&["logs", "--tail", "all", &name]);
    assert_eq!(out.ok(), "out1\nout2");

    // Raw API: stdout only, multiplexed frames tagged 1.
    let r = d.http("GET", &format!("/containers/{name}/logs?stdout=1"), None);
    assert_eq!(r.status, 200);
    let frames = shoal_tests::http::demux(&r.body);
    assert_eq!(
        frames,
        vec![(1, b"out1\n".to_vec()), (1, b"out2\n".to_vec())]
    );
    let r = d.http("GET", &format!("/containers/{name}/logs?stderr=1"), None);
    assert_eq!(
        shoal_tests::http::demux(&r.body),
        vec![(2, b"err1\n".to_vec())]
    );
    // Neither stream selected is a bad parameter.
    let r = d.http("GET", &format!("/containers/{name}/logs"), None);
    assert_eq!(r.status, 400, "{}", r.text());
    d.ok(&["rm", &name]);
}

#[test]
fn logs_timestamps_since_until() {
    let d = shared();
    let name = unique("logts");
    finished(&d, &name, &[], "echo first; sleep 1.2; echo second");
    let out = d.ok(&["logs", "-t", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (ts1, l1) = lines[0].split_once(' ').unwrap();
    let (ts2, l2) = lines[1].split_once(' ').unwrap();
    assert_eq!((l1, l2), ("first", "second"));
    for ts in [ts1, ts2] {
        // RFC 3339 with nanoseconds, UTC: 2024-01-02T03:04:05.123456789Z
        assert!(
            ts.len() >= 20 && ts.ends_with('Z') && ts.contains('T') && ts.contains('.'),
            "{ts}"
        );
    }
    assert_eq!(d.ok(&["logs", "--since", ts2, &name]), "second");
    assert_eq!(d.ok(&["logs", "--until", ts1, &name]), "first");
    // A since in the future shows nothing; a relative since far back shows everything.
    assert_eq!(
        d.ok(&["logs", "--since", "2099-01-01T00:00:00Z", &name]),
        ""
    );
    assert_eq!(d.ok(&["logs", "--since", "10m", &name]), "first\nsecond");
    d.ok(&["rm", &name]);
}

#[test]
fn logs_follow_tail_zero_sees_only_new_lines() {
    let d = shared();
    let name = unique("logf");
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo old; while read l; do echo \"got $l\"; done",
    ]);
    wait::until(secs(20), "old line", || {
        d.ok(&["logs", &name]).contains("old").then_some(())
    });
    let mut follow = d.cli().spawn(&["logs", "-f", "--tail", "0", &name]);
    let mut attach = d.cli().spawn(&["attach", &name]);
    // The attach may connect a moment later; repeat the input until it is seen.
    wait::until(secs(20), "followed logs to show a new line", || {
        attach.write_stdin(b"new\n");
        follow.stdout().contains("got new").then_some(())
    });
    assert!(!follow.stdout().contains("old"), "{}", follow.stdout());
    attach.close_stdin();
    d.ok(&["kill", &name]);
    assert_eq!(follow.wait_exit(secs(20)), 0);
    drop(attach);
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn logs_of_a_tty_container() {
    let d = shared();
    let name = unique("logtty");
    finished(&d, &name, &["-t"], "echo on-tty; echo err-on-tty >&2");
    let out = d.docker(&["logs", &name]);
    // A TTY merges the streams and uses CRLF.
    assert!(out.stdout.contains("on-tty\r\n"), "{out:?}");
    assert!(out.stdout.contains("err-on-tty"), "{out:?}");
    d.ok(&["rm", &name]);
}

#[test]
fn json_file_rotation_with_log_opts() {
    let d = shared();
    let name = unique("rotate");
    finished(
        &d,
        &name,
        &["--log-opt", "max-size=1k", "--log-opt", "max-file=2"],
        "i=0; while [ $i -lt 300 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done",
    );
    let v = d.cli().inspect(&name);
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-size"], "1k");
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-file"], "2");
    let log_path = v["LogPath"].as_str().unwrap().to_string();
    let size = std::fs::metadata(&log_path).unwrap().len();
    assert!(
        size <= 1024 + 512,
        "{log_path} is {size} bytes, over max-size"
    );
    assert!(
        std::path::Path::new(&format!("{log_path}.1")).exists(),
        "{log_path}.1 rotated file"
    );
    assert!(
        !std::path::Path::new(&format!("{log_path}.2")).exists(),
        "max-file=2 keeps 2 files"
    );

    // Each line is a json-file record. (The current file may have just been rotated and be
    // empty; the previous one is full.)
    let text = std::fs::read_to_string(format!("{log_path}.1")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["stream"], "stdout");
    assert!(first["log"].as_str().unwrap().starts_with("line-"));
    assert!(first["time"].as_str().unwrap().ends_with('Z'));

    let logs = d.ok(&["logs", &name]);
    assert!(logs.ends_with("line-299-padding-padding-padding"), "{logs}");
    assert!(!logs.contains("line-0-"), "oldest lines were rotated away");
    d.ok(&["rm", &name]);
    assert!(
        !std::path::Path::new(&log_path).exists(),
        "rm deletes the log"
    );
}

#[test]
fn log_driver_none_keeps_no_logs() {
    let d = shared();
    let name = unique("nolog");
    let out = d.docker(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "unseen",
    ]);
    // The foreground run still streams through attach.
    assert_eq!(out.ok(), "unseen");
    assert_eq!(d.cli().fmt(&name, "{{.HostConfig.LogConfig.Type}}"), "none");
    let out = d.fail(&["logs", &name]);
    assert!(out.stderr.contains("does not support reading"), "{out:?}");
    d.ok(&["rm", &name]);
}
