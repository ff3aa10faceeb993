//! After every container and network of a daemon is removed, nothing of Shoal's is left on the
//! host but the default bridge: no veth on it, no user bridge, no published-port rule (IPv4 or
//! IPv6).

use shoal_tests::{Daemon, Options, unique, wait};

use crate::util::httpd;

fn bridge_ports(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn nothing_left_after_containers_and_networks_are_removed() {
    let d = Daemon::start(Options {
        networking: true,
        ..Default::default()
    });
    let slot = d.net().expect("slot");
    let before_rules = slot.rules();
    let before_rules6 = slot.rules6();
    let net = unique("lo");
    d.ok(&["network", "create", &net]);
    // A dual-stack network with IPv6 published ports (ip6tables rules, the [::1] proxy).
    let net6 = unique("lo6");
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &slot.subnet(5),
        "--subnet",
        &slot.subnet6(6),
        &net6,
    ]);
    let a = httpd(&d, &["-p", "80"], "a");
    let b = httpd(&d, &["--network", &net, "-p", "80"], "b");
    let c = httpd(
        &d,
        &["--network", &net6, "-p", "80", "-p", "[::1]::81"],
        "c",
    );
    d.ok(&["network", "connect", &net, &a]);
    assert!(slot.links().len() >= 2, "{:?}", slot.links());
    if d.engine().is_shoal() {
        // dockerd's rules live in its global DOCKER chains, not in the slot's.
        assert!(
            slot.rules().iter().any(|r| r.contains("--to-destination")),
            "{:?}",
            slot.rules()
        );
        assert!(
            slot.rules6()
                .iter()
                .any(|r| r.contains("--to-destination [")),
            "{:?}",
            slot.rules6()
        );
    }
    d.ok(&["rm", "-f", &a, &b, &c]);
    d.ok(&["network", "rm", &net, &net6]);
    let links = wait::until(shoal_tests::secs(20), "user bridges to go", || {
        let l = slot.links();
        (l.len() <= 1).then_some(l)
    });
    assert!(links.iter().all(|l| *l == slot.bridge()), "{links:?}");
    assert!(
        bridge_ports(&slot.bridge()).is_empty(),
        "{:?}",
        bridge_ports(&slot.bridge())
    );
    if d.engine().is_shoal() {
        // Exactly the rules of an idle daemon: no published port, no user network.
        assert_eq!(slot.rules(), before_rules);
        assert!(
            !slot.rules().iter().any(|r| r.contains("--to-destination")),
            "{:?}",
            slot.rules()
        );
        // Nor any IPv6 rule but the idle daemon's.
        assert_eq!(slot.rules6(), before_rules6);
        assert!(
            !slot.rules6().iter().any(|r| r.contains("-s fd5e:")),
            "{:?}",
            slot.rules6()
        );
    }
}
