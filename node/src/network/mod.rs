//! Container networking on one node: the default `bridge` network,
//! user-defined bridge networks, `host` and `none`, published ports and the
//! embedded DNS server.
//!
//! ```text
//! backends::networks ─> NetworkService ─┬─ networks.rs   create / remove / prune / list
//! engine (start/stop) ─┘                ├─ endpoints.rs  attach / detach / restore a container
//!                                       ├─ ipam.rs       subnets and addresses (pure)
//!                                       ├─ ports.rs      port specs (pure) + held host ports
//!                                       ├─ proxy.rs      [::1] published ports (TCP)
//!                                       ├─ nat.rs        this daemon's iptables chains (rendered whole)
//!                                       ├─ link.rs       rtnetlink: bridge, veth, address, route
//!                                       ├─ netns.rs      work inside a container's namespace
//!                                       ├─ etc_files.rs  /etc/hosts, /etc/resolv.conf (pure)
//!                                       └─ dns/          127.0.0.11 per container on user networks
//! ```
//!
//! Networks are stored in `<data-root>/network.db` (sled). A container's
//! endpoints and published ports are stored in its own record by the engine,
//! so the live state is rebuilt from records after a restart: addresses
//! still held by running containers are never handed out again, and the
//! firewall chains are rendered again from that state.

pub mod dns;
pub mod endpoints;
pub mod etc_files;
pub mod inspect;
pub mod ipam;
pub mod link;
pub mod model;
pub mod nat;
pub mod netns;
pub mod networks;
pub mod ports;
pub mod proxy;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::Ipv4Net;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::EventsBus;
use ipam::AddressPool;
use model::{EndpointRecord, NetworkRecord, PortMapping};

/// Network settings from the daemon config (dockerd's flags).
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--bridge`/`-b`: the default bridge's device (`none`: no default bridge).
    pub bridge: String,
    /// `--bip`: the default bridge's address and prefix.
    pub bip: Option<Ipv4Net>,
    /// `--fixed-cidr`: where default-bridge containers get addresses.
    pub fixed_cidr: Option<Ipv4Net>,
    /// `--ipv6`: the default bridge is dual stack.
    pub ipv6: bool,
    /// `--fixed-cidr-v6`: the default bridge's IPv6 subnet.
    pub fixed_cidr_v6: Option<ipnet::Ipv6Net>,
    /// `--default-address-pool`.
    pub pools: Vec<AddressPool>,
    /// `--mtu` (0: the kernel's default).
    pub mtu: u32,
    /// `--iptables-chain-prefix`: this daemon's chains.
    pub chain_prefix: String,
}

/// Why a network operation failed; `backends` maps the classes to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `network X not found` (404).
    #[error("network {0} not found")]
    NotFound(String),
    /// Bad parameter (400).
    #[error("{0}")]
    Invalid(String),
    /// Name clash, in use (409).
    #[error("{0}")]
    Conflict(String),
    /// Forbidden on predefined networks (403).
    #[error("{0}")]
    Forbidden(String),
    /// Netlink, iptables, sockets (500).
    #[error("{0}")]
    System(String),
    /// The store failed (500).
    #[error("network store: {0}")]
    Store(#[from] sled::Error),
}

impl From<link::LinkError> for NetError {
    fn from(e: link::LinkError) -> Self {
        NetError::System(e.to_string())
    }
}

impl From<nat::FirewallError> for NetError {
    fn from(e: nat::FirewallError) -> Self {
        NetError::System(e.to_string())
    }
}

impl From<netns::NetnsError> for NetError {
    fn from(e: netns::NetnsError) -> Self {
        NetError::System(e.to_string())
    }
}

/// Result alias.
pub type NetResult<T> = Result<T, NetError>;

/// A running container as the network service knows it.
#[derive(Debug, Clone, Default)]
pub struct LiveContainer {
    /// Name without slash.
    pub name: String,
    /// Init pid (0 if unknown).
    pub pid: u32,
    /// Endpoints by network name.
    pub endpoints: BTreeMap<String, EndpointRecord>,
    /// Published ports.
    pub ports: Vec<PortMapping>,
    /// Upstream resolvers for the embedded DNS.
    pub upstreams: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    nets: BTreeMap<String, NetworkRecord>,
    live: HashMap<String, LiveContainer>,
    ports: ports::PortTable,
    dns: HashMap<String, CancellationToken>,
}

/// Cheap-to-clone handle to the node's networking.
#[derive(Debug, Clone)]
pub struct NetworkService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: NetConfig,
    /// The ULA /48 that `--ipv6` networks without a subnet take /64s from.
    ula: ipnet::Ipv6Net,
    store: store::NetworkStore,
    firewall: nat::Firewall,
    state: Mutex<State>,
    events: Arc<EventsBus>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl NetworkService {
    /// Opens the store, creates the predefined networks on first start,
    /// brings every bridge up and renders the firewall chains.
    pub async fn open(
        cfg: NetConfig,
        events: Arc<EventsBus>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> NetResult<NetworkService> {
        let store = store::NetworkStore::open(&cfg.data_root.join("network.db"))?;
        let mut nets = BTreeMap::new();
        for n in store.load_all()? {
            nets.insert(n.id.clone(), n);
        }
        // dockerd derives its ULA pool from the host; the data root and
        // chain prefix keep two daemons of one host apart.
        let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
        let ula = ipam::ula_pool(&format!(
            "{}|{}|{}",
            machine.trim(),
            cfg.data_root.display(),
            cfg.chain_prefix
        ));
        let svc = NetworkService {
            inner: Arc::new(Inner {
                ula,
                firewall: nat::Firewall::new(&cfg.chain_prefix),
                cfg,
                store,
                state: Mutex::new(State {
                    nets,
                    ports: ports::PortTable::with_host_ipv6(ports::host_has_ipv6()),
                    ..Default::default()
                }),
                events,
                tracker,
                shutdown,
            }),
        };
        // dockerd turns forwarding on for its bridges, and so does Shoal.
        if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
            tracing::warn!(error = %e, "enabling ip_forward");
        }
        svc.ensure_predefined().await?;
        let bridges: Vec<NetworkRecord> = svc
            .state()
            .nets
            .values()
            .filter(|n| n.driver == model::Driver::Bridge)
            .cloned()
            .collect();
        for n in bridges {
            svc.bring_up(&n).await?;
        }
        svc.sync_firewall().await?;
        Ok(svc)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn cfg(&self) -> &NetConfig {
        &self.inner.cfg
    }

    /// Finds a network by full ID, exact name or unique ID prefix, as dockerd does.
    pub fn find(&self, key: &str) -> NetResult<NetworkRecord> {
        let st = self.state();
        find_in(&st.nets, key)
    }

    /// Every network.
    pub fn all(&self) -> Vec<NetworkRecord> {
        self.state().nets.values().cloned().collect()
    }

    /// The live containers attached to network `id` (container ID → live state).
    pub fn members(&self, id: &str) -> Vec<(String, LiveContainer)> {
        let st = self.state();
        let mut v: Vec<(String, LiveContainer)> = st
            .live
            .iter()
            .filter(|(_, l)| l.endpoints.values().any(|e| e.network_id == id))
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Renders this daemon's chains from the current state.
    pub(crate) async fn sync_firewall(&self) -> NetResult<()> {
        let (nets, ports) = {
            let st = self.state();
            let mut nets = Vec::new();
            let mut by_id = HashMap::new();
            for n in st.nets.values() {
                if let (model::Driver::Bridge, Some(subnet)) = (n.driver, n.subnet) {
                    by_id.insert(n.id.clone(), n.internal);
                    nets.push(nat::FwNet {
                        bridge: n.bridge.clone(),
                        subnet,
                        subnet6: n.subnet6,
                        internal: n.internal,
                        icc: n.icc,
                        masquerade: n.masquerade,
                    });
                }
            }
            let mut ports = Vec::new();
            for l in st.live.values() {
                // Ports go to the address on the first network (eth0), as dockerd does.
                let Some(ep) = l.endpoints.values().min_by(|a, b| a.ifname.cmp(&b.ifname)) else {
                    continue;
                };
                if by_id.get(&ep.network_id).copied().unwrap_or(true) {
                    continue;
                }
                for p in &l.ports {
                    let container_ip = match p.host_ip {
                        std::net::IpAddr::V4(_) => ep.ip.map(std::net::IpAddr::V4),
                        std::net::IpAddr::V6(_) => ep.ip6.map(std::net::IpAddr::V6),
                    };
                    let Some(container_ip) = container_ip else {
                        continue;
                    };
                    ports.push(nat::FwPort {
                        proto: p.proto,
                        host_ip: p.host_ip,
                        host_port: p.host_port,
                        container_ip,
                        container_port: p.container_port,
                    });
                }
            }
            (nets, ports)
        };
        self.inner.firewall.apply(&nets, &ports).await?;
        Ok(())
    }

    /// Creates the bridge of `n` if missing, with its gateway address, and
    /// lets published ports reach it from the host's loopback.
    async fn bring_up(&self, n: &NetworkRecord) -> NetResult<()> {
        let (Some(subnet), Some(gw)) = (n.subnet, n.gateway) else {
            return Ok(());
        };
        let addr =
            Ipv4Net::new(gw, subnet.prefix_len()).map_err(|e| NetError::Invalid(e.to_string()))?;
        let h = link::connect().map_err(|e| NetError::System(format!("netlink: {e}")))?;
        link::ensure_bridge(&h, &n.bridge, addr, n.mtu).await?;
        let p = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge);
        if let Err(e) = std::fs::write(&p, "1") {
            tracing::warn!(bridge = %n.bridge, error = %e, "route_localnet");
        }
        if let (Some(s6), Some(gw6)) = (n.subnet6, n.gateway6) {
            // Our own bridge only: IPv6 on, then its gateway address.
            let p = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", n.bridge);
            std::fs::write(&p, "0").map_err(|e| {
                NetError::System(format!("enabling IPv6 on {}: {p}: {e}", n.bridge))
            })?;
            let a6 = ipnet::Ipv6Net::new(gw6, s6.prefix_len())
                .map_err(|e| NetError::Invalid(e.to_string()))?;
            link::add_bridge_v6(&h, &n.bridge, a6).await?;
        }
        Ok(())
    }

    /// Subnets in use on this host (routes) and by this daemon's networks.
    async fn taken_subnets(&self) -> NetResult<Vec<Ipv4Net>> {
        let h = link::connect().map_err(|e| NetError::System(format!("netlink: {e}")))?;
        let mut taken: Vec<Ipv4Net> = link::routes_v4(&h)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !n.addr().is_loopback())
            .collect();
        taken.extend(self.state().nets.values().filter_map(|n| n.subnet));
        Ok(taken)
    }

    fn publish(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.as_str().to_string());
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        self.inner.events.publish(
            shoal_api::models::EventMessageTypeEnum::NETWORK,
            action,
            &n.id,
            attrs,
        );
    }
}

fn find_in(nets: &BTreeMap<String, NetworkRecord>, key: &str) -> NetResult<NetworkRecord> {
    if key.is_empty() {
        return Err(NetError::NotFound(key.to_owned()));
    }
    if let Some(n) = nets.get(key) {
        return Ok(n.clone());
    }
    if let Some(n) = nets.values().find(|n| n.name == key) {
        return Ok(n.clone());
    }
    let mut m = nets.values().filter(|n| n.id.starts_with(key));
    match (m.next(), m.next()) {
        (Some(n), None) => Ok(n.clone()),
        (Some(_), Some(_)) => Err(NetError::Invalid(format!(
            "network {key} is ambiguous (multiple networks match)"
        ))),
        _ => Err(NetError::NotFound(key.to_owned())),
    }
}

/// The used IPv6 addresses of network `n`: its gateway and the live endpoints.
fn used_ips6(st: &State, n: &NetworkRecord) -> std::collections::BTreeSet<std::net::Ipv6Addr> {
    let mut used: std::collections::BTreeSet<_> = n.aux6.values().copied().collect();
    if let Some(g) = n.gateway6 {
        used.insert(g);
    }
    for l in st.live.values() {
        for e in l.endpoints.values() {
            if e.network_id == n.id
                && let Some(ip) = e.ip6
            {
                used.insert(ip);
            }
        }
    }
    used
}

/// The used addresses of network `id`: its gateway and the live endpoints.
fn used_ips(st: &State, n: &NetworkRecord) -> std::collections::BTreeSet<Ipv4Addr> {
    let mut used: std::collections::BTreeSet<_> = n.aux.values().copied().collect();
    if let Some(g) = n.gateway {
        used.insert(g);
    }
    for l in st.live.values() {
        for e in l.endpoints.values() {
            if e.network_id == n.id
                && let Some(ip) = e.ip
            {
                used.insert(ip);
            }
        }
    }
    used
}
