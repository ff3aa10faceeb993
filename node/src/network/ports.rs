//! Published ports: from `HostConfig.PortBindings` / `PublishAllPorts` to
//! concrete mappings (pure parsing), and the host-port reservations that
//! keep a published port from being handed out twice.
//!
//! The kernel's DNAT carries the traffic (see `nat.rs`); the daemon holds a
//! bound socket on each published host port, as docker-proxy does, so that
//! another process (or another daemon) cannot take the port and `-p` of a
//! port in use fails as it does with dockerd.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;

use nix::sys::socket::{self as nsock, AddressFamily, SockFlag, SockType, SockaddrIn6, sockopt};
use tokio_util::sync::DropGuard;

use shoal_api::models::PortBinding;

use super::model::{PortMapping, Proto};

/// dockerd's ephemeral range for random host ports.
const RANDOM_RANGE: (u16, u16) = (32768, 60999);

/// A requested publication before a host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    /// Transport.
    pub proto: Proto,
    /// Port in the container.
    pub container_port: u16,
    /// Host address (`0.0.0.0` / `::` for all).
    pub host_ip: IpAddr,
    /// Host ports to choose from (inclusive); `None` for a random one.
    pub host_range: Option<(u16, u16)>,
}

/// Parses `80/tcp` (a key of ExposedPorts/PortBindings).
pub fn parse_port_key(key: &str) -> Result<(u16, Proto), String> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = Proto::parse(proto).ok_or_else(|| format!("invalid proto: {proto}"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid containerPort: {port}"))?;
    Ok((port, proto))
}

fn parse_host_port(s: &str) -> Result<Option<(u16, u16)>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || format!("invalid hostPort: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    if a == 0 {
        return Ok(None);
    }
    Ok(Some((a, b)))
}

/// The publications a container asks for: its `PortBindings`, plus every
/// exposed port without a binding when `publish_all` (`-P`). Errors are
/// dockerd's 400 texts.
pub fn requests(
    bindings: Option<&HashMap<String, Option<Vec<PortBinding>>>>,
    exposed: Option<&HashMap<String, HashMap<(), ()>>>,
    publish_all: bool,
) -> Result<Vec<PortRequest>, String> {
    let mut out = Vec::new();
    let mut keys: BTreeMap<(u16, Proto), ()> = BTreeMap::new();
    for (key, list) in bindings.into_iter().flatten() {
        let (container_port, proto) = parse_port_key(key)?;
        keys.insert((container_port, proto), ());
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() {
            vec![PortBinding::default()]
        } else {
            list
        };
        for b in list {
            let ip = b.host_ip.clone().unwrap_or_default();
            let bare = ip.trim_start_matches('[').trim_end_matches(']');
            let host_ip = match bare {
                "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                other => other
                    .parse::<IpAddr>()
                    .map_err(|_| format!("invalid IP address: {other}"))?,
            };
            if host_ip.is_ipv6() && host_ip.is_loopback() && proto == Proto::Sctp {
                // [::1] is served by the daemon's TCP and UDP proxy (the kernel
                // cannot route a loopback source to a bridge); there is no SCTP one.
                return Err(format!(
                    "publishing {proto} on the IPv6 loopback address {host_ip} is not supported by this engine yet",
                    proto = proto.as_str()
                ));
            }
            out.push(PortRequest {
                proto,
                container_port,
                host_ip,
                host_range: parse_host_port(b.host_port.as_deref().unwrap_or(""))?,
            });
        }
    }
    if publish_all {
        let mut exp: Vec<(u16, Proto)> = Vec::new();
        for key in exposed.into_iter().flat_map(|e| e.keys()) {
            exp.push(parse_port_key(key)?);
        }
        exp.sort();
        for (container_port, proto) in exp {
            if keys.contains_key(&(container_port, proto)) {
                continue;
            }
            out.push(PortRequest {
                proto,
                container_port,
                host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                host_range: None,
            });
        }
    }
    out.sort_by_key(|r| (r.container_port, r.proto, r.host_ip));
    Ok(out)
}

/// An address as it stands before `:port` (`[::1]` for IPv6).
pub fn fmt_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// A socket held on a published host port.
#[derive(Debug)]
#[allow(dead_code)] // held only to keep the port bound
enum Held {
    Tcp(TcpListener),
    Udp(UdpSocket),
    /// An IPv6 TCP or UDP port served by the daemon's proxy; dropping it
    /// stops the proxy and closes its socket.
    Proxy(DropGuard),
}

/// The host ports this daemon has published, each held by a bound socket.
#[derive(Debug, Default)]
pub struct PortTable {
    held: HashMap<(Proto, IpAddr, u16), Held>,
    /// The host has IPv6 (a `[::]` socket can be bound), so TCP and UDP
    /// ports of IPv4-only containers are published on `[::]` as well.
    ipv6_host: bool,
}

/// Whether this host (network namespace) can bind IPv6 sockets.
pub fn host_has_ipv6() -> bool {
    bind6(SockType::Stream, Ipv6Addr::LOCALHOST, 0).is_ok()
}

/// An IPv6 socket bound with `IPV6_V6ONLY`, so that `[::]:P` and
/// `0.0.0.0:P` are two ports, as with docker-proxy.
fn bind6(ty: SockType, ip: Ipv6Addr, port: u16) -> std::io::Result<OwnedFd> {
    let fd = nsock::socket(AddressFamily::Inet6, ty, SockFlag::SOCK_CLOEXEC, None)?;
    nsock::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    nsock::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    let sa = SockaddrIn6::from(std::net::SocketAddrV6::new(ip, port, 0, 0));
    nsock::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &sa)?;
    if ty == SockType::Stream {
        nsock::listen(
            &fd,
            nsock::Backlog::new(128).unwrap_or(nsock::Backlog::MAXCONN),
        )?;
    }
    Ok(fd)
}

fn bind(proto: Proto, ip: IpAddr, port: u16) -> std::io::Result<Option<Held>> {
    let addr = SocketAddr::new(ip, port);
    Ok(match (proto, ip) {
        (Proto::Tcp, IpAddr::V6(ip6)) => Some(Held::Tcp(TcpListener::from(bind6(
            SockType::Stream,
            ip6,
            port,
        )?))),
        (Proto::Udp, IpAddr::V6(ip6)) => Some(Held::Udp(UdpSocket::from(bind6(
            SockType::Datagram,
            ip6,
            port,
        )?))),
        (Proto::Tcp, _) => Some(Held::Tcp(TcpListener::bind(addr)?)),
        (Proto::Udp, _) => Some(Held::Udp(UdpSocket::bind(addr)?)),
        // No SCTP sockets in std: the port is still tracked in the table.
        (Proto::Sctp, _) => None,
    })
}

impl PortTable {
    /// An empty table; `ipv6_host` as [`host_has_ipv6`] tells.
    pub fn with_host_ipv6(ipv6_host: bool) -> Self {
        PortTable {
            held: HashMap::new(),
            ipv6_host,
        }
    }

    fn taken(&self, proto: Proto, ip: IpAddr, port: u16) -> bool {
        self.held.keys().any(|(p, i, h)| {
            *p == proto
                && *h == port
                && i.is_ipv4() == ip.is_ipv4()
                && (*i == ip || i.is_unspecified() || ip.is_unspecified())
        })
    }

    /// Hands the held IPv6 TCP and UDP sockets of `maps` to the daemon's
    /// proxy, which forwards what reaches them to `target`'s container port:
    /// the `[::1]` traffic the kernel cannot DNAT when `target` is the
    /// container's IPv6 address, all of it when the container has IPv4
    /// only. Must run on the runtime.
    pub fn start_proxies(
        &mut self,
        maps: &[PortMapping],
        target: IpAddr,
        tracker: &tokio_util::task::TaskTracker,
        stop: &tokio_util::sync::CancellationToken,
    ) {
        for m in maps {
            if !m.host_ip.is_ipv6() {
                continue;
            }
            let key = (m.proto, m.host_ip, m.host_port);
            let to = SocketAddr::new(target, m.container_port);
            let started = match self.held.remove(&key) {
                Some(Held::Tcp(l)) => super::proxy::spawn(l, to, tracker, stop),
                Some(Held::Udp(u)) if m.proto == Proto::Udp => {
                    super::proxy::spawn_udp(u, to, tracker, stop)
                }
                Some(other) => {
                    self.held.insert(key, other);
                    continue;
                }
                None => continue,
            };
            match started {
                Ok(guard) => {
                    self.held.insert(key, Held::Proxy(guard));
                }
                Err(e) => {
                    tracing::warn!(port = m.host_port, proto = m.proto.as_str(), error = %e, "starting the IPv6 proxy");
                }
            }
        }
    }

    /// Reserves host ports for `reqs`; all or nothing. The error is
    /// dockerd's "Bind for IP:PORT failed: port is already allocated".
    /// A port published on every IPv4 address is published on every IPv6
    /// address too, on the same host port, as dockerd does: with `dual` (the
    /// container's first network has IPv6) the kernel carries it; without,
    /// an IPv6 host address is served by the daemon's TCP and UDP proxy to
    /// the container's IPv4 address (docker-proxy's job with dockerd), so
    /// `curl localhost:P` works where `localhost` is `::1`. There is no SCTP
    /// proxy: SCTP on an IPv6 address of an IPv4-only container is refused
    /// when asked for and not added implicitly.
    pub fn reserve(
        &mut self,
        reqs: &[PortRequest],
        dual: bool,
    ) -> Result<Vec<PortMapping>, String> {
        let mut done: Vec<PortMapping> = Vec::new();
        let res = (|| {
            for r in reqs {
                if r.host_ip.is_ipv6() && !dual && r.proto == Proto::Sctp {
                    return Err(format!(
                        "publishing {} on the IPv6 address {} needs a container network with IPv6 enabled (--ipv6)",
                        r.proto.as_str(),
                        r.host_ip
                    ));
                }
                let explicit6 = reqs.iter().any(|o| {
                    o.host_ip.is_ipv6()
                        && o.proto == r.proto
                        && o.container_port == r.container_port
                });
                let implicit6 = dual || (r.proto != Proto::Sctp && self.ipv6_host);
                if implicit6 && r.host_ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED) && !explicit6 {
                    let (m4, m6) = self.reserve_both(r)?;
                    done.push(m4);
                    done.push(m6);
                } else {
                    done.push(self.reserve_one(r)?);
                }
            }
            Ok(())
        })();
        match res {
            Ok(()) => Ok(done),
            Err(e) => {
                self.release(&done);
                Err(e)
            }
        }
    }

    /// `r` on every IPv4 address and the same host port on every IPv6
    /// address: the first port of its range that is free in both families.
    fn reserve_both(&mut self, r: &PortRequest) -> Result<(PortMapping, PortMapping), String> {
        let (lo, hi) = r.host_range.unwrap_or(RANDOM_RANGE);
        let mut from = lo;
        loop {
            let r4 = PortRequest {
                host_range: if from == lo {
                    r.host_range
                } else {
                    Some((from, hi))
                },
                ..r.clone()
            };
            let m4 = self.reserve_one(&r4)?;
            let r6 = PortRequest {
                host_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                host_range: Some((m4.host_port, m4.host_port)),
                ..r.clone()
            };
            match self.reserve_one(&r6) {
                Ok(m6) => return Ok((m4, m6)),
                Err(e) => {
                    self.release(std::slice::from_ref(&m4));
                    if m4.host_port >= hi {
                        return Err(e);
                    }
                    from = m4.host_port + 1;
                }
            }
        }
    }

    fn reserve_one(&mut self, r: &PortRequest) -> Result<PortMapping, String> {
        let (lo, hi) = r.host_range.unwrap_or(RANDOM_RANGE);
        let mut last_err = None;
        for port in lo..=hi {
            if self.taken(r.proto, r.host_ip, port) {
                continue;
            }
            match bind(r.proto, r.host_ip, port) {
                Ok(h) => {
                    if let Some(h) = h {
                        self.held.insert((r.proto, r.host_ip, port), h);
                    } else {
                        self.held.insert(
                            (r.proto, r.host_ip, port),
                            Held::Udp(UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?),
                        );
                    }
                    return Ok(PortMapping {
                        proto: r.proto,
                        container_port: r.container_port,
                        host_ip: r.host_ip,
                        host_port: port,
                    });
                }
                Err(e) => last_err = Some(e),
            }
        }
        let _ = last_err;
        Err(match r.host_range {
            Some((a, b)) if a == b => format!(
                "Bind for {}:{a} failed: port is already allocated",
                fmt_host(r.host_ip)
            ),
            Some((a, b)) => format!(
                "Bind for {}:{a}-{b} failed: port is already allocated",
                fmt_host(r.host_ip)
            ),
            None => "no free host port in the ephemeral range".to_string(),
        })
    }

    /// Takes back ports already known to be ours (after a daemon restart);
    /// a port that cannot be bound is still recorded so it is not reused.
    pub fn adopt(&mut self, m: &PortMapping) {
        if self.held.contains_key(&(m.proto, m.host_ip, m.host_port)) {
            return;
        }
        let h = bind(m.proto, m.host_ip, m.host_port).ok().flatten();
        let h = match h {
            Some(h) => h,
            None => match UdpSocket::bind("127.0.0.1:0") {
                Ok(s) => Held::Udp(s),
                Err(_) => return,
            },
        };
        self.held.insert((m.proto, m.host_ip, m.host_port), h);
    }

    /// Frees the host ports of `maps`.
    pub fn release(&mut self, maps: &[PortMapping]) {
        for m in maps {
            self.held.remove(&(m.proto, m.host_ip, m.host_port));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        }
    }

    #[test]
    fn parses_bindings_and_publish_all() {
        let bindings = HashMap::from([
            ("80/tcp".to_string(), Some(vec![pb("", "8080")])),
            ("53/udp".to_string(), Some(vec![pb("127.0.0.1", "")])),
            ("90/tcp".to_string(), Some(vec![pb("", "9000-9010")])),
        ]);
        let exposed = HashMap::from([
            ("80/tcp".to_string(), HashMap::new()),
            ("443/tcp".to_string(), HashMap::new()),
        ]);
        let r = requests(Some(&bindings), Some(&exposed), true).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].container_port, 53);
        assert_eq!(r[0].proto, Proto::Udp);
        assert_eq!(r[0].host_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(r[0].host_range, None);
        assert_eq!(r[1].host_range, Some((8080, 8080)));
        assert_eq!(r[2].host_range, Some((9000, 9010)));
        assert_eq!(r[3].container_port, 443);
        assert_eq!(r[3].host_range, None);
        // Without -P only the bindings count.
        assert_eq!(
            requests(Some(&bindings), Some(&exposed), false)
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn rejects_bad_specs() {
        let bad = |k: &str, ip: &str, port: &str| {
            let b = HashMap::from([(k.to_string(), Some(vec![pb(ip, port)]))]);
            requests(Some(&b), None, false).unwrap_err()
        };
        assert!(bad("0/tcp", "", "80").contains("invalid containerPort"));
        assert!(bad("80/xyz", "", "80").contains("invalid proto"));
        assert!(bad("80/tcp", "", "9-1").contains("invalid hostPort"));
        assert!(bad("80/tcp", "nonsense", "1").contains("invalid IP"));
        assert!(bad("53/sctp", "::1", "1").contains("IPv6 loopback"));
        let ok = HashMap::from([("80/tcp".to_string(), Some(vec![pb("[::1]", "8080")]))]);
        let r = requests(Some(&ok), None, false).unwrap();
        assert_eq!(r[0].host_ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn dual_stack_publishes_the_same_port_on_both_families() {
        let mut t = PortTable::default();
        let any = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            host_range: None,
        };
        let m = t.reserve(std::slice::from_ref(&any), true).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].host_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(m[1].host_ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(m[0].host_port, m[1].host_port);
        // An IPv4-only container on a host without IPv6: one mapping.
        assert_eq!(
            t.reserve(std::slice::from_ref(&any), false).unwrap().len(),
            1
        );
        // With IPv6 on the host, TCP and UDP get `[::]` too (served by the proxy), SCTP
        // does not.
        let mut t = PortTable::with_host_ipv6(true);
        let m = t.reserve(std::slice::from_ref(&any), false).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[1].host_ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(m[0].host_port, m[1].host_port);
        let udp = PortRequest {
            proto: Proto::Udp,
            ..any.clone()
        };
        let m = t.reserve(&[udp], false).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[1].host_ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let sctp = PortRequest {
            proto: Proto::Sctp,
            ..any.clone()
        };
        assert_eq!(t.reserve(&[sctp], false).unwrap().len(), 1);
    }

    #[test]
    fn a_port_on_every_address_skips_one_taken_on_ipv6_only() {
        let mut t = PortTable::with_host_ipv6(true);
        let loop6 = PortRequest {
            proto: Proto::Udp,
            container_port: 53,
            host_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            host_range: None,
        };
        let first = t.reserve(std::slice::from_ref(&loop6), false).unwrap();
        let any = PortRequest {
            host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            container_port: 54,
            ..loop6.clone()
        };
        let m = t.reserve(std::slice::from_ref(&any), false).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].host_port, m[1].host_port);
        assert_ne!(m[0].host_port, first[0].host_port, "{m:?} {first:?}");
        // A fixed port taken on IPv6 is refused, and nothing stays reserved.
        let fixed = PortRequest {
            host_range: Some((first[0].host_port, first[0].host_port)),
            ..any.clone()
        };
        let e = t.reserve(std::slice::from_ref(&fixed), false).unwrap_err();
        assert!(e.contains("already allocated"), "{e}");
        t.release(&first);
        assert_eq!(t.reserve(&[fixed], false).unwrap().len(), 2);
    }

    #[test]
    fn reserves_each_port_once() {
        let mut t = PortTable::default();
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_range: None,
        };
        let a = t.reserve(std::slice::from_ref(&req), false).unwrap();
        let b = t.reserve(std::slice::from_ref(&req), false).unwrap();
        assert_ne!(a[0].host_port, b[0].host_port);
        let fixed = PortRequest {
            host_range: Some((a[0].host_port, a[0].host_port)),
            ..req.clone()
        };
        let e = t.reserve(std::slice::from_ref(&fixed), false).unwrap_err();
        assert!(e.contains("port is already allocated"), "{e}");
        // The same port on IPv6 is another port (V6ONLY), as with docker-proxy.
        let v6 = PortRequest {
            host_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            ..fixed.clone()
        };
        assert_eq!(
            t.reserve(std::slice::from_ref(&v6), true).unwrap()[0].host_port,
            a[0].host_port
        );
        let sctp6 = PortRequest {
            proto: Proto::Sctp,
            host_range: None,
            ..v6.clone()
        };
        assert!(
            t.reserve(std::slice::from_ref(&sctp6), false)
                .unwrap_err()
                .contains("--ipv6")
        );
        t.release(&a);
        assert_eq!(
            t.reserve(&[fixed], false).unwrap()[0].host_port,
            a[0].host_port
        );
    }
}
