//! Restarts: after kill -9 and after SIGTERM, running containers keep their addresses, DNS names
//! and published ports, and no address is handed out twice.

use shoal_tests::containerd::Containerd;
use shoal_tests::{Daemon, Engine, Options, unique};

use crate::util::{curl_until, host_port, httpd, sh_on};

#[test]
fn kill9_and_restart_keep_ports_addresses_and_dns() {
    // dockerd 20.10 cannot restart after kill -9 while its orphaned managed containerd still
    // runs, so the reference run gives it an external one (as the daemon tests do).
    let containerd = (!Engine::from_env().is_shoal()).then(Containerd::start);
    let d = Daemon::start(Options {
        networking: true,
        extra_args: containerd
            .iter()
            .flat_map(|c| ["--containerd".to_string(), c.sock().display().to_string()])
            .collect(),
        ..Default::default()
    });
    let net = unique("rs");
    d.ok(&["network", "create", &net]);
    let web = httpd(
        &d,
        &["-p", "80", "--network", &net, "--network-alias", "svc"],
        "survives",
    );
    let port = host_port(&d, &web, "80/tcp");
    let url = format!("http://127.0.0.1:{port}/");
    curl_until(&url, None, "survives");
    let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
    let ip = d.cli().fmt(&web, &f);

    d.kill9();
    if d.engine().is_shoal() {
        // The kernel keeps forwarding while the daemon is away (dockerd's loopback traffic goes
        // through docker-proxy processes, which do not outlive it).
        curl_until(&url, None, "survives");
    }
    d.restart();
    curl_until(&url, None, "survives");
    assert_eq!(host_port(&d, &web, "80/tcp"), port);
    assert_eq!(d.cli().fmt(&web, &f), ip);
    let out = sh_on(
        &d,
        &net,
        "ip -o -4 addr show eth0; timeout 5 wget -q -O - http://svc/",
    );
    assert!(out.contains("survives"), "{out}");
    assert!(
        !out.contains(&format!("inet {ip}/")),
        "address {ip} handed out twice: {out}"
    );

    assert_eq!(d.terminate(), 0);
    d.restart();
    curl_until(&url, None, "survives");
    assert_eq!(d.cli().fmt(&web, &f), ip);
    d.ok(&["rm", "-f", &web]);
    d.ok(&["network", "rm", &net]);
}
