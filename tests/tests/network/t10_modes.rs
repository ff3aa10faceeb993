//! Which interfaces and addresses a container sees in each network mode.

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
fn default_bridge_gives_eth0_address_route_and_files() {
    let d = shared();
    let slot = d.net().expect("network slot");
    assert_eq!(interfaces(&d, &[]), vec!["eth0", "lo"]);
    let gw = slot.gateway().to_string();
    let out = d.ok(&[
        "run", "--rm", "busybox", "sh", "-c",
        "ip -o -4 addr show eth0; ip route; hostname; cat /etc/hosts; ping -c1 -W5 $(ip route | awk '/default/ {print $3}') >/dev/null && echo gw-ok",
    ]);
    let prefix = gw.rsplit_once('.').unwrap().0;
    assert!(out.contains(&format!("inet {prefix}.")), "{out}");
    assert!(out.contains(&format!("default via {gw} dev eth0")), "{out}");
    assert!(out.contains("gw-ok"), "{out}");
    // /etc/hosts maps the container's own address to its hostname.
    let host = out.lines().nth(3).unwrap_or_default().to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{prefix}.")) && l.ends_with(&host)),
        "{out}"
    );
    assert!(out.contains("127.0.0.1\tlocalhost"), "{out}");
    // inspect reports the address and gateway like dockerd.
    let name = unique("insp");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
    let ip = d.cli().fmt(&name, "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with(&format!("{prefix}.")), "{ip}");
    assert_eq!(
        d.cli()
            .fmt(&name, "{{.NetworkSettings.Networks.bridge.Gateway}}"),
        gw
    );
    assert_eq!(
        d.cli()
            .fmt(&name, "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        ip
    );
    let mac = d.cli().fmt(&name, "{{.NetworkSettings.MacAddress}}");
    assert_eq!(mac.len(), 17, "{mac}");
    // container:<name> shares that namespace: same address.
    let shared_ip = d.ok(&[
        "run",
        "--rm",
        "--network",
        &format!("container:{name}"),
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1",
    ]);
    assert_eq!(shared_ip, ip);
    d.ok(&["rm", "-f", &name]);
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

#[test]
fn unknown_network_is_404() {
    let d = shared();
    let out = d.fail(&[
        "run",
        "--rm",
        "--network",
        "no-such-net-xyz",
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr.contains("network no-such-net-xyz not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn network_disabled_leaves_only_loopback() {
    // `NetworkDisabled` (no CLI flag; SDKs set it): no interface but loopback, as on dockerd.
    let d = shared();
    let name = unique("netdisabled");
    let body = r#"{"Image": "busybox", "Cmd": ["ls", "/sys/class/net"], "NetworkDisabled": true}"#;
    d.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(body),
    )
    .expect_status(201);
    d.ok(&["start", "-a", &name]);
    let seen: Vec<String> = d
        .ok(&["logs", &name])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(seen, vec!["lo"], "interfaces with NetworkDisabled");
    d.ok(&["rm", &name]);
}
