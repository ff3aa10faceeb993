//! A second daemon on the same data-root refuses to start, with a clear message.

use shoal_tests::docker::run_command;
use shoal_tests::{Daemon, Options, secs};

#[test]
fn second_daemon_on_same_data_root_refuses() {
    let d = Daemon::start(Options {
        no_busybox: true,
        ..Options::default()
    });
    let sock2 = d.dir().join("second.sock");
    let exec2 = d.dir().join("exec2");
    // dockerd guards its data-root only through the pidfile, so it gets the same pidfile;
    // Shoal must refuse on the data-root alone.
    let pid2 = if d.engine().is_shoal() {
        d.dir().join("second.pid")
    } else {
        d.pidfile().to_path_buf()
    };
    let out = run_command(d.command_with(&sock2, &exec2, &pid2), None, secs(60));
    assert_ne!(out.code, 0, "second daemon must fail: {out:?}");
    assert_ne!(
        out.code, -1,
        "second daemon must exit by itself, not hang: {out:?}"
    );
    let text = format!("{}{}", out.stdout, out.stderr);
    if d.engine().is_shoal() {
        let data_root = d.data_root().display().to_string();
        assert!(
            text.contains(&data_root) || text.to_lowercase().contains("already"),
            "message names the data-root or says it is in use: {text}"
        );
    } else {
        assert!(text.contains("pid file found"), "{text}");
    }
    // The first daemon is unaffected.
    assert_eq!(d.http("GET", "/_ping", None).status, 200);
    assert!(!sock2.exists() || std::os::unix::net::UnixStream::connect(&sock2).is_err());
}
