//! Address management for bridge networks (pure): choosing a subnet for a
//! new network from the address pools, and an address for an endpoint.
//!
//! The set of used addresses is derived from the persisted endpoint records
//! of live containers, so a restarted daemon never hands out an address that
//! a running container still holds.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// One `default-address-pools` entry: split `base` into subnets of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    /// The range to split.
    pub base: Ipv4Net,
    /// Prefix length of each subnet.
    pub size: u8,
}

/// Why an address or subnet could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// Every address of the range is in use.
    #[error("no available IPv4 addresses on this network's address pools: {0}")]
    Exhausted(String),
    /// `--ip` outside the subnet or range.
    #[error("no available IPv4 addresses: requested address {0} is not in the network's subnet")]
    OutOfRange(Ipv4Addr),
    /// `--ip` already taken.
    #[error("Address already in use")]
    InUse(Ipv4Addr),
    /// `--ip6` outside the subnet.
    #[error("no available IPv6 addresses: requested address {0} is not in the network's subnet")]
    OutOfRange6(Ipv6Addr),
    /// `--ip6` already taken.
    #[error("Address already in use")]
    InUse6(Ipv6Addr),
    /// No pool has a free subnet.
    #[error("all predefined address pools have been fully subnetted")]
    NoPool,
}

/// dockerd's defaults: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<AddressPool> {
    let mut v: Vec<AddressPool> = (17..=31u8)
        .filter_map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).ok())
        .map(|base| AddressPool { base, size: 16 })
        .collect();
    if let Ok(base) = Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16) {
        v.push(AddressPool { base, size: 20 });
    }
    v
}

/// Parses dockerd's `base=10.10.0.0/16,size=24` pool syntax.
pub fn parse_pool(s: &str) -> Result<AddressPool, String> {
    let mut base = None;
    let mut size = None;
    for part in s.split(',') {
        match part.split_once('=') {
            Some(("base", v)) => {
                base = Some(v.parse::<Ipv4Net>().map_err(|e| format!("{v}: {e}"))?)
            }
            Some(("size", v)) => size = Some(v.parse::<u8>().map_err(|e| format!("{v}: {e}"))?),
            _ => return Err(format!("invalid address pool option: {part}")),
        }
    }
    match (base, size) {
        (Some(base), Some(size)) if size >= base.prefix_len() && size <= 30 => Ok(AddressPool {
            base: base.trunc(),
            size,
        }),
        (Some(_), Some(size)) => Err(format!("invalid pool size {size}")),
        _ => Err(format!("address pool needs base and size: {s}")),
    }
}

/// The first subnet of `pools` that overlaps none of `taken` (host routes
/// and other networks).
pub fn pick_subnet(pools: &[AddressPool], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    for p in pools {
        let Ok(subnets) = p.base.subnets(p.size) else {
            continue;
        };
        for s in subnets {
            if !taken.iter().any(|t| overlaps(&s, t)) {
                return Some(s);
            }
        }
    }
    None
}

/// Whether two subnets share any address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The gateway dockerd gives a subnet: its first host address.
pub fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

/// Picks an address for an endpoint: `want` if it is free and in `subnet`
/// (it may lie outside `range`, as with dockerd), else the lowest free
/// address of `range`. Network, broadcast and `reserved` addresses
/// (gateway...) and `used` ones are never handed out.
pub fn allocate(
    subnet: &Ipv4Net,
    range: &Ipv4Net,
    used: &BTreeSet<Ipv4Addr>,
    want: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, IpamError> {
    if let Some(ip) = want {
        if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
            return Err(IpamError::OutOfRange(ip));
        }
        if used.contains(&ip) {
            return Err(IpamError::InUse(ip));
        }
        return Ok(ip);
    }
    range
        .hosts()
        .find(|ip| !used.contains(ip) && *ip != subnet.network() && *ip != subnet.broadcast())
        .ok_or_else(|| IpamError::Exhausted(subnet.to_string()))
}

/// The daemon's IPv6 pool for `--ipv6` networks without an IPv6 subnet: a
/// ULA /48 (`fdXX:XXXX:XXXX::/48`) whose 40 global-ID bits come from `seed`
/// (the daemon's identity), cut into /64s, as dockerd 28 does with its
/// host-derived ULA pool.
pub fn ula_pool(seed: &str) -> Ipv6Net {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed.as_bytes());
    let mut o = [0u8; 16];
    o[0] = 0xfd;
    o[1..6].copy_from_slice(&h[..5]);
    Ipv6Net::new(Ipv6Addr::from(o), 48)
        .map(|n| n.trunc())
        .unwrap_or_default()
}

/// The first /64 of `pool` that overlaps none of `taken`.
pub fn pick_subnet6(pool: &Ipv6Net, taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    pool.subnets(64)
        .ok()?
        .find(|s| !taken.iter().any(|t| overlaps6(s, t)))
}

/// Whether two IPv6 subnets share any address.
pub fn overlaps6(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The IPv6 gateway dockerd gives a subnet: `<prefix>::1`.
pub fn first_host6(subnet: &Ipv6Net) -> Ipv6Addr {
    subnet.hosts().nth(1).unwrap_or(subnet.network())
}

/// [`allocate`] for IPv6: `want` if free and in `subnet`, else the lowest
/// free address of `range`; the subnet-router anycast address (the
/// prefix itself) is never handed out.
pub fn allocate6(
    subnet: &Ipv6Net,
    range: &Ipv6Net,
    used: &BTreeSet<Ipv6Addr>,
    want: Option<Ipv6Addr>,
) -> Result<Ipv6Addr, IpamError> {
    if let Some(ip) = want {
        if !subnet.contains(&ip) || ip == subnet.network() {
            return Err(IpamError::OutOfRange6(ip));
        }
        if used.contains(&ip) {
            return Err(IpamError::InUse6(ip));
        }
        return Ok(ip);
    }
    // Bounded: a range with that many addresses taken is exhausted for us.
    range
        .hosts()
        .take(used.len() + 2)
        .find(|ip| !used.contains(ip) && *ip != subnet.network())
        .ok_or_else(|| IpamError::Exhausted(subnet.to_string()))
}

/// dockerd's MAC for an address: 02:42 followed by the IPv4 bytes.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn picks_first_free_default_pool() {
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(
            pick_subnet(&default_pools(), &taken),
            Some(net("172.19.0.0/16"))
        );
        assert_eq!(
            pick_subnet(&default_pools(), &[]),
            Some(net("172.17.0.0/16"))
        );
        // A wide host route covering the 172.16/12 pool moves to 192.168.
        assert_eq!(
            pick_subnet(&default_pools(), &[net("172.16.0.0/12")]),
            Some(net("192.168.0.0/20"))
        );
    }

    #[test]
    fn parses_pool_syntax() {
        assert_eq!(
            parse_pool("base=10.10.0.0/16,size=24").unwrap(),
            AddressPool {
                base: net("10.10.0.0/16"),
                size: 24
            }
        );
        assert!(parse_pool("base=10.10.0.0/16").is_err());
        assert!(parse_pool("base=10.10.0.0/16,size=8").is_err());
        assert!(parse_pool("bogus=1").is_err());
    }

    #[test]
    fn allocates_lowest_free_and_never_twice() {
        let s = net("10.5.0.0/29");
        let mut used = BTreeSet::from([first_host(&s)]);
        let mut got = Vec::new();
        while let Ok(ip) = allocate(&s, &s, &used, None) {
            assert!(used.insert(ip), "{ip} handed out twice");
            got.push(ip);
        }
        // .0 network, .1 gateway, .7 broadcast are never handed out.
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], Ipv4Addr::new(10, 5, 0, 2));
        assert!(matches!(
            allocate(&s, &s, &used, None),
            Err(IpamError::Exhausted(_))
        ));
    }

    #[test]
    fn requested_address_checked() {
        let s = net("10.5.0.0/24");
        let r = net("10.5.0.128/25");
        let used = BTreeSet::from([Ipv4Addr::new(10, 5, 0, 1), Ipv4Addr::new(10, 5, 0, 9)]);
        assert_eq!(
            allocate(&s, &r, &used, Some(Ipv4Addr::new(10, 5, 0, 7))),
            Ok(Ipv4Addr::new(10, 5, 0, 7))
        );
        assert_eq!(
            allocate(&s, &r, &used, Some(Ipv4Addr::new(10, 5, 0, 9))),
            Err(IpamError::InUse(Ipv4Addr::new(10, 5, 0, 9)))
        );
        assert!(matches!(
            allocate(&s, &r, &used, Some(Ipv4Addr::new(10, 6, 0, 9))),
            Err(IpamError::OutOfRange(_))
        ));
        // Without a request, the range is used.
        assert_eq!(
            allocate(&s, &r, &used, None),
            Ok(Ipv4Addr::new(10, 5, 0, 129))
        );
    }

    #[test]
    fn ipv6_pool_and_addresses() {
        let pool = ula_pool("SHOAL");
        assert_eq!(pool.prefix_len(), 48);
        assert_eq!(pool.addr().segments()[0] >> 8, 0xfd);
        // Stable for a daemon, different between daemons.
        assert_eq!(pool, ula_pool("SHOAL"));
        assert_ne!(pool, ula_pool("SHT1"));
        let first = pick_subnet6(&pool, &[]).unwrap();
        assert_eq!(first.prefix_len(), 64);
        assert_eq!(first.network(), pool.network());
        let second = pick_subnet6(&pool, &[first]).unwrap();
        assert_ne!(first, second);
        assert!(pool.contains(&second));

        let s: Ipv6Net = "fd00:1::/64".parse().unwrap();
        let gw = first_host6(&s);
        assert_eq!(gw, "fd00:1::1".parse::<Ipv6Addr>().unwrap());
        let mut used = BTreeSet::from([gw]);
        let a = allocate6(&s, &s, &used, None).unwrap();
        assert_eq!(a, "fd00:1::2".parse::<Ipv6Addr>().unwrap());
        used.insert(a);
        assert_eq!(
            allocate6(&s, &s, &used, None).unwrap(),
            "fd00:1::3".parse::<Ipv6Addr>().unwrap()
        );
        let want: Ipv6Addr = "fd00:1::99".parse().unwrap();
        assert_eq!(allocate6(&s, &s, &used, Some(want)), Ok(want));
        assert_eq!(allocate6(&s, &s, &used, Some(a)), Err(IpamError::InUse6(a)));
        let out: Ipv6Addr = "fd00:2::5".parse().unwrap();
        assert_eq!(
            allocate6(&s, &s, &used, Some(out)),
            Err(IpamError::OutOfRange6(out))
        );
        assert!(allocate6(&s, &s, &used, Some(s.network())).is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(mac_for(Ipv4Addr::new(172, 17, 0, 2)), "02:42:ac:11:00:02");
        assert_eq!(
            parse_mac("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }
}
