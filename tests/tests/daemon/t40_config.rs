//! daemon.json, --version and --pidfile.

use shoal_tests::docker::run_command;
use shoal_tests::{Daemon, Engine, Options, secs, wait};
use std::process::Command;

#[test]
fn unknown_daemon_json_key_is_an_error_naming_it() {
    let d = Daemon::prepare(
        Engine::from_env(),
        Options {
            config: Some(serde_json::json!({"no-such-shoal-key": true})),
            ..Options::default()
        },
    );
    let out = run_command(d.command(), None, secs(60));
    assert_ne!(out.code, 0, "{out:?}");
    assert_ne!(out.code, -1, "daemon must exit by itself: {out:?}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("no-such-shoal-key"),
        "{out:?}"
    );
    assert!(!d.sock().exists());
}

#[test]
fn malformed_daemon_json_is_an_error() {
    let d = Daemon::prepare(Engine::from_env(), Options::default());
    let file = d.dir().join("daemon.json");
    std::fs::write(&file, b"{ not json").unwrap();
    let out = run_command(d.command(), None, secs(60));
    assert_ne!(out.code, 0, "{out:?}");
    assert_ne!(out.code, -1, "daemon must exit by itself: {out:?}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("daemon.json"),
        "{out:?}"
    );
}

#[test]
fn version_flag_prints_a_version() {
    let engine = Engine::from_env();
    let out = run_command(
        {
            let mut c = Command::new(engine.binary());
            c.arg("--version");
            c
        },
        None,
        secs(30),
    );
    let v = out.ok();
    assert!(v.chars().any(|c| c.is_ascii_digit()), "{v}");
    if engine.is_shoal() {
        assert!(v.to_lowercase().contains("shoal"), "{v}");
    }
}

#[test]
fn paths_and_log_opts_from_daemon_json() {
    let d = Daemon::start(Options {
        config: Some(serde_json::json!({
            "log-driver": "json-file",
            "log-opts": {"max-size": "1k", "max-file": "2"},
        })),
        paths_in_config: true,
        ..Options::default()
    });
    // hosts, data-root, exec-root and pidfile came from daemon.json.
    assert!(d.sock().exists());
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_eq!(info["DockerRootDir"], d.data_root().display().to_string());
    let pid = std::fs::read_to_string(d.pidfile()).unwrap();
    assert_eq!(pid.trim(), d.pid().to_string());

    // The default log-opts apply to new containers.
    d.ok(&[
        "run",
        "--name",
        "chatty",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done",
    ]);
    let log_path = d.cli().fmt("chatty", "{{.LogPath}}");
    assert!(
        std::path::Path::new(&format!("{log_path}.1")).exists(),
        "rotated by daemon log-opts"
    );
    assert!(!std::path::Path::new(&format!("{log_path}.2")).exists());
    assert!(
        d.ok(&["logs", "chatty"])
            .ends_with("line-299-padding-padding-padding")
    );
}

#[test]
fn pidfile_holds_the_daemon_pid() {
    let d = Daemon::start(Options {
        no_busybox: true,
        ..Options::default()
    });
    let pid = std::fs::read_to_string(d.pidfile()).unwrap();
    assert_eq!(pid.trim(), d.pid().to_string());
    assert_eq!(d.terminate(), 0);
    // A clean stop lets the next start proceed on the same pidfile.
    d.restart();
    let pid = wait::until(secs(10), "pidfile rewritten", || {
        let p = std::fs::read_to_string(d.pidfile()).ok()?;
        (p.trim() == d.pid().to_string()).then_some(p)
    });
    assert!(!pid.is_empty());
}

#[test]
fn unix_socket_mode_and_extra_tcp_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = Daemon::start(Options {
        extra_args: vec!["-H".into(), format!("tcp://127.0.0.1:{port}")],
        no_busybox: true,
        ..Options::default()
    });
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.sock()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode {mode:o}");

    // The same API on TCP, as a second -H.
    let mut c = d.cli().command(&["version", "--format", "{{.Server.Os}}"]);
    c.env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"));
    assert_eq!(run_command(c, None, secs(30)).ok(), "linux");
}
