//! IPv6 dual stack on user networks: `--ipv6` with an IPv6 `--subnet` (or from the daemon's
//! ULA pool), `--ip6`, the IPv6 inspect fields, AAAA answers of the embedded DNS, the container's
//! `/etc/hosts`, reach over IPv6 by name, and published ports answering on `[::1]`.

use shoal_tests::{Daemon, Options, shared, unique};

use crate::util::{curl_until, host_port, httpd, sh_on};

/// The host must let namespaces have IPv6 (a kernel booted with IPv6 off cannot run these).
fn require_ipv6() {
    let v = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .expect("this host has no IPv6 (/proc/sys/net/ipv6 missing): the IPv6 tests need it");
    assert_eq!(
        v.trim(),
        "0",
        "net.ipv6.conf.all.disable_ipv6 is 1 on this host: the IPv6 tests need IPv6 enabled"
    );
}

/// `fd5e:a1:N:I::/64` → `fd5e:a1:N:I::`.
fn prefix(subnet6: &str) -> String {
    subnet6.trim_end_matches("/64").to_string()
}

fn dual_stack_net(d: &Daemon, v4: u8, v6: u8) -> (String, String) {
    let slot = d.net().expect("slot");
    let subnet6 = slot.subnet6(v6);
    let net = unique("v6");
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &slot.subnet(v4),
        "--subnet",
        &subnet6,
        &net,
    ]);
    (net, subnet6)
}

#[test]
fn dual_stack_containers_reach_each_other_over_ipv6_by_name() {
    require_ipv6();
    let d = shared();
    let (net, subnet6) = dual_stack_net(&d, 2, 0);
    let p = prefix(&subnet6);
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", &net])).unwrap();
    let n = &v[0];
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let cfg = n["IPAM"]["Config"].as_array().expect("IPAM.Config");
    let six = cfg
        .iter()
        .find(|c| c["Subnet"] == subnet6.as_str())
        .unwrap_or_else(|| panic!("no IPv6 entry in {cfg:?}"));
    // dockerd 20.10 lists only what was given; Shoal (as dockerd 28) adds the gateway.
    if let Some(gw) = six.get("Gateway") {
        assert_eq!(gw, &serde_json::json!(format!("{p}1")), "{six}");
    }

    let want = format!("{p}99");
    let srv = httpd(&d, &["--network", &net, "--ip6", &want], "over-v6");
    let fmt = |f: &str| {
        d.cli().fmt(
            &srv,
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").{f}}}}}"),
        )
    };
    assert_eq!(fmt("GlobalIPv6Address"), want);
    assert_eq!(fmt("GlobalIPv6PrefixLen"), "64");
    assert_eq!(fmt("IPv6Gateway"), format!("{p}1"));
    assert_eq!(
        d.cli().fmt(&srv, "{{.HostConfig.NetworkMode}}"),
        net,
        "network mode"
    );
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", &net])).unwrap();
    let members = v[0]["Containers"].as_object().expect("Containers").clone();
    assert!(
        members
            .values()
            .any(|c| c["IPv6Address"] == format!("{want}/64")),
        "{members:?}"
    );
    // /etc/hosts carries the hostname on the IPv6 address too, as dockerd writes it.
    let hosts = d.ok(&["exec", &srv, "cat", "/etc/hosts"]);
    let hostname = d.ok(&["exec", &srv, "hostname"]);
    assert!(
        hosts.contains(&format!("{want}\t{}", hostname.trim())),
        "{hosts}"
    );

    let script = format!(
        "nslookup -type=aaaa {srv} 127.0.0.11; ip -6 addr show eth0; ip -6 route; \
         ping -6 -c1 -W5 {srv} && echo ping6-ok; \
         for i in 1 2 3 4 5; do timeout 3 wget -q -O - http://[{want}]/ && break; sleep 1; done"
    );
    let out = sh_on(&d, &net, &script);
    assert!(
        out.contains(&format!("Address: {want}")),
        "AAAA answer: {out}"
    );
    assert!(
        out.contains(&format!("inet6 {p}2/64")),
        "own IPv6 address: {out}"
    );
    assert!(
        out.contains(&format!("default via {p}1")),
        "IPv6 default route: {out}"
    );
    assert!(out.contains("ping6-ok"), "{out}");
    assert!(out.contains("over-v6"), "{out}");
    d.ok(&["rm", "-f", &srv]);
    d.ok(&["network", "rm", &net]);
}

#[test]
fn ipv6_published_ports_answer_on_the_ipv6_loopback() {
    require_ipv6();
    let d = shared();
    let (net, _) = dual_stack_net(&d, 3, 1);
    // A plain -p on a dual-stack network answers on both loopbacks.
    let web = httpd(&d, &["--network", &net, "-p", "80"], "dual");
    let port = host_port(&d, &web, "80");
    let ports = d.ok(&["port", &web, "80"]);
    assert!(ports.contains(&format!("[::]:{port}")), "{ports}");
    curl_until(&format!("http://127.0.0.1:{port}/"), None, "dual");
    curl_until(&format!("http://[::1]:{port}/"), None, "dual");
    // An explicit [::1] binding.
    let local = httpd(&d, &["--network", &net, "-p", "[::1]::80"], "loop6");
    let out = d.ok(&["port", &local, "80"]);
    let p6: u16 = out
        .lines()
        .find(|l| l.starts_with("[::1]:"))
        .unwrap_or_else(|| panic!("docker port: {out}"))
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    curl_until(&format!("http://[::1]:{p6}/"), None, "loop6");
    d.ok(&["rm", "-f", &web, &local]);
    d.ok(&["network", "rm", &net]);
}

#[test]
fn ipv6_without_a_subnet_gets_one_from_the_ula_pool_and_bad_requests_are_refused() {
    require_ipv6();
    let d = shared();
    let slot = d.net().expect("slot");
    let v4only = unique("v4");
    d.ok(&["network", "create", "--subnet", &slot.subnet(4), &v4only]);
    // --ip6 on a network without IPv6 is refused.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        &v4only,
        "--ip6",
        "fd5e::5",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    // An IPv6 host address for a container without IPv6 is proxied to its IPv4 address, as
    // docker-proxy does.
    let web = httpd(&d, &["--network", &v4only, "-p", "[::1]::80"], "to-v4");
    let out = d.ok(&["port", &web, "80"]);
    let p6 = out
        .lines()
        .find(|l| l.starts_with("[::1]:"))
        .unwrap_or_else(|| panic!("docker port: {out}"))
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    curl_until(&format!("http://[::1]:{p6}/"), None, "to-v4");
    d.ok(&["rm", "-f", &web]);
    // A port published on every address of an IPv4-only container is on `[::]` too, the same
    // port, so `localhost` answers when it resolves to ::1.
    let web = httpd(&d, &["--network", &v4only, "-p", "80"], "any-v4");
    let out = d.ok(&["port", &web, "80"]);
    let p4 = host_port(&d, &web, "80/tcp");
    assert!(
        out.lines().any(|l| l == format!("[::]:{p4}")),
        "docker port: {out}"
    );
    curl_until(&format!("http://[::1]:{p4}/"), None, "any-v4");
    d.ok(&["rm", "-f", &web]);
    // UDP too: `[::1]` and the implicit `[::]` of an IPv4-only container are proxied to its
    // IPv4 address. The image has no UDP server, so the datagrams are seen arriving in the
    // container's namespace by its `NoPorts` counter (each is answered "port unreachable").
    let udp = unique("udp4");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &udp,
        "--network",
        &v4only,
        "-p",
        "[::1]::5353/udp",
        "-p",
        "5354/udp",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = d.ok(&["port", &udp]);
    let port_of = |prefix: &str| -> u16 {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in docker port: {out}"))
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a port after {prefix}: {out}"))
    };
    let loop6 = port_of("5353/udp -> [::1]:");
    let any6 = port_of("5354/udp -> [::]:");
    let no_ports = || -> u64 {
        let snmp = d.ok(&["exec", &udp, "cat", "/proc/net/snmp"]);
        let mut udp_lines = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let names: Vec<&str> = udp_lines.next().unwrap_or("").split_whitespace().collect();
        let values: Vec<&str> = udp_lines.next().unwrap_or("").split_whitespace().collect();
        let i = names
            .iter()
            .position(|n| *n == "NoPorts")
            .unwrap_or_else(|| panic!("no Udp NoPorts in {snmp}"));
        values[i]
            .parse()
            .unwrap_or_else(|_| panic!("NoPorts in {snmp}"))
    };
    for port in [loop6, any6] {
        let before = no_ports();
        let sock = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let arrived = shoal_tests::wait::try_until(std::time::Duration::from_secs(20), || {
            sock.send_to(b"ping", ("::1", port)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            (no_ports() > before).then_some(())
        });
        assert!(
            arrived.is_some(),
            "UDP to [::1]:{port} never reached the IPv4-only container"
        );
    }
    d.ok(&["rm", "-f", &udp]);
    d.ok(&["network", "rm", &v4only]);
    if !d.engine().is_shoal() {
        // The reference dockerd (20.10) has no default IPv6 pool; dockerd 28 and Shoal do.
        return;
    }
    let net = unique("ula");
    d.ok(&["network", "create", "--ipv6", &net]);
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", &net])).unwrap();
    let cfg = v[0]["IPAM"]["Config"]
        .as_array()
        .expect("IPAM.Config")
        .clone();
    let six = cfg
        .iter()
        .filter_map(|c| c["Subnet"].as_str())
        .find(|s| s.contains(':'))
        .unwrap_or_else(|| panic!("no IPv6 subnet in {cfg:?}"))
        .to_string();
    assert!(six.starts_with("fd") && six.ends_with("::/64"), "{six}");
    let net2 = unique("ula");
    d.ok(&["network", "create", "--ipv6", &net2]);
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", &net2])).unwrap();
    let second = v[0]["IPAM"]["Config"][1]["Subnet"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_ne!(six, second, "two networks, two /64s");
    // A v6 subnet without --ipv6 is refused with a 400, not ignored.
    let bad = d.docker(&[
        "network",
        "create",
        "--subnet",
        &slot.subnet6(5),
        &unique("no6"),
    ]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("IPv6"), "{}", bad.stderr);
    d.ok(&["network", "rm", &net, &net2]);
}

#[test]
fn daemon_ipv6_makes_the_default_bridge_dual_stack() {
    require_ipv6();
    // A /64 only this test process uses (the slot is not known before the daemon starts).
    let pid = std::process::id();
    let cidr = format!("fd5e:b{:x}:{:x}::/64", pid >> 16, (pid & 0xffff) | 1);
    let p = prefix(&cidr);
    let d = Daemon::start(Options {
        networking: true,
        extra_args: vec!["--ipv6".into(), "--fixed-cidr-v6".into(), cidr.clone()],
        ..Default::default()
    });
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["network", "inspect", "bridge"])).unwrap();
    assert_eq!(v[0]["EnableIPv6"], true, "{}", v[0]);
    let cfg = v[0]["IPAM"]["Config"]
        .as_array()
        .expect("IPAM.Config")
        .clone();
    assert!(cfg.iter().any(|c| c["Subnet"] == cidr.as_str()), "{cfg:?}");
    let name = unique("b6");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    let addr = d.cli().fmt(&name, "{{.NetworkSettings.GlobalIPv6Address}}");
    assert!(addr.starts_with(&p), "{addr} not in {cidr}");
    let out = d.ok(&["exec", &name, "ip", "-6", "addr", "show", "eth0"]);
    assert!(out.contains(&format!("inet6 {addr}/64")), "{out}");
    // The bridge's IPv6 address answers from the container.
    let out = d.ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        &format!("ping -6 -c1 -W5 {p}1 && echo gw6-ok"),
    ]);
    assert!(out.contains("gw6-ok"), "{out}");
    d.ok(&["rm", "-f", &name]);
}
