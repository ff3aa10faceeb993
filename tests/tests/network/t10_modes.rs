//! Which interfaces a container sees in each network mode.

use shoal_tests::{shared, unique};

/// The interface names a container sees.
fn interfaces(d: &shoal_tests::Fixture, net: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(net);
    args.extend_from_slice(&["busybox", "ls", "/sys/class/net"]);
    let mut v: Vec<String> = d.ok(&args).split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// The host's interface carrying the default route (always present on a networked machine).
fn host_default_iface() -> String {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    routes
        .lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"00000000")).then(|| f[0].to_string())
        })
        .expect("host has a default route")
}

#[test]
fn default_mode_has_only_loopback() {
    let d = shared();
    assert_eq!(interfaces(&d, &[]), vec!["lo"]);
    let addrs = d.ok(&["run", "--rm", "busybox", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("127.0.0.1"), "{addrs}");
    assert_eq!(addrs.lines().count(), 1, "{addrs}");
    // Loopback is up and usable.
    let out = d.ok(&[
        "run", "--rm", "busybox", "sh", "-c",
        "mkdir -p /www && echo served > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && wget -q -O - http://127.0.0.1:8080/",
    ]);
    assert_eq!(out, "served");
}

#[test]
fn none_mode_has_only_loopback() {
    let d = shared();
    assert_eq!(interfaces(&d, &["--network", "none"]), vec!["lo"]);
    let name = unique("netnone");
    d.ok(&[
        "create",
        "--name",
        &name,
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(d.cli().fmt(&name, "{{.HostConfig.NetworkMode}}"), "none");
    d.ok(&["rm", &name]);
}

#[test]
fn host_mode_sees_host_interfaces() {
    let d = shared();
    let seen = interfaces(&d, &["--network", "host"]);
    let iface = host_default_iface();
    assert!(seen.contains(&iface), "host interface {iface} in {seen:?}");
    assert!(seen.contains(&"lo".to_string()));
    // The container shares the host's UTS name in host mode.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]),
        host.trim()
    );
    let name = unique("nethost");
    d.ok(&[
        "create",
        "--name",
        &name,
        "--network",
        "host",
        "busybox",
        "true",
    ]);
    assert_eq!(d.cli().fmt(&name, "{{.HostConfig.NetworkMode}}"), "host");
    d.ok(&["rm", &name]);
}
