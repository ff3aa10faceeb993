//! The persisted shapes of networks and container endpoints (sled, JSON).
//! New fields get `#[serde(default)]` so records written by an older Shoal
//! stay readable.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// Network drivers Shoal provides on a single node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// A Linux bridge with NAT (the default `bridge` network and user networks).
    Bridge,
    /// The host's namespace (`host`).
    Host,
    /// No networking but loopback (`none`).
    Null,
}

impl Driver {
    /// Docker's driver name.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

/// One network, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64 hex characters.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Driver.
    pub driver: Driver,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Linux bridge device (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    /// IPv4 subnet (bridge driver only).
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    /// Gateway: the bridge's address.
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// Where container addresses are taken from (`--ip-range`, `fixed-cidr`).
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    /// Whether the user gave the IPAM config (inspect shows it as given).
    #[serde(default)]
    pub user_ipam: bool,
    /// `--internal`: no traffic in or out of the bridge but between its members.
    #[serde(default)]
    pub internal: bool,
    /// `com.docker.network.bridge.enable_icc`.
    #[serde(default = "yes")]
    pub icc: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade`.
    #[serde(default = "yes")]
    pub masquerade: bool,
    /// `com.docker.network.driver.mtu`.
    #[serde(default)]
    pub mtu: u32,
    /// `--attachable`.
    #[serde(default)]
    pub attachable: bool,
    /// Labels.
    #[serde(default)]
    pub labels: HashMap<String, String>,
    /// Driver options as given (shown in inspect).
    #[serde(default)]
    pub options: HashMap<String, String>,
    /// IPAM options as given.
    #[serde(default)]
    pub ipam_options: HashMap<String, String>,
    /// The daemon's default `bridge` network (legacy links, no embedded DNS).
    #[serde(default)]
    pub is_default_bridge: bool,
    /// `--ipv6`: dual stack, with [`Self::subnet6`] on the bridge.
    #[serde(default)]
    pub enable_ipv6: bool,
    /// IPv6 subnet (given, or a ULA /64 from the daemon's pool).
    #[serde(default)]
    pub subnet6: Option<Ipv6Net>,
    /// IPv6 gateway: the bridge's IPv6 address.
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
    /// IPv6 `--ip-range`.
    #[serde(default)]
    pub ip_range6: Option<Ipv6Net>,
    /// Whether the IPv6 IPAM entry was given by the user.
    #[serde(default)]
    pub user_ipam6: bool,
    /// `--aux-address` names and IPv4 addresses: reserved, never handed out.
    #[serde(default)]
    pub aux: BTreeMap<String, Ipv4Addr>,
    /// The same for the IPv6 subnet.
    #[serde(default)]
    pub aux6: BTreeMap<String, Ipv6Addr>,
}

fn yes() -> bool {
    true
}

impl NetworkRecord {
    /// Whether containers on it get the embedded DNS server (user networks).
    pub fn has_dns(&self) -> bool {
        self.driver == Driver::Bridge && !self.is_default_bridge
    }

    /// Whether this is one of the three predefined networks.
    pub fn is_predefined(&self) -> bool {
        self.is_default_bridge || matches!(self.driver, Driver::Host | Driver::Null)
    }
}

/// A container's attachment to one network (`NetworkSettings.Networks[name]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// The network's ID.
    pub network_id: String,
    /// Set when the endpoint is live (container running).
    #[serde(default)]
    pub endpoint_id: String,
    /// `--network-alias` (plus the short ID on user networks, as dockerd adds it).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Legacy `--link name:alias` entries for this network.
    #[serde(default)]
    pub links: Vec<String>,
    /// `--ip` (IPAMConfig.IPv4Address).
    #[serde(default)]
    pub requested_ip: Option<Ipv4Addr>,
    /// `--ip6` (IPAMConfig.IPv6Address).
    #[serde(default)]
    pub requested_ip6: Option<Ipv6Addr>,
    /// `--mac-address`.
    #[serde(default)]
    pub requested_mac: Option<String>,
    /// The address while live.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// The subnet's prefix length while live.
    #[serde(default)]
    pub prefix: u8,
    /// The gateway while live.
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// The IPv6 address while live (dual-stack networks).
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// The IPv6 subnet's prefix length while live.
    #[serde(default)]
    pub prefix6: u8,
    /// The IPv6 gateway while live.
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
    /// The MAC address while live.
    #[serde(default)]
    pub mac: Option<String>,
    /// Interface inside the container (`eth0`, `eth1`...).
    #[serde(default)]
    pub ifname: String,
    /// Host side of the veth pair.
    #[serde(default)]
    pub host_veth: String,
}

/// Transport of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Proto {
    /// Docker's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    /// Parses `tcp`/`udp`/`sctp`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

/// One published port while the container runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// Transport.
    pub proto: Proto,
    /// Port inside the container.
    pub container_port: u16,
    /// Host address it is bound to (`0.0.0.0` / `::` for all). Records of
    /// older versions hold an IPv4 string, which reads as `IpAddr::V4`.
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records as the IPv4-only Shoal wrote them still read, with IPv6 off.
    #[test]
    fn reads_records_of_the_ipv4_only_format() {
        let net: NetworkRecord = serde_json::from_str(
            r#"{"id":"ab","name":"n","driver":"bridge","created":"2026-12-01T20:00:00Z",
                "bridge":"br-ab","subnet":"10.9.0.0/24","gateway":"10.9.0.1","ip_range":null,
                "user_ipam":true,"internal":false,"icc":true,"masquerade":true,"mtu":0,
                "attachable":false,"labels":{},"options":{},"ipam_options":{},
                "is_default_bridge":false}"#,
        )
        .unwrap();
        assert!(!net.enable_ipv6);
        assert_eq!(net.subnet6, None);
        let ep: EndpointRecord = serde_json::from_str(
            r#"{"network_id":"ab","endpoint_id":"e","aliases":[],"links":[],
                "requested_ip":"10.9.0.7","requested_mac":null,"ip":"10.9.0.7","prefix":24,
                "gateway":"10.9.0.1","mac":"02:42:0a:09:00:07","ifname":"eth0",
                "host_veth":"veth1234567"}"#,
        )
        .unwrap();
        assert_eq!(ep.ip6, None);
        assert_eq!(ep.requested_ip6, None);
        let p: PortMapping = serde_json::from_str(
            r#"{"proto":"tcp","container_port":80,"host_ip":"0.0.0.0","host_port":8080}"#,
        )
        .unwrap();
        assert_eq!(p.host_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        // And the new shape round-trips.
        let back: PortMapping = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
