//! Name lookups on a container's networks (pure).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One container's endpoint on one network, as DNS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEntry {
    /// Network ID.
    pub network: String,
    /// Network name (reverse lookups answer `<container>.<network>`).
    pub network_name: String,
    /// Container name, aliases and short ID (lower case).
    pub names: Vec<String>,
    /// Address on that network.
    pub ip: Ipv4Addr,
    /// IPv6 address there (dual-stack networks).
    pub ip6: Option<Ipv6Addr>,
}

/// Normalises a query name: lower case, no trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The addresses (both families) `qname` has on any of `networks`, in
/// table order, without duplicates. Only networks the asking container is
/// on are searched, so names never leak between networks.
pub fn lookup(entries: &[DnsEntry], networks: &[String], qname: &str) -> Vec<IpAddr> {
    let q = normalize(qname);
    let mut out = Vec::new();
    for e in entries {
        if networks.contains(&e.network) && e.names.contains(&q) {
            for ip in std::iter::once(IpAddr::V4(e.ip)).chain(e.ip6.map(IpAddr::V6)) {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// The address a reverse-lookup name stands for: `4.3.2.1.in-addr.arpa`
/// is 1.2.3.4, `b.a.9.8...ip6.arpa` (32 nibbles) an IPv6 address.
pub fn ptr_address(qname: &str) -> Option<IpAddr> {
    let q = normalize(qname);
    if let Some(rest) = q.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse::<u8>().ok())
            .collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(
            octets[0], octets[1], octets[2], octets[3],
        )));
    }
    let rest = q.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| match p.len() {
            1 => u8::from_str_radix(p, 16).ok(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // Reversed order: within each pair the first nibble is the low one.
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// The name dockerd answers a reverse lookup of `ip` with,
/// `<container>.<network>`, when a container on one of `networks` has it.
pub fn reverse(entries: &[DnsEntry], networks: &[String], ip: IpAddr) -> Option<String> {
    entries
        .iter()
        .filter(|e| networks.contains(&e.network))
        .find(|e| IpAddr::V4(e.ip) == ip || e.ip6.map(IpAddr::V6) == Some(ip))
        .and_then(|e| {
            let name = e.names.first()?;
            Some(format!("{name}.{}", e.network_name))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(net: &str, names: &[&str], ip: [u8; 4]) -> DnsEntry {
        DnsEntry {
            network: net.into(),
            network_name: format!("{net}-name"),
            names: names.iter().map(|s| s.to_string()).collect(),
            ip: ip.into(),
            ip6: None,
        }
    }

    #[test]
    fn finds_names_aliases_short_ids_on_shared_networks_only() {
        let t = vec![
            e("n1", &["web", "www", "0123456789ab"], [10, 0, 0, 2]),
            e("n2", &["web"], [10, 1, 0, 2]),
            e("n2", &["db"], [10, 1, 0, 3]),
        ];
        let n1 = vec!["n1".to_string()];
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(lookup(&t, &n1, "web"), vec![a]);
        assert_eq!(lookup(&t, &n1, "WWW."), vec![a]);
        assert_eq!(lookup(&t, &n1, "0123456789ab"), vec![a]);
        assert!(lookup(&t, &n1, "db").is_empty());
        let both = vec!["n1".to_string(), "n2".to_string()];
        assert_eq!(lookup(&t, &both, "web").len(), 2);
        // A dual-stack endpoint answers with both of its addresses.
        let mut d = e("n3", &["v6"], [10, 3, 0, 2]);
        d.ip6 = Some("fd00:3::2".parse().unwrap());
        let n3 = vec!["n3".to_string()];
        assert_eq!(
            lookup(&[d], &n3, "v6"),
            vec![
                IpAddr::V4(Ipv4Addr::new(10, 3, 0, 2)),
                "fd00:3::2".parse::<IpAddr>().unwrap()
            ]
        );
    }

    #[test]
    fn reverse_lookups_name_the_container_and_network() {
        assert_eq!(
            ptr_address("2.0.1.10.in-addr.arpa."),
            Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 2)))
        );
        let v6: Ipv6Addr = "fd00:3::2".parse().unwrap();
        let arpa: String = v6
            .octets()
            .iter()
            .rev()
            .flat_map(|b| [b & 0xf, b >> 4])
            .map(|n| format!("{n:x}."))
            .collect();
        assert_eq!(
            ptr_address(&format!("{arpa}ip6.arpa")),
            Some(IpAddr::V6(v6))
        );
        assert_eq!(ptr_address("1.2.3.in-addr.arpa"), None);
        assert_eq!(ptr_address("web"), None);
        assert_eq!(ptr_address("x.2.0.1.10.in-addr.arpa"), None);
        let t = vec![
            e("n1", &["web", "0123456789ab"], [10, 0, 0, 2]),
            e("n2", &["db"], [10, 1, 0, 3]),
        ];
        let n1 = vec!["n1".to_string()];
        assert_eq!(
            reverse(&t, &n1, "10.0.0.2".parse().unwrap()).as_deref(),
            Some("web.n1-name")
        );
        // Not on a network the asker shares: not answered (forwarded).
        assert_eq!(reverse(&t, &n1, "10.1.0.3".parse().unwrap()), None);
    }
}
