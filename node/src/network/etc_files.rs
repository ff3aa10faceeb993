//! The container's `/etc/hosts` and `/etc/resolv.conf`, written as dockerd
//! writes them (pure text generation; the engine writes the files).

use std::net::IpAddr;

/// What `/etc/hosts` is made of.
#[derive(Debug, Clone, Default)]
pub struct HostsInput {
    /// The container's hostname (and domain name, if any).
    pub hostname: String,
    /// The container's own address on its first network, if it has one.
    pub own_ip: Option<IpAddr>,
    /// Its IPv6 address there (dual-stack networks).
    pub own_ip6: Option<IpAddr>,
    /// `--add-host name:ip` after `host-gateway` is resolved, in order.
    pub extra: Vec<(String, String)>,
    /// Legacy links: address, alias, container name, short ID.
    pub links: Vec<(IpAddr, Vec<String>)>,
}

/// `/etc/hosts` as dockerd writes it for a container with its own
/// namespace: the loopback and IPv6 entries, `--add-host` lines, links, then
/// the container's address with its hostname.
pub fn hosts(input: &HostsInput) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in &input.extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for (ip, names) in &input.links {
        s.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    match input.own_ip {
        Some(ip) => s.push_str(&format!("{ip}\t{}\n", input.hostname)),
        // A container without an address (none, or not yet started) maps its
        // name to loopback so that `hostname -i` still answers.
        None => s.push_str(&format!("127.0.0.1\t{}\n", input.hostname)),
    }
    // dockerd adds the hostname for each address of the interface, IPv6 after IPv4.
    if let Some(ip6) = input.own_ip6 {
        s.push_str(&format!("{ip6}\t{}\n", input.hostname));
    }
    s
}

/// The parts of a resolv.conf Shoal cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolv {
    /// `nameserver` lines.
    pub nameservers: Vec<String>,
    /// `search` domains.
    pub search: Vec<String>,
    /// `options`.
    pub options: Vec<String>,
}

/// Parses a resolv.conf (comments and unknown lines are dropped).
pub fn parse_resolv(text: &str) -> Resolv {
    let mut r = Resolv::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("").trim();
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => r.nameservers.extend(f.next().map(str::to_string)),
            Some("search") | Some("domain") => r.search = f.map(str::to_string).collect(),
            Some("options") => r.options.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    r
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The user's `--dns`, `--dns-search`, `--dns-option`.
#[derive(Debug, Clone, Default)]
pub struct DnsOverrides {
    /// `--dns`.
    pub servers: Vec<String>,
    /// `--dns-search`.
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

fn render(r: &Resolv) -> String {
    let mut s = String::new();
    for ns in &r.nameservers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !r.search.is_empty() {
        s.push_str(&format!("search {}\n", r.search.join(" ")));
    }
    if !r.options.is_empty() {
        s.push_str(&format!("options {}\n", r.options.join(" ")));
    }
    s
}

fn merge_options(base: &[String], extra: &[String]) -> Vec<String> {
    let key = |o: &str| o.split(':').next().unwrap_or("").to_string();
    let mut out: Vec<String> = base
        .iter()
        .filter(|o| !extra.iter().any(|e| key(e) == key(o)))
        .cloned()
        .collect();
    out.extend(extra.iter().cloned());
    out
}

/// resolv.conf for a container on the default bridge: the host's (or the
/// user's) servers with loopback ones dropped, since they cannot be reached
/// from the container's namespace; Google's public servers when nothing is
/// left, as dockerd does.
pub fn resolv_bridge(host: &Resolv, o: &DnsOverrides) -> String {
    let mut r = host.clone();
    if !o.servers.is_empty() {
        r.nameservers = o.servers.clone();
    }
    r.nameservers.retain(|ns| !is_loopback(ns));
    if r.nameservers.is_empty() {
        r.nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    if !o.search.is_empty() {
        r.search = o.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    r.options = merge_options(&r.options, &o.options);
    render(&r)
}

/// resolv.conf for a container on a user-defined network: the embedded
/// server at 127.0.0.11 (which forwards to the host's or `--dns` servers),
/// `ndots:0` as dockerd sets it, and the user's search and options.
pub fn resolv_embedded(host: &Resolv, o: &DnsOverrides) -> String {
    let mut r = Resolv {
        nameservers: vec![super::dns::EMBEDDED_ADDR.to_string()],
        search: host.search.clone(),
        options: merge_options(&host.options, &["ndots:0".to_string()]),
    };
    if !o.search.is_empty() {
        r.search = o.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    r.options = merge_options(&r.options, &o.options);
    render(&r)
}

/// The resolvers the embedded server forwards to: `--dns` if given, else
/// the host's (loopback ones included: the forwarder runs in the host's
/// namespace, as dockerd's does).
pub fn upstreams(host: &Resolv, o: &DnsOverrides) -> Vec<String> {
    if o.servers.is_empty() {
        host.nameservers.clone()
    } else {
        o.servers.clone()
    }
}

/// The host's resolv.conf: systemd-resolved's upstream file when the main
/// one only points at its loopback stub, as dockerd does.
pub fn host_resolv() -> Resolv {
    let main = parse_resolv(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    if !main.nameservers.is_empty()
        && main.nameservers.iter().all(|n| is_loopback(n))
        && let Ok(t) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
    {
        let up = parse_resolv(&t);
        if !up.nameservers.is_empty() {
            return up;
        }
    }
    main
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_has_extra_links_and_self() {
        let h = hosts(&HostsInput {
            hostname: "abc".into(),
            own_ip: Some("172.17.0.3".parse().unwrap()),
            own_ip6: None,
            extra: vec![("db".into(), "10.0.0.5".into())],
            links: vec![(
                "172.17.0.2".parse().unwrap(),
                vec!["web".into(), "0123456789ab".into(), "webc".into()],
            )],
        });
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.contains("10.0.0.5\tdb\n"));
        assert!(h.contains("172.17.0.2\tweb 0123456789ab webc\n"));
        assert!(h.ends_with("172.17.0.3\tabc\n"));
        let dual = hosts(&HostsInput {
            hostname: "abc".into(),
            own_ip: Some("172.17.0.3".parse().unwrap()),
            own_ip6: Some("fd00:1::3".parse().unwrap()),
            ..Default::default()
        });
        assert!(
            dual.ends_with("172.17.0.3\tabc\nfd00:1::3\tabc\n"),
            "{dual}"
        );
    }

    #[test]
    fn bridge_resolv_drops_loopback() {
        let host = parse_resolv(
            "# c\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch a.example b\noptions edns0\n",
        );
        assert_eq!(host.nameservers, vec!["127.0.0.53", "10.1.1.1"]);
        let r = resolv_bridge(&host, &DnsOverrides::default());
        assert_eq!(
            r,
            "nameserver 10.1.1.1\nsearch a.example b\noptions edns0\n"
        );
        let only_lo = parse_resolv("nameserver 127.0.0.1\n");
        assert!(
            resolv_bridge(&only_lo, &DnsOverrides::default())
                .starts_with("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
        );
        let o = DnsOverrides {
            servers: vec!["9.9.9.9".into()],
            search: vec!["corp".into()],
            options: vec!["ndots:3".into(), "edns0".into()],
        };
        assert_eq!(
            resolv_bridge(&host, &o),
            "nameserver 9.9.9.9\nsearch corp\noptions ndots:3 edns0\n"
        );
    }

    #[test]
    fn embedded_resolv_points_at_127_0_0_11() {
        let host = parse_resolv("nameserver 127.0.0.53\nsearch x\n");
        assert_eq!(
            resolv_embedded(&host, &DnsOverrides::default()),
            "nameserver 127.0.0.11\nsearch x\noptions ndots:0\n"
        );
        let o = DnsOverrides {
            servers: vec!["9.9.9.9".into()],
            search: vec![],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_embedded(&host, &o),
            "nameserver 127.0.0.11\nsearch x\noptions ndots:2\n"
        );
        assert_eq!(upstreams(&host, &o), vec!["9.9.9.9"]);
        assert_eq!(
            upstreams(&host, &DnsOverrides::default()),
            vec!["127.0.0.53"]
        );
    }
}
