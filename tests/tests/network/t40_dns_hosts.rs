//! `/etc/hosts` and `/etc/resolv.conf`: `--add-host` (with `host-gateway`), `--dns`,
//! `--dns-search`, `--dns-option`, legacy `--link`, and forwarding of unknown names by the
//! embedded DNS server to the upstream resolvers.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shoal_tests::{shared, unique};

#[test]
fn add_host_dns_flags_and_links_are_visible_inside() {
    let d = shared();
    let gw = d.net().unwrap().gateway().to_string();
    let out = d.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db.example:10.1.2.3",
        "--add-host",
        "hostgw:host-gateway",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "corp.example",
        "--dns-option",
        "ndots:3",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf",
    ]);
    assert!(out.contains("10.1.2.3\tdb.example"), "{out}");
    assert!(out.contains(&format!("{gw}\thostgw")), "{out}");
    assert!(out.contains("nameserver 10.9.9.9"), "{out}");
    assert!(out.contains("search corp.example"), "{out}");
    assert!(out.contains("ndots:3"), "{out}");
    // No loopback resolver of the host leaks into a default-bridge container.
    assert!(!out.contains("nameserver 127."), "{out}");

    let target = unique("lnk");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &target,
        "--expose",
        "5432",
        "-e",
        "SECRET=s1",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = d.cli().fmt(&target, "{{.NetworkSettings.IPAddress}}");
    let out = d.ok(&[
        "run",
        "--rm",
        "--link",
        &format!("{target}:dbalias"),
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts; env; ping -c1 -W5 dbalias >/dev/null && echo ping-ok",
    ]);
    assert!(
        out.contains(&format!("DBALIAS_PORT_5432_TCP_ADDR={ip}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("DBALIAS_PORT=tcp://{ip}:5432")),
        "{out}"
    );
    assert!(out.contains("DBALIAS_ENV_SECRET=s1"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("DBALIAS_NAME=/") && l.ends_with("/dbalias")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{ip}\tdbalias"))),
        "{out}"
    );
    assert!(out.contains("ping-ok"), "{out}");
    d.ok(&["rm", "-f", &target]);
}

/// A one-answer DNS server: every A query gets 10.9.8.7.
fn fake_dns(addr: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let sock = UdpSocket::bind(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !s2.load(Ordering::Relaxed) {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            // Header: same id, response + recursion available, 1 question, 1 answer.
            let mut r = buf[..n].to_vec();
            r[2] = 0x81;
            r[3] = 0x80;
            r[6] = 0;
            r[7] = 1;
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 8, 7]);
            let _ = sock.send_to(&r, peer);
        }
    });
    (stop, h)
}

#[test]
fn embedded_dns_forwards_unknown_names_upstream() {
    let d = shared();
    if !d.engine().is_shoal() {
        // dockerd 20.10 forwards from the container's namespace, where a loopback resolver is
        // out of reach (newer dockerd forwards from the host's, as Shoal does); the test's
        // resolver must be on loopback, since tests talk to nothing else.
        return;
    }
    let n = d.net().unwrap().n();
    // A resolver on the host's loopback: only reachable because the embedded server forwards
    // from the host's namespace, as dockerd's does.
    let upstream = format!("127.53.{}.{}", n / 256 + 1, n % 256);
    let (stop, h) = fake_dns(&format!("{upstream}:53"));
    let net = unique("fw");
    d.ok(&["network", "create", &net]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--dns",
        &upstream,
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; nslookup outside.example",
    ]);
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    assert!(out.contains("10.9.8.7"), "{out}");
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    d.ok(&["network", "rm", &net]);
}
