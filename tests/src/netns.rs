//! Network "hosts" on one machine: a Linux bridge in the root namespace and, per host, a network
//! namespace joined to it by a veth pair, with its own address on a private /24.
//!
//! ```text
//!  root netns: bridge s<K>-br 10.77.K.1/24 (iptables FORWARD accepts its traffic and refuses
//!  what it would forward elsewhere)
//!    ├─ veth s<K>-m1 ──► netns s<K>-m1: eth0 10.77.K.11/24, lo up
//!    ├─ veth s<K>-m2 ──► netns s<K>-m2: eth0 10.77.K.12/24, lo up
//!    └─ veth s<K>-w1 ──► netns s<K>-w1: eth0 10.77.K.21/24, lo up
//! ```
//!
//! `K` (1..=250) is claimed by creating the bridge: `ip link add` is atomic, so tests in parallel
//! (threads or whole test binaries) never share a subnet or a name. The script
//! `deploy/scripts/netns-cluster.sh` uses the same layout with `K = 0` by default, and its `down`
//! command is what tears a [`Network`] down (see [`Network::teardown_command`]).
//!
//! Cutting a host off is `ip link set <veth> down` on the root side: the host keeps its address
//! and processes but no frame crosses the bridge.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `ip`/`iptables`-style commands, panicking with their stderr on failure.
#[track_caller]
pub fn sh(prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// One private bridge and its subnet; hosts are added with [`Network::add_host`].
///
/// Dropping a `Network` does not remove anything: the owner (a [`crate::cluster::Cluster`])
/// tears everything down at once with [`Network::teardown_command`], which also runs if the test
/// process is killed.
#[derive(Debug)]
pub struct Network {
    k: u8,
}

/// One host: a network namespace with an address on the bridge.
#[derive(Debug, Clone)]
pub struct Host {
    /// Short name inside the cluster (`m1`, `w2`, `s1`); also the host's hostname.
    pub name: String,
    /// The namespace (`s<K>-m1`), under `/run/netns/`.
    pub netns: String,
    /// The root-side veth (same name as the namespace).
    pub veth: String,
    /// The host's IPv4 address.
    pub ip: String,
}

impl Host {
    /// `/run/netns/<netns>`, for `nsenter --net=`.
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }

    /// Cuts the host off the bridge (root-side veth down).
    pub fn cut(&self) {
        sh("ip", &["link", "set", &self.veth, "down"]);
    }

    /// Reconnects a host cut off with [`Host::cut`].
    pub fn heal(&self) {
        sh("ip", &["link", "set", &self.veth, "up"]);
    }
}

impl Network {
    /// Claims a free subnet and creates its bridge (with the iptables FORWARD accepts).
    pub fn create() -> Network {
        static N: AtomicU32 = AtomicU32::new(0);
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "swarm e2e tests need root (network namespaces, bridges)"
        );
        let seed = std::process::id().wrapping_mul(31) + N.fetch_add(1, Ordering::Relaxed) * 7;
        for i in 0..250u32 {
            let k = ((seed + i) % 250 + 1) as u8;
            let br = format!("s{k}-br");
            let ok = Command::new("ip")
                .args(["link", "add", &br, "type", "bridge"])
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                continue;
            }
            let net = Network { k };
            sh(
                "ip",
                &["addr", "add", &format!("{}/24", net.ip(1)), "dev", &br],
            );
            sh("ip", &["link", "set", &br, "up"]);
            // br_netfilter sends bridged frames through FORWARD, whose policy a dockerd on this
            // machine may have set to DROP.
            sh("iptables", &["-I", "FORWARD", "-i", &br, "-j", "ACCEPT"]);
            sh("iptables", &["-I", "FORWARD", "-o", &br, "-j", "ACCEPT"]);
            // Nothing from the test hosts leaves for another interface (a daemon resolving
            // a Docker Hub name would otherwise send DNS queries off the machine): refused at
            // once, above the accepts.
            sh(
                "iptables",
                &["-I", "FORWARD", "-i", &br, "!", "-o", &br, "-j", "REJECT"],
            );
            return net;
        }
        panic!("no free subnet 10.77.1-250.0/24 (stale s<K>-br bridges? see `ip link`)");
    }

    /// The name prefix of everything this network creates (`s<K>`).
    pub fn name(&self) -> String {
        format!("s{}", self.k)
    }

    /// The bridge's name.
    pub fn bridge(&self) -> String {
        format!("s{}-br", self.k)
    }

    /// `10.77.K.<last>`.
    pub fn ip(&self, last: u8) -> String {
        format!("10.77.{}.{last}", self.k)
    }

    /// Adds host `name` with address `10.77.K.<last>`: namespace, veth into the bridge, address,
    /// loopback up, default route via the bridge.
    pub fn add_host(&self, name: &str, last: u8) -> Host {
        let host = Host {
            name: name.to_string(),
            netns: format!("s{}-{name}", self.k),
            veth: format!("s{}-{name}", self.k),
            ip: self.ip(last),
        };
        assert!(
            host.veth.len() <= 15,
            "interface name {} too long",
            host.veth
        );
        sh("ip", &["netns", "add", &host.netns]);
        sh(
            "ip",
            &[
                "link",
                "add",
                &host.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &host.netns,
            ],
        );
        sh(
            "ip",
            &["link", "set", &host.veth, "master", &self.bridge(), "up"],
        );
        sh("ip", &["-n", &host.netns, "link", "set", "lo", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &host.netns,
                "addr",
                "add",
                &format!("{}/24", host.ip),
                "dev",
                "eth0",
            ],
        );
        sh("ip", &["-n", &host.netns, "link", "set", "eth0", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &host.netns,
                "route",
                "add",
                "default",
                "via",
                &self.ip(1),
            ],
        );
        host
    }

    /// A shell command line that removes every process whose command line mentions `dir/`, the
    /// namespaces, veths, bridge and iptables rules of this network, and `dir` itself: the
    /// `down` of `deploy/scripts/netns-cluster.sh`.
    pub fn teardown_command(&self, dir: &Path) -> Command {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/scripts/netns-cluster.sh");
        let mut c = Command::new("bash");
        c.arg(script)
            .arg("down")
            .env("NAME", self.name())
            .env("DIR", dir);
        c
    }
}
