//! Published ports: `-p` fixed, random and ranges, `-P`, `docker port`, Ports in ps/inspect,
//! reachable from the host's loopback, from another namespace and from another network.

use shoal_tests::{shared, unique};

use crate::util::{OtherHost, curl_until, host_port, http_fails, httpd};

#[test]
fn random_port_answers_from_loopback_and_another_host() {
    let d = shared();
    let name = httpd(&d, &["-p", "80"], "hello-pub");
    let port = host_port(&d, &name, "80/tcp");
    assert!(port >= 1024, "{port}");
    curl_until(&format!("http://127.0.0.1:{port}/"), None, "hello-pub");
    // Another network namespace acting as a second host reaches it through the link address.
    let other = OtherHost::new(&d, 7);
    curl_until(
        &format!("http://{}:{port}/", other.host_ip),
        Some(&other.ns),
        "hello-pub",
    );
    // ps and inspect show the mapping.
    let ps = d.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Ports}}",
    ]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    let hp = d.cli().fmt(
        &name,
        "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
    );
    assert_eq!(hp, port.to_string());
    d.ok(&["rm", "-f", &name]);
    // Removed container: nothing answers any more.
    assert!(http_fails(&format!("http://127.0.0.1:{port}/")));
}

#[test]
fn publish_all_picks_free_ports_and_docker_port_reports_them() {
    let d = shared();
    let name = httpd(
        &d,
        &["--expose", "80", "--expose", "81/udp", "-P"],
        "hello-all",
    );
    let out = d.ok(&["port", &name]);
    assert!(out.contains("80/tcp -> 0.0.0.0:"), "{out}");
    assert!(out.contains("81/udp -> 0.0.0.0:"), "{out}");
    let port = host_port(&d, &name, "80/tcp");
    curl_until(&format!("http://127.0.0.1:{port}/"), None, "hello-all");
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn fixed_port_in_use_is_refused_and_range_picks_next() {
    let d = shared();
    // Find a port free right now, publish it, then ask for it again.
    let probe = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let a = httpd(&d, &["-p", &format!("{port}:80")], "first");
    curl_until(&format!("http://127.0.0.1:{port}/"), None, "first");
    let b = unique("dup");
    let out = d.fail(&[
        "run",
        "-d",
        "--name",
        &b,
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sleep",
        "30",
    ]);
    assert!(
        out.stderr.contains("port is already allocated"),
        "{}",
        out.stderr
    );
    let _ = d.docker(&["rm", "-f", &b]);
    // A range starting at the taken port moves on to the next free one.
    let c = httpd(&d, &["-p", &format!("{port}-{}:80", port + 20)], "second");
    let got = host_port(&d, &c, "80/tcp");
    assert!(got > port && got <= port + 20, "{got}");
    curl_until(&format!("http://127.0.0.1:{got}/"), None, "second");
    // Bound to loopback only.
    let e = httpd(&d, &["-p", "127.0.0.1::80"], "lo-only");
    let out = d.ok(&["port", &e, "80"]);
    assert!(out.starts_with("127.0.0.1:"), "{out}");
    let lp: u16 = out.rsplit(':').next().unwrap().parse().unwrap();
    curl_until(&format!("http://127.0.0.1:{lp}/"), None, "lo-only");
    d.ok(&["rm", "-f", &a, &c, &e]);
}

#[test]
fn published_port_reachable_from_a_container_on_another_network() {
    let d = shared();
    let name = httpd(&d, &["-p", "80"], "hairpin");
    let port = host_port(&d, &name, "80/tcp");
    let net = unique("hp");
    d.ok(&["network", "create", &net]);
    let gw = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        &net,
    ]);
    let out = d.ok(&[
        "run", "--rm", "--network", &net, "busybox", "sh", "-c",
        &format!("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O - http://{gw}:{port}/ && exit 0; sleep 1; done; exit 1"),
    ]);
    assert_eq!(out, "hairpin");
    d.ok(&["rm", "-f", &name]);
    d.ok(&["network", "rm", &net]);
}

#[test]
fn bad_port_specs_are_400() {
    let d = shared();
    let out = d.fail(&["run", "--rm", "-p", "80:80/bogus", "busybox", "true"]);
    assert!(!out.stderr.is_empty());
    if d.engine().is_shoal() {
        // dockerd 20.10 silently drops -p with --network none; Shoal refuses it (no option is
        // silently ignored).
        let out = d.fail(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            "80:80",
            "busybox",
            "true",
        ]);
        assert!(out.stderr.contains("conflicting options"), "{}", out.stderr);
    }
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80:80",
        "busybox",
        "true",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Published ports are discarded when using host network mode"),
        "{}",
        out.stderr
    );
}
