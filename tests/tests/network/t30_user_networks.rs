//! User-defined bridge networks: create/ls/inspect/rm/connect/disconnect/prune, `--subnet`,
//! `--ip`, `--internal`, aliases, embedded DNS by name, alias and short ID, events.

use shoal_tests::{shared, unique};

use crate::util::{host_port, httpd, sh_on};

#[test]
fn containers_resolve_and_reach_each_other_by_name_alias_and_short_id() {
    let d = shared();
    let net = unique("un");
    d.ok(&["network", "create", &net]);
    let srv = httpd(
        &d,
        &["--network", &net, "--network-alias", "webalias"],
        "from-srv",
    );
    let short = d.cli().fmt(&srv, "{{.Id}}")[..12].to_string();
    let ip = d.cli().fmt(
        &srv,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    );
    let script = format!(
        "cat /etc/resolv.conf; nslookup {srv} 127.0.0.11; for i in 1 2 3 4 5; do timeout 3 wget -q -O - http://webalias/ && break; sleep 1; done; echo; ping -c1 -W5 {short} && echo ping-ok"
    );
    let out = sh_on(&d, &net, &script);
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    assert!(out.contains(&format!("Address: {ip}")), "{out}");
    assert!(out.contains("from-srv"), "{out}");
    assert!(out.contains("ping-ok"), "{out}");
    // Reverse lookups answer `<container>.<network>`; queries over TCP are answered too.
    let script = format!(
        "nslookup {ip} 127.0.0.11; (printf '{}'; sleep 1) | nc -w 3 127.0.0.11 53 | od -An -tx1 -v",
        tcp_query(0x1234, &srv)
    );
    let out = sh_on(&d, &net, &script);
    assert!(out.contains(&format!("name = {srv}.{net}")), "{out}");
    let hex: String = out
        .lines()
        .skip_while(|l| !l.starts_with(' '))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let ip_hex: String = ip
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap()))
        .collect();
    // Length prefix, then our ID, then (somewhere in the answer) the address.
    assert_eq!(hex.get(4..8), Some("1234"), "{out}");
    assert!(hex.contains(&ip_hex), "no {ip} in the TCP answer: {out}");
    // A container on the default bridge does not see names of the user network.
    let out = d.docker(&["run", "--rm", "busybox", "nslookup", "webalias"]);
    assert!(!out.stdout.contains(&ip), "{}", out.stdout);
    d.ok(&["rm", "-f", &srv]);
    d.ok(&["network", "rm", &net]);
}

/// A DNS query for `name`'s A record as sent over TCP (2-byte length first), written as the
/// octal escapes `printf` takes.
fn tcp_query(id: u16, name: &str) -> String {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend(q);
    framed.iter().map(|b| format!("\\{b:03o}")).collect()
}

#[test]
fn subnet_gateway_ip_range_and_fixed_ip() {
    let d = shared();
    let slot = d.net().expect("slot");
    let subnet = slot.subnet(0);
    let base = subnet.trim_end_matches(".0/24").to_string();
    let net = unique("sn");
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--gateway",
        &format!("{base}.254"),
        "--ip-range",
        &format!("{base}.128/25"),
        "--aux-address",
        &format!("router={base}.128"),
        "--aux-address",
        &format!("printer={base}.129"),
        "--label",
        "team=net",
        "--opt",
        "com.docker.network.driver.mtu=1400",
        &net,
    ]);
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["network", "inspect", &net])).unwrap();
    let n = &v[0];
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["Scope"], "local");
    assert_eq!(n["IPAM"]["Driver"], "default");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], subnet.as_str());
    assert_eq!(n["IPAM"]["Config"][0]["Gateway"], format!("{base}.254"));
    assert_eq!(n["IPAM"]["Config"][0]["IPRange"], format!("{base}.128/25"));
    let aux = &n["IPAM"]["Config"][0]["AuxiliaryAddresses"];
    assert_eq!(aux["router"], format!("{base}.128"), "{n}");
    assert_eq!(aux["printer"], format!("{base}.129"), "{n}");
    assert_eq!(n["Labels"]["team"], "net");
    assert_eq!(n["Options"]["com.docker.network.driver.mtu"], "1400");
    let out = sh_on(
        &d,
        &net,
        "ip -o -4 addr show eth0; cat /sys/class/net/eth0/mtu; ip route",
    );
    // The auxiliary addresses are never handed out.
    assert!(out.contains(&format!("inet {base}.130/24")), "{out}");
    assert!(out.contains("1400"), "{out}");
    assert!(out.contains(&format!("default via {base}.254")), "{out}");
    let name = unique("fixed");
    let ip = format!("{base}.10");
    let mut args = vec!["run", "-d", "--name", &name, "--network", &net, "--ip", &ip];
    // The CLI sends a per-network MAC only to API 1.44+ (dockerd 20.10 speaks 1.41).
    let shoal = d.engine().is_shoal();
    if shoal {
        args.extend_from_slice(&["--mac-address", "02:42:aa:bb:cc:dd"]);
    }
    args.extend_from_slice(&["busybox", "sleep", "60"]);
    d.ok(&args);
    let f = format!(
        "{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}} {{{{(index .NetworkSettings.Networks \"{net}\").MacAddress}}}}"
    );
    let got = d.cli().fmt(&name, &f);
    assert!(got.starts_with(&format!("{ip} ")), "{got}");
    if shoal {
        assert_eq!(got, format!("{ip} 02:42:aa:bb:cc:dd"));
    }
    // The same address again is refused.
    let out = d.fail(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--ip",
        &format!("{base}.10"),
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr.to_lowercase().contains("address already in use"),
        "{}",
        out.stderr
    );
    // So is an auxiliary address, and one outside the subnet at create.
    let out = d.fail(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--ip",
        &format!("{base}.129"),
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr.to_lowercase().contains("address already in use"),
        "{}",
        out.stderr
    );
    let out = d.fail(&[
        "network",
        "create",
        "--subnet",
        &slot.subnet(1),
        "--aux-address",
        &format!("far={base}.7"),
        &unique("sn-bad"),
    ]);
    // The CLI checks this one itself ("no matching subnet"); the daemon's own check (for API
    // clients) is unit-tested in node/src/network/networks.rs.
    assert!(
        out.stderr.contains("no matching subnet for aux-address"),
        "{}",
        out.stderr
    );
    // Removal with an attached container is refused; ls filters find the network.
    let out = d.fail(&["network", "rm", &net]);
    assert!(
        out.stderr.contains("has active endpoints"),
        "{}",
        out.stderr
    );
    let ls = d.ok(&[
        "network",
        "ls",
        "--filter",
        "label=team=net",
        "--format",
        "{{.Name}}",
    ]);
    assert!(ls.lines().any(|l| l == net), "{ls}");
    let inspect = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}{{end}}",
        &net,
    ]);
    assert_eq!(inspect, name);
    d.ok(&["rm", "-f", &name]);
    d.ok(&["network", "rm", &net]);
    let out = d.fail(&["network", "inspect", &net]);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

#[test]
fn internal_network_has_no_route_out() {
    let d = shared();
    let net = unique("int");
    d.ok(&["network", "create", "--internal", &net]);
    let web = httpd(&d, &["-p", "80"], "outside");
    let port = host_port(&d, &web, "80/tcp");
    let gw = d.net().unwrap().gateway().to_string();
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        &net,
        "busybox",
        "sh",
        "-c",
        &format!("ip route; timeout 3 wget -q -O - http://{gw}:{port}/ && echo reached"),
    ]);
    // dockerd 20.10 still gives containers of an internal network a default route (its rules
    // drop the traffic); Shoal gives none. Either way nothing gets out.
    if d.engine().is_shoal() {
        assert!(!out.stdout.contains("default"), "{}", out.stdout);
    }
    assert!(!out.stdout.contains("reached"), "{}", out.stdout);
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{.Internal}}", &net]),
        "true"
    );
    d.ok(&["rm", "-f", &web]);
    d.ok(&["network", "rm", &net]);
}

#[test]
fn connect_with_alias_then_disconnect_while_running() {
    let d = shared();
    let a = unique("na");
    let b = unique("nb");
    d.ok(&["network", "create", &a]);
    d.ok(&["network", "create", &b]);
    let srv = httpd(&d, &["--network", &a], "multi");
    let since = d.ok(&["version", "-f", "{{.Server.Os}}"]);
    assert_eq!(since, "linux");
    d.ok(&["network", "connect", "--alias", "late", &b, &srv]);
    let nets = d.cli().fmt(
        &srv,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(nets.contains(&a) && nets.contains(&b), "{nets}");
    let out = d.ok(&[
        "run", "--rm", "--network", &b, "busybox", "sh", "-c",
        "for i in 1 2 3 4 5; do timeout 3 wget -q -O - http://late/ && exit 0; sleep 1; done; exit 1",
    ]);
    assert_eq!(out, "multi");
    assert_eq!(
        d.ok(&["exec", &srv, "ls", "/sys/class/net"])
            .split_whitespace()
            .count(),
        3
    );
    let ps = d.ok(&[
        "ps",
        "--filter",
        &format!("network={b}"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps, srv);
    d.ok(&["network", "disconnect", &b, &srv]);
    assert_eq!(
        d.ok(&["exec", &srv, "ls", "/sys/class/net"])
            .split_whitespace()
            .count(),
        2
    );
    let nets = d.cli().fmt(
        &srv,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(!nets.contains(&b), "{nets}");
    let out = d.fail(&["network", "disconnect", &b, &srv]);
    assert!(out.stderr.contains("is not connected"), "{}", out.stderr);
    d.ok(&["rm", "-f", &srv]);
    d.ok(&["network", "rm", &a, &b]);
}

#[test]
fn events_prune_and_predefined_networks() {
    let d = shared();
    let net = unique("ev");
    let since = d.ok(&["system", "info", "-f", "{{.SystemTime}}"]);
    d.ok(&[
        "network",
        "create",
        "--label",
        &format!("prune={net}"),
        &net,
    ]);
    let c = unique("evc");
    d.ok(&["run", "--name", &c, "--network", &net, "busybox", "true"]);
    d.ok(&["rm", &c]);
    let removed = d.ok(&[
        "network",
        "prune",
        "-f",
        "--filter",
        &format!("label=prune={net}"),
    ]);
    assert!(removed.contains(&net), "{removed}");
    let ev = shoal_tests::wait::until(shoal_tests::secs(20), "network events", || {
        let until = d.ok(&["system", "info", "-f", "{{.SystemTime}}"]);
        let ev = d.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=network",
            "--filter",
            &format!("network={net}"),
            "--format",
            "{{.Action}}",
        ]);
        ev.contains("destroy").then_some(ev)
    });
    let actions: Vec<&str> = ev.lines().collect();
    assert_eq!(
        actions,
        vec!["create", "connect", "disconnect", "destroy"],
        "{ev}"
    );
    for pre in ["bridge", "host", "none"] {
        let out = d.fail(&["network", "rm", pre]);
        assert!(out.stderr.contains("pre-defined network"), "{}", out.stderr);
    }
    let ls = d.ok(&[
        "network",
        "ls",
        "--filter",
        "type=builtin",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(
        ls.lines().collect::<Vec<_>>(),
        vec!["bridge", "host", "none"]
    );
    let out = d.fail(&[
        "network",
        "create",
        &d.ok(&["network", "inspect", "-f", "{{.Name}}", "bridge"]),
    ]);
    assert!(
        out.stderr
            .contains("operation is not permitted on predefined bridge network"),
        "{}",
        out.stderr
    );
}
