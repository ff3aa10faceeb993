//! Log drivers beyond json-file (issue 11): `local` (compact, rotated, compressed) and `syslog`
//! (to a listener the test runs on loopback) with dual logging, and dockerd's refusals.

use std::net::UdpSocket;
use std::time::Duration;

use shoal_tests::{secs, shared, unique, wait};

#[test]
fn local_driver_rotates_compresses_and_serves_logs_and_tail() {
    let d = shared();
    let name = unique("local");
    d.ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let id = d.ok(&["inspect", "--format", "{{.Id}}", &name]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.LogConfig.Type}}",
            &name
        ]),
        "local"
    );
    let dir = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("local-logs");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["container.log", "container.log.1.gz", "container.log.2.gz"],
        "max-file=3, rotated files compressed"
    );
    // The oldest lines rotated away; the newest are all there, in order.
    let logs = d.ok(&["logs", &name]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.last(), Some(&"line-399"));
    let first: usize = lines[0].trim_start_matches("line-").parse().unwrap();
    assert!(first > 0, "rotation dropped the oldest lines");
    let want: Vec<String> = (first..400).map(|i| format!("line-{i}")).collect();
    assert_eq!(lines, want);
    assert_eq!(
        d.ok(&["logs", "--tail", "3", &name]),
        "line-397\nline-398\nline-399"
    );
    d.ok(&["rm", &name]);

    let out = d.fail(&[
        "run",
        "--rm",
        "--log-driver",
        "local",
        "--log-opt",
        "max-bogus=1",
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr
            .contains("unknown log opt 'max-bogus' for local log driver"),
        "{out:?}"
    );
    let out = d.fail(&[
        "run",
        "--rm",
        "--log-driver",
        "nosuchdriver",
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr
            .contains("no log driver named 'nosuchdriver' is registered"),
        "{out:?}"
    );
    // The shared daemon uses the host's journald socket; where there is none, journald is
    // refused at create and not listed (journald_driver_* below runs it against a socket).
    if !std::path::Path::new("/run/systemd/journal/socket").exists() {
        let out = d.fail(&["run", "--rm", "--log-driver", "journald", "busybox", "true"]);
        assert!(
            out.stderr.contains("journald is not enabled on this host"),
            "{out:?}"
        );
        let drivers = d.ok(&["info", "--format", "{{json .Plugins.Log}}"]);
        assert_eq!(drivers, r#"["json-file","local","none","syslog"]"#);
    }
}

/// Decodes one journal native-protocol datagram into its fields.
fn journal_fields(mut buf: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    while !buf.is_empty() {
        let nl = buf.iter().position(|b| *b == b'\n').expect("field ends");
        let line = &buf[..nl];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            out.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            buf = &buf[nl + 1..];
        } else {
            // KEY\n<u64 LE length><value>\n
            let key = String::from_utf8_lossy(line).into_owned();
            let rest = &buf[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.insert(key, String::from_utf8_lossy(&rest[8..8 + len]).into_owned());
            buf = &rest[8 + len + 1..];
        }
    }
    out
}

#[test]
fn journald_driver_sends_dockerd_fields_and_docker_logs_reads_the_cache() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&path).unwrap();
    journal
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let d = shoal_tests::Daemon::start(shoal_tests::Options {
        extra_args: vec!["--journald-socket".into(), path.display().to_string()],
        ..Default::default()
    });
    let drivers = d.ok(&["info", "--format", "{{json .Plugins.Log}}"]);
    assert_eq!(
        drivers,
        r#"["json-file","journald","local","none","syslog"]"#
    );
    let name = unique("journald");
    d.ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "journald",
        "--log-opt",
        "tag={{.Name}}/{{.ImageName}}",
        "busybox",
        "sh",
        "-c",
        "echo hello-journal; echo oops-journal >&2",
    ]);
    let id = d.ok(&["inspect", "--format", "{{.Id}}", &name]);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got: Vec<std::collections::HashMap<String, String>> = Vec::new();
    let done = wait::try_until(secs(30), || {
        if let Ok(n) = journal.recv(&mut buf) {
            got.push(journal_fields(&buf[..n]));
        }
        (got.len() >= 2).then_some(())
    });
    assert!(done.is_some(), "two journal entries: {got:?}");
    let by_msg = |m: &str| {
        got.iter()
            .find(|f| f.get("MESSAGE").map(String::as_str) == Some(m))
            .unwrap_or_else(|| panic!("entry {m}: {got:?}"))
            .clone()
    };
    let out = by_msg("hello-journal");
    let err = by_msg("oops-journal");
    assert_eq!(out["PRIORITY"], "6", "{out:?}");
    assert_eq!(err["PRIORITY"], "3", "stderr is err: {err:?}");
    assert_eq!(out["CONTAINER_ID"], id[..12], "{out:?}");
    assert_eq!(out["CONTAINER_ID_FULL"], id, "{out:?}");
    assert_eq!(out["CONTAINER_NAME"], name, "{out:?}");
    let tag = format!("{name}/busybox");
    assert_eq!(out["CONTAINER_TAG"], tag, "{out:?}");
    assert_eq!(out["SYSLOG_IDENTIFIER"], tag, "{out:?}");
    assert_eq!(out["IMAGE_NAME"], "busybox", "{out:?}");
    // Dual logging: the local cache answers docker logs.
    let logs = d.docker(&["logs", &name]);
    assert_eq!(logs.ok(), "hello-journal");
    assert_eq!(logs.stderr.trim(), "oops-journal");
    d.ok(&["rm", &name]);
    // Options dockerd's journald has and Shoal does not carry are refused by name.
    let out = d.fail(&[
        "run",
        "--rm",
        "--log-driver",
        "journald",
        "--log-opt",
        "labels=a",
        "busybox",
        "true",
    ]);
    assert!(out.stderr.contains("'labels'"), "{out:?}");
}

/// Reads datagrams until every needle was seen; answers the message holding each.
fn receive_all(sock: &UdpSocket, needles: &[&str]) -> Vec<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut found: Vec<Option<String>> = vec![None; needles.len()];
    let done = wait::try_until(secs(30), || {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            for (i, needle) in needles.iter().enumerate() {
                if msg.contains(needle) {
                    found[i] = Some(msg.clone());
                }
            }
        }
        found.iter().all(Option::is_some).then_some(())
    });
    assert!(done.is_some(), "syslog messages {needles:?}: got {found:?}");
    found.into_iter().flatten().collect()
}

fn receive(sock: &UdpSocket, needle: &str) -> String {
    receive_all(sock, &[needle]).remove(0)
}

#[test]
fn syslog_driver_sends_rfc5424_and_docker_logs_reads_the_cache() {
    let d = shared();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let addr = format!("udp://{}", sock.local_addr().unwrap());
    let name = unique("syslog");
    let tag = format!("shoaltest-{name}");
    d.ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "syslog",
        "--log-opt",
        &format!("syslog-address={addr}"),
        "--log-opt",
        "syslog-format=rfc5424",
        "--log-opt",
        &format!("tag={tag}"),
        "busybox",
        "sh",
        "-c",
        "echo hello-syslog; echo oops-syslog >&2",
    ]);
    let got = receive_all(&sock, &["hello-syslog", "oops-syslog"]);
    let (out, err) = (&got[0], &got[1]);
    // <daemon.info>1 TIMESTAMP HOST TAG PID TAG - MSG
    assert!(out.starts_with("<30>1 "), "{out}");
    assert!(out.contains(&format!(" {tag} ")), "{out}");
    assert!(err.starts_with("<27>1 "), "stderr is daemon.err: {err}");
    // Dual logging: the local cache answers docker logs.
    let logs = d.docker(&["logs", &name]);
    assert_eq!(logs.ok(), "hello-syslog");
    assert_eq!(logs.stderr.trim(), "oops-syslog");
    d.ok(&["rm", &name]);

    let name = unique("nocache");
    d.ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "syslog",
        "--log-opt",
        &format!("syslog-address={addr}"),
        "--log-opt",
        "cache-disabled=true",
        "busybox",
        "echo",
        "uncached-line",
    ]);
    let msg = receive(&sock, "uncached-line");
    assert!(msg.starts_with("<30>"), "rfc3164 by default: {msg}");
    let out = d.fail(&["logs", &name]);
    assert!(
        out.stderr
            .contains("configured logging driver does not support reading"),
        "{out:?}"
    );
    d.ok(&["rm", &name]);

    // A tcp server that is not there fails the start, as with dockerd.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = d.fail(&[
        "run",
        "--rm",
        "--log-driver",
        "syslog",
        "--log-opt",
        &format!("syslog-address=tcp://127.0.0.1:{port}"),
        "busybox",
        "true",
    ]);
    assert!(out.stderr.contains("syslog"), "{out:?}");
}
