//! Packet filtering and NAT in Shoal's own iptables chains.
//!
//! Every daemon owns four chains named after its `--iptables-chain-prefix`
//! (`SHOAL` by default): `<P>-DNAT` and `<P>-POST` in `nat`, `<P>-FWD` in
//! `filter`, each reached by one jump rule from the built-in chain. The
//! whole content of those chains is rendered from the daemon's state (pure,
//! [`render`]) and replaced in one `iptables-restore --noflush` transaction,
//! so a change, a restart or a crash never leaves a stale or duplicated rule,
//! and rules Shoal did not create are never touched.
//!
//! Why iptables chains rather than an nftables table: with both in use, an
//! `accept` in one nftables base chain does not stop another base chain (such
//! as the `FORWARD` chain dockerd sets to DROP) from dropping the packet, so
//! Shoal's accepts have to live in the same `FORWARD` chain the host's policy
//! applies to. `iptables` here is the nf_tables backend, so it is one rule
//! set either way.

use std::net::IpAddr;
use std::process::Stdio;

use ipnet::{Ipv4Net, Ipv6Net};
use tokio::io::AsyncWriteExt;

use super::model::Proto;

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwNet {
    /// Bridge device.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its IPv6 subnet (dual stack).
    pub subnet6: Option<Ipv6Net>,
    /// `--internal`.
    pub internal: bool,
    /// Inter-container traffic allowed.
    pub icc: bool,
    /// Outbound masquerade.
    pub masquerade: bool,
}

/// A published port as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FwPort {
    /// Transport.
    pub proto: Proto,
    /// Host address (`0.0.0.0` / `::`: any local address of that family).
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
    /// Container address (of the host address's family).
    pub container_ip: IpAddr,
    /// Container port.
    pub container_port: u16,
}

/// The chain names of one daemon.
#[derive(Debug, Clone)]
pub struct Chains {
    /// nat: published ports.
    pub dnat: String,
    /// nat: masquerade.
    pub post: String,
    /// filter: forwarding accepts and isolation.
    pub fwd: String,
}

impl Chains {
    /// The chains for `prefix`.
    pub fn new(prefix: &str) -> Chains {
        Chains {
            dnat: format!("{prefix}-DNAT"),
            post: format!("{prefix}-POST"),
            fwd: format!("{prefix}-FWD"),
        }
    }

    /// The jump rules from built-in chains: (table, chain, rule args).
    pub fn jumps(&self) -> Vec<(&'static str, &'static str, Vec<String>)> {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        vec![
            (
                "nat",
                "PREROUTING",
                v(&["-m", "addrtype", "--dst-type", "LOCAL", "-j", &self.dnat]),
            ),
            (
                "nat",
                "OUTPUT",
                v(&["-m", "addrtype", "--dst-type", "LOCAL", "-j", &self.dnat]),
            ),
            ("nat", "POSTROUTING", v(&["-j", &self.post])),
            ("filter", "FORWARD", v(&["-j", &self.fwd])),
        ]
    }
}

/// The complete `iptables-restore` input for this daemon's IPv4 chains.
pub fn render(chains: &Chains, nets: &[FwNet], ports: &[FwPort]) -> String {
    let nets: Vec<(&FwNet, String)> = nets.iter().map(|n| (n, n.subnet.to_string())).collect();
    render_family(chains, false, &nets, ports)
}

/// The complete `ip6tables-restore` input: the same chains for the IPv6
/// subnets of dual-stack networks and the IPv6 published ports. Traffic
/// to `::1` is not DNATed (the kernel would drop it on the bridge): the
/// daemon's proxy (`proxy.rs`) serves it.
pub fn render6(chains: &Chains, nets: &[FwNet], ports: &[FwPort]) -> String {
    let nets: Vec<(&FwNet, String)> = nets
        .iter()
        .filter_map(|n| n.subnet6.map(|s| (n, s.to_string())))
        .collect();
    render_family(chains, true, &nets, ports)
}

fn render_family(chains: &Chains, v6: bool, nets: &[(&FwNet, String)], ports: &[FwPort]) -> String {
    let mut nat = vec![
        format!(":{} - [0:0]", chains.dnat),
        format!(":{} - [0:0]", chains.post),
    ];
    let mut sorted: Vec<FwPort> = ports
        .iter()
        .filter(|p| p.host_ip.is_ipv6() == v6 && p.container_ip.is_ipv6() == v6)
        .cloned()
        .collect();
    sorted.sort();
    for p in &sorted {
        let dst = match p.host_ip {
            IpAddr::V6(ip) if ip.is_loopback() => continue,
            IpAddr::V6(ip) if ip.is_unspecified() => " ! -d ::1/128".to_string(),
            IpAddr::V6(ip) => format!(" -d {ip}/128"),
            IpAddr::V4(ip) if ip.is_unspecified() => String::new(),
            IpAddr::V4(ip) => format!(" -d {ip}/32"),
        };
        let to = match p.container_ip {
            IpAddr::V4(ip) => format!("{ip}:{}", p.container_port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", p.container_port),
        };
        nat.push(format!(
            "-A {} -p {proto}{dst} -m {proto} --dport {} -j DNAT --to-destination {to}",
            chains.dnat,
            p.host_port,
            proto = p.proto.as_str()
        ));
    }
    for (n, subnet) in nets {
        if n.masquerade && !n.internal {
            nat.push(format!(
                "-A {} -s {subnet} ! -o {} -j MASQUERADE",
                chains.post, n.bridge
            ));
        }
        if !v6 {
            // Published ports reached from the host's loopback (route_localnet
            // on the bridge lets them leave lo).
            nat.push(format!(
                "-A {} -s 127.0.0.0/8 -o {} -j MASQUERADE",
                chains.post, n.bridge
            ));
        }
        // Hairpin from the same bridge.
        nat.push(format!(
            "-A {} -s {subnet} -o {} -m conntrack --ctstate DNAT -j MASQUERADE",
            chains.post, n.bridge
        ));
    }
    let mut filter = vec![format!(":{} - [0:0]", chains.fwd)];
    for (n, _) in nets {
        filter.push(format!(
            "-A {} -o {} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            chains.fwd, n.bridge
        ));
        if !n.internal {
            filter.push(format!(
                "-A {} -o {} -m conntrack --ctstate DNAT -j ACCEPT",
                chains.fwd, n.bridge
            ));
        }
    }
    for (n, _) in nets {
        let verdict = if n.icc { "ACCEPT" } else { "DROP" };
        filter.push(format!(
            "-A {} -i {b} -o {b} -j {verdict}",
            chains.fwd,
            b = n.bridge
        ));
        if n.internal {
            filter.push(format!(
                "-A {} -i {b} ! -o {b} -j DROP",
                chains.fwd,
                b = n.bridge
            ));
            filter.push(format!(
                "-A {} ! -i {b} -o {b} -j DROP",
                chains.fwd,
                b = n.bridge
            ));
            continue;
        }
        for (o, _) in nets.iter().filter(|(o, _)| o.bridge != n.bridge) {
            filter.push(format!(
                "-A {} -i {} -o {} -j DROP",
                chains.fwd, n.bridge, o.bridge
            ));
        }
        filter.push(format!(
            "-A {} -i {b} ! -o {b} -j ACCEPT",
            chains.fwd,
            b = n.bridge
        ));
        filter.push(format!(
            "-A {} ! -i {b} -o {b} -j DROP",
            chains.fwd,
            b = n.bridge
        ));
    }
    format!(
        "*nat\n{}\nCOMMIT\n*filter\n{}\nCOMMIT\n",
        nat.join("\n"),
        filter.join("\n")
    )
}

/// Why the firewall could not be programmed.
#[derive(Debug, thiserror::Error)]
#[error("iptables: {0}")]
pub struct FirewallError(pub String);

async fn run(args: &[String], stdin: Option<&str>) -> Result<bool, FirewallError> {
    let (bin, rest) = args
        .split_first()
        .ok_or_else(|| FirewallError("empty command".into()))?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(rest)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| FirewallError(format!("running {bin}: {e}")))?;
    if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(input.as_bytes())
            .await
            .map_err(|e| FirewallError(format!("writing to {bin}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| FirewallError(format!("waiting for {bin}: {e}")))?;
    if out.status.success() {
        return Ok(true);
    }
    if stdin.is_none() {
        return Ok(false);
    }
    Err(FirewallError(
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
}

/// This daemon's chains: one writer at a time, always the whole state.
#[derive(Debug)]
pub struct Firewall {
    chains: Chains,
    /// The texts last applied (IPv4, IPv6): an unchanged state costs no process.
    last: tokio::sync::Mutex<(Option<String>, Option<String>)>,
}

impl Firewall {
    /// The firewall for chain prefix `prefix`.
    pub fn new(prefix: &str) -> Firewall {
        Firewall {
            chains: Chains::new(prefix),
            last: tokio::sync::Mutex::new((None, None)),
        }
    }

    /// Replaces the content of this daemon's chains (`iptables` and
    /// `ip6tables`) with `nets` and `ports`, then makes sure each jump rule
    /// exists exactly once (checked on the first apply of this process, e.g.
    /// after a restart). The two families are independent transactions; a
    /// host without ip6tables only fails once a network has IPv6.
    pub async fn apply(&self, nets: &[FwNet], ports: &[FwPort]) -> Result<(), FirewallError> {
        let mut last = self.last.lock().await;
        let text = render(&self.chains, nets, ports);
        let text6 = render6(&self.chains, nets, ports);
        let (v4, v6) = (
            last.0.as_deref() != Some(text.as_str()),
            last.1.as_deref() != Some(text6.as_str()),
        );
        // Both at once: two processes in parallel rather than one after the other.
        let (r4, r6) = tokio::join!(
            async {
                if v4 {
                    self.apply_family("iptables", &text, last.0.is_none()).await
                } else {
                    Ok(())
                }
            },
            async {
                if v6 {
                    self.apply_family("ip6tables", &text6, last.1.is_none())
                        .await
                } else {
                    Ok(())
                }
            }
        );
        r4?;
        if v4 {
            last.0 = Some(text);
        }
        match r6 {
            Ok(()) => {
                if v6 {
                    last.1 = Some(text6);
                }
            }
            Err(e) if nets.iter().all(|n| n.subnet6.is_none()) => {
                // No IPv6 network: a host without ip6tables (or its nat table) is fine.
                tracing::warn!(error = %e, "ip6tables not usable; IPv6 networks will fail");
                last.1 = Some(text6);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    async fn apply_family(&self, bin: &str, text: &str, first: bool) -> Result<(), FirewallError> {
        run(
            &[format!("{bin}-restore"), "--noflush".into(), "-w".into()],
            Some(text),
        )
        .await?;
        if !first {
            return Ok(());
        }
        for (table, chain, rule) in self.chains.jumps() {
            let mut check: Vec<String> = vec![
                bin.into(),
                "-w".into(),
                "-t".into(),
                table.into(),
                "-C".into(),
                chain.into(),
            ];
            check.extend(rule.iter().cloned());
            if run(&check, None).await? {
                continue;
            }
            let mut add: Vec<String> = vec![
                bin.into(),
                "-w".into(),
                "-t".into(),
                table.into(),
                "-I".into(),
                chain.into(),
                "1".into(),
            ];
            add.extend(rule.iter().cloned());
            if !run(&add, None).await? {
                return Err(FirewallError(format!(
                    "{bin}: could not add the jump to {chain} in {table}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nat_and_isolation() {
        let c = Chains::new("SHOAL");
        let nets = vec![
            FwNet {
                bridge: "shoal0".into(),
                subnet: "172.17.0.0/16".parse().unwrap(),
                subnet6: Some("fd00:17::/64".parse().unwrap()),
                internal: false,
                icc: true,
                masquerade: true,
            },
            FwNet {
                bridge: "br-1".into(),
                subnet: "10.9.0.0/24".parse().unwrap(),
                subnet6: None,
                internal: true,
                icc: true,
                masquerade: true,
            },
        ];
        let ports = vec![
            FwPort {
                proto: Proto::Tcp,
                host_ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                host_port: 8080,
                container_ip: "172.17.0.2".parse().unwrap(),
                container_port: 80,
            },
            FwPort {
                proto: Proto::Tcp,
                host_ip: "::".parse().unwrap(),
                host_port: 8080,
                container_ip: "fd00:17::2".parse().unwrap(),
                container_port: 80,
            },
            FwPort {
                proto: Proto::Tcp,
                host_ip: "::1".parse().unwrap(),
                host_port: 8081,
                container_ip: "fd00:17::2".parse().unwrap(),
                container_port: 80,
            },
        ];
        let r = render(&c, &nets, &ports);
        assert!(r.starts_with("*nat\n:SHOAL-DNAT - [0:0]\n:SHOAL-POST - [0:0]\n"));
        assert!(r.contains(
            "-A SHOAL-DNAT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
        ));
        assert!(r.contains("-A SHOAL-POST -s 172.17.0.0/16 ! -o shoal0 -j MASQUERADE\n"));
        // An internal network is neither masqueraded nor routed.
        assert!(!r.contains("-s 10.9.0.0/24 ! -o br-1 -j MASQUERADE"));
        assert!(r.contains("-A SHOAL-FWD -i br-1 ! -o br-1 -j DROP\n"));
        assert!(r.contains("-A SHOAL-FWD -i shoal0 -o br-1 -j DROP\n"));
        assert!(r.contains("-A SHOAL-FWD -i shoal0 ! -o shoal0 -j ACCEPT\n"));
        assert!(r.ends_with("COMMIT\n"));
        // Deterministic: the same state renders the same text.
        assert_eq!(r, render(&c, &nets, &ports));
        assert!(!r.contains("fd00"), "no IPv6 in the IPv4 rules: {r}");

        let r6 = render6(&c, &nets, &ports);
        assert!(r6.contains(
            "-A SHOAL-DNAT -p tcp ! -d ::1/128 -m tcp --dport 8080 -j DNAT --to-destination [fd00:17::2]:80\n"
        ), "{r6}");
        // [::1] is the proxy's: no DNAT for it.
        assert!(!r6.contains("--dport 8081"), "{r6}");
        assert!(r6.contains("-A SHOAL-POST -s fd00:17::/64 ! -o shoal0 -j MASQUERADE\n"));
        assert!(!r6.contains("127.0.0.0/8"));
        assert!(
            !r6.contains("br-1"),
            "a v4-only network has no IPv6 rules: {r6}"
        );
        assert!(r6.contains("-A SHOAL-FWD -i shoal0 ! -o shoal0 -j ACCEPT\n"));
    }
}
