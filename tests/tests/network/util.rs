//! Helpers shared by the network tests.

use std::process::Command;
use std::time::Duration;

use shoal_tests::{Daemon, unique, wait};

/// An HTTP server container (busybox httpd) serving `body` on port 80, started with `extra`
/// arguments before the image. Returns its name.
pub fn httpd(d: &Daemon, extra: &[&str], body: &str) -> String {
    let name = unique("web");
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", &name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    d.ok(&args);
    name
}

/// `curl` from the host (or from `netns` when given), retried until `want` answers or the
/// deadline passes; returns the last body.
pub fn curl_until(url: &str, netns: Option<&str>, want: &str) -> String {
    let mut last = String::new();
    let got = wait::try_until(Duration::from_secs(30), || {
        let mut c = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg("curl");
                c
            }
            None => Command::new("curl"),
        };
        let out = c.args(["-s", "-m", "3", url]).output().ok()?;
        last = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (last == want).then(|| last.clone())
    });
    got.unwrap_or_else(|| panic!("{url} (netns {netns:?}) never answered {want:?}; last {last:?}"))
}

/// Whether a TCP connection to `addr` is refused or times out (nothing answers).
pub fn http_fails(url: &str) -> bool {
    Command::new("curl")
        .args(["-s", "-m", "3", url])
        .output()
        .map(|o| !o.status.success() || o.stdout.is_empty())
        .unwrap_or(true)
}

/// The host port published for `port` of container `name` (`docker port`).
pub fn host_port(d: &Daemon, name: &str, port: &str) -> u16 {
    let out = d.ok(&["port", name, port]);
    let first = out
        .lines()
        .find(|l| l.starts_with("0.0.0.0:"))
        .unwrap_or_else(|| panic!("docker port: {out}"));
    first.rsplit(':').next().unwrap().parse().unwrap()
}

/// A network namespace acting as a second host, linked to the host by a veth pair with
/// addresses from the daemon's slot; removed on drop.
#[derive(Debug)]
pub struct OtherHost {
    /// Namespace name (under /run/netns).
    pub ns: String,
    host_if: String,
    /// The host's address on the link, as the other host sees it.
    pub host_ip: String,
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OtherHost {
    /// Creates it with the `i`-th explicit subnet of `d`'s slot.
    pub fn new(d: &Daemon, i: u8) -> OtherHost {
        let slot = d.net().expect("daemon has a network slot");
        let subnet = slot.subnet(i);
        let base = subnet.trim_end_matches(".0/24");
        let ns = format!("shtns{}x{i}", slot.n());
        let host_if = format!("shtv{}x{i}", slot.n());
        let peer = format!("shtp{}x{i}", slot.n());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        sh(&["ip", "netns", "add", &ns]);
        sh(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer,
        ]);
        sh(&["ip", "link", "set", &peer, "netns", &ns]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{base}.1/24"),
            "dev",
            &host_if,
        ]);
        sh(&["ip", "link", "set", &host_if, "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{base}.2/24"),
            "dev",
            &peer,
        ]);
        sh(&["ip", "-n", &ns, "link", "set", &peer, "up"]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        OtherHost {
            ns,
            host_if,
            host_ip: format!("{base}.1"),
        }
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// The output of `sh -c script` in a throw-away busybox container on network `net`.
#[track_caller]
pub fn sh_on(d: &Daemon, net: &str, script: &str) -> String {
    d.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        "busybox",
        "sh",
        "-c",
        script,
    ])
}
