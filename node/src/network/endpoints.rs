//! Attaching a running container to its networks: addresses, veth pairs,
//! interfaces inside its namespace, published ports, the DNS server; and
//! taking all of it down again.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};

use super::dns::server::Names;
use super::dns::table::{DnsEntry, lookup};
use super::model::{EndpointRecord, NetworkRecord, PortMapping};
use super::ports::PortRequest;
use super::{
    LiveContainer, NetError, NetResult, NetworkService, find_in, ipam, link, netns, used_ips,
};

/// What the engine asks for when a container's task has been created.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    /// Container ID.
    pub container_id: String,
    /// Container name.
    pub name: String,
    /// Init pid (its namespace gets the interfaces).
    pub pid: u32,
    /// Networks in priority order (the first gets the default route).
    pub endpoints: Vec<(String, EndpointRecord)>,
    /// Ports to publish.
    pub ports: Vec<PortRequest>,
    /// Upstream resolvers for the embedded DNS.
    pub upstreams: Vec<String>,
}

/// The live endpoints and ports, for the engine to store in the record.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    /// By network name.
    pub endpoints: BTreeMap<String, EndpointRecord>,
    /// Published ports.
    pub ports: Vec<PortMapping>,
}

fn rand_hex(n: usize) -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| format!("{:x}", r.gen_range(0..16u8)))
        .collect()
}

fn sys(e: impl std::fmt::Display) -> NetError {
    NetError::System(e.to_string())
}

impl NetworkService {
    /// Allocates an address on `net` for `ep` (under the state lock).
    fn plan(
        st: &super::State,
        net: &NetworkRecord,
        mut ep: EndpointRecord,
        ifname: String,
    ) -> NetResult<EndpointRecord> {
        let (Some(subnet), Some(gw)) = (net.subnet, net.gateway) else {
            return Err(NetError::Invalid(format!(
                "network {} has no subnet",
                net.name
            )));
        };
        let range = net.ip_range.unwrap_or(subnet);
        let ip = ipam::allocate(&subnet, &range, &used_ips(st, net), ep.requested_ip)
            .map_err(|e| NetError::Invalid(e.to_string()))?;
        ep.network_id = net.id.clone();
        ep.endpoint_id = crate::engine::names::new_id();
        ep.ip = Some(ip);
        ep.prefix = subnet.prefix_len();
        ep.gateway = Some(gw);
        match (net.subnet6, net.gateway6) {
            (Some(s6), Some(gw6)) => {
                let range6 = net.ip_range6.unwrap_or(s6);
                let ip6 =
                    ipam::allocate6(&s6, &range6, &super::used_ips6(st, net), ep.requested_ip6)
                        .map_err(|e| NetError::Invalid(e.to_string()))?;
                ep.ip6 = Some(ip6);
                ep.prefix6 = s6.prefix_len();
                ep.gateway6 = Some(gw6);
            }
            _ if ep.requested_ip6.is_some() => {
                return Err(NetError::Invalid(format!(
                    "invalid endpoint settings: --ip6 needs a network with IPv6 enabled ({})",
                    net.name
                )));
            }
            _ => {
                ep.ip6 = None;
                ep.prefix6 = 0;
                ep.gateway6 = None;
            }
        }
        ep.mac = Some(
            ep.requested_mac
                .clone()
                .unwrap_or_else(|| ipam::mac_for(ip)),
        );
        ep.ifname = ifname;
        ep.host_veth = format!("veth{}", rand_hex(7));
        Ok(ep)
    }

    /// Wires container `req.container_id` (whose task exists, not yet
    /// started) to its networks. All or nothing: on error every piece made
    /// is taken down again.
    #[tracing::instrument(skip_all, fields(container.id = %req.container_id))]
    pub async fn attach(&self, req: AttachRequest) -> NetResult<Attached> {
        let started = std::time::Instant::now();
        let planned: Vec<(String, EndpointRecord, NetworkRecord)> = {
            let mut st = self.state();
            let mut out = Vec::new();
            let mut live = LiveContainer {
                name: req.name.clone(),
                pid: req.pid,
                upstreams: req.upstreams.clone(),
                ..Default::default()
            };
            for (i, (name, ep)) in req.endpoints.iter().enumerate() {
                let planned = find_in(&st.nets, &ep.network_id)
                    .or_else(|_| find_in(&st.nets, name))
                    .and_then(|net| {
                        // Plan against a state that already holds this container's
                        // earlier endpoints, so two never get the same address.
                        Self::plan(&st, &net, ep.clone(), format!("eth{i}")).map(|ep| (net, ep))
                    });
                let (net, ep) = match planned {
                    Ok(x) => x,
                    Err(e) => {
                        st.live.remove(&req.container_id);
                        return Err(e);
                    }
                };
                live.endpoints.insert(net.name.clone(), ep.clone());
                st.live.insert(req.container_id.clone(), live.clone());
                out.push((net.name.clone(), ep, net));
            }
            // Ports go to the first network (eth0), both families if it has IPv6.
            let first = out
                .first()
                .map(|(_, ep, _): &(String, EndpointRecord, NetworkRecord)| ep);
            let ip6 = first.and_then(|ep| ep.ip6);
            let target = ip6
                .map(std::net::IpAddr::V6)
                .or_else(|| first.and_then(|ep| ep.ip).map(std::net::IpAddr::V4));
            match st.ports.reserve(&req.ports, ip6.is_some()) {
                Ok(p) => {
                    if let Some(target) = target {
                        st.ports.start_proxies(
                            &p,
                            target,
                            &self.inner.tracker,
                            &self.inner.shutdown,
                        );
                    }
                    live.ports = p;
                }
                Err(e) => {
                    st.live.remove(&req.container_id);
                    return Err(NetError::System(format!(
                        "driver failed programming external connectivity on endpoint {}: {e}",
                        req.name
                    )));
                }
            }
            st.live.insert(req.container_id.clone(), live);
            out
        };
        // The rules only need the planned addresses, not the interfaces: the
        // iptables-restore process runs while netlink wires the veths, off
        // the critical path of `docker run -p` (its rules are in place before
        // the task starts either way).
        let t0 = std::time::Instant::now();
        let (wired, fw) = tokio::join!(
            async {
                let r = self.wire(&req.container_id, req.pid, &planned, true).await;
                (r, t0.elapsed())
            },
            async {
                let r = self.sync_firewall().await;
                (r, t0.elapsed())
            }
        );
        let ((wired, wire_t), (fw, fw_t)) = (wired, fw);
        // Where `docker run -p` spends its networking time (SHOAL_LOG=debug).
        tracing::debug!(
            wire_ms = wire_t.as_secs_f64() * 1e3,
            firewall_ms = fw_t.as_secs_f64() * 1e3,
            "endpoints wired"
        );
        if let Err(e) = wired.and(fw) {
            self.detach(&req.container_id).await;
            return Err(e);
        }
        let live = self
            .state()
            .live
            .get(&req.container_id)
            .cloned()
            .unwrap_or_default();
        for (_, _, net) in &planned {
            self.publish("connect", net, Some(&req.container_id));
            // dockerd times each endpoint it joins at start as action "allocate".
            crate::metrics::METRICS.network_action("allocate", started.elapsed());
        }
        Ok(Attached {
            endpoints: live.endpoints,
            ports: live.ports,
        })
    }

    /// Creates the veths of `eps`, configures them inside `pid`'s namespace
    /// and starts the DNS server if a user network needs one.
    async fn wire(
        &self,
        container: &str,
        pid: u32,
        eps: &[(String, EndpointRecord, NetworkRecord)],
        first_gets_route: bool,
    ) -> NetResult<()> {
        let h = link::connect().map_err(sys)?;
        let mut inside = Vec::new();
        for (i, (_, ep, net)) in eps.iter().enumerate() {
            let idx = match link::index_of(&h, &net.bridge).await? {
                Some(i) => i,
                None => {
                    self.bring_up(net).await?;
                    link::index_of(&h, &net.bridge)
                        .await?
                        .ok_or_else(|| NetError::System(format!("bridge {} missing", net.bridge)))?
                }
            };
            let peer = format!("vp{}", rand_hex(10));
            link::veth_into(&h, &ep.host_veth, &peer, idx, net.mtu, pid).await?;
            let ip = ep.ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let addr = Ipv4Net::new(ip, ep.prefix).map_err(sys)?;
            let mac =
                ep.mac.as_deref().and_then(ipam::parse_mac).ok_or_else(|| {
                    NetError::Invalid(format!("invalid MAC address {:?}", ep.mac))
                })?;
            let route = i == 0 && first_gets_route && !net.internal;
            let addr6 = match ep.ip6 {
                Some(ip6) => Some(Ipv6Net::new(ip6, ep.prefix6).map_err(sys)?),
                None => None,
            };
            let a = link::InsideAddrs {
                addr,
                gateway: ep.gateway.filter(|_| route),
                addr6,
                gateway6: ep.gateway6.filter(|_| route),
            };
            inside.push((peer, ep.ifname.clone(), mac, a));
        }
        let any6 = inside.iter().any(|(_, _, _, a)| a.addr6.is_some());
        let needs_dns = eps.iter().any(|(_, _, n)| n.has_dns());
        let dns_running = self.state().dns.contains_key(container);
        let sock = netns::run_in(pid, move || async move {
            let h = link::connect().map_err(sys)?;
            if any6 {
                // Only this container's namespace: IPv6 on for its interfaces.
                for k in ["all", "default"] {
                    let p = format!("/proc/sys/net/ipv6/conf/{k}/disable_ipv6");
                    std::fs::write(&p, "0").map_err(|e| sys(format!("{p}: {e}")))?;
                }
            }
            for (peer, ifname, mac, a) in inside {
                link::configure_inside(&h, &peer, &ifname, mac, &a).await?;
            }
            if needs_dns && !dns_running {
                return Ok::<_, NetError>(Some(super::dns::bind_embedded().map_err(sys)?));
            }
            Ok(None)
        })
        .await??;
        if let Some(s) = sock {
            self.start_dns(container, s)?;
        }
        Ok(())
    }

    fn start_dns(
        &self,
        container: &str,
        (udp, tcp): (std::net::UdpSocket, std::net::TcpListener),
    ) -> NetResult<()> {
        let udp = tokio::net::UdpSocket::from_std(udp).map_err(sys)?;
        let tcp = tokio::net::TcpListener::from_std(tcp).map_err(sys)?;
        let stop = self.inner.shutdown.child_token();
        if let Some(old) = self.state().dns.insert(container.to_owned(), stop.clone()) {
            old.cancel();
        }
        let names: Arc<dyn Names> = Arc::new(self.clone());
        self.inner.tracker.spawn(super::dns::server::serve(
            udp,
            tcp,
            container.to_owned(),
            names,
            stop,
        ));
        Ok(())
    }

    /// Takes container `id` off every network: ports freed, veths deleted,
    /// DNS stopped, firewall rendered again. Idempotent; never fails (a
    /// namespace that is gone took its interfaces with it).
    #[tracing::instrument(skip_all, fields(container.id = %id))]
    pub async fn detach(&self, id: &str) {
        let (live, dns, nets) = {
            let mut st = self.state();
            let live = st.live.remove(id);
            if let Some(l) = &live {
                st.ports.release(&l.ports);
            }
            let dns = st.dns.remove(id);
            let nets: Vec<NetworkRecord> = live
                .iter()
                .flat_map(|l| l.endpoints.values())
                .filter_map(|e| st.nets.get(&e.network_id).cloned())
                .collect();
            (live, dns, nets)
        };
        if let Some(t) = dns {
            t.cancel();
        }
        // Announce at once: a network removal may follow as soon as the state says unused.
        for n in &nets {
            self.publish("disconnect", n, Some(id));
        }
        let Some(live) = live else { return };
        if let Ok(h) = link::connect() {
            for ep in live.endpoints.values() {
                if let Err(e) = link::delete(&h, &ep.host_veth).await {
                    tracing::warn!(error = %e, "deleting veth");
                }
            }
        }
        if let Err(e) = self.sync_firewall().await {
            tracing::error!(error = %e, "updating firewall after detach");
        }
    }

    /// After a daemon restart: takes back the endpoints and ports of a
    /// container that kept running, and restarts its DNS server. The
    /// firewall is rendered once all are back ([`Self::sync_firewall`]).
    pub async fn restore(
        &self,
        id: &str,
        name: &str,
        pid: u32,
        endpoints: BTreeMap<String, EndpointRecord>,
        ports: Vec<PortMapping>,
        upstreams: Vec<String>,
    ) {
        let needs_dns = {
            let mut st = self.state();
            for p in &ports {
                st.ports.adopt(p);
            }
            let first = endpoints.values().min_by(|a, b| a.ifname.cmp(&b.ifname));
            let target = first.and_then(|e| {
                e.ip6
                    .map(std::net::IpAddr::V6)
                    .or(e.ip.map(std::net::IpAddr::V4))
            });
            if let Some(target) = target {
                st.ports
                    .start_proxies(&ports, target, &self.inner.tracker, &self.inner.shutdown);
            }
            let needs = endpoints
                .values()
                .any(|e| st.nets.get(&e.network_id).is_some_and(|n| n.has_dns()));
            st.live.insert(
                id.to_owned(),
                LiveContainer {
                    name: name.to_owned(),
                    pid,
                    endpoints,
                    ports,
                    upstreams,
                },
            );
            needs
        };
        if needs_dns && pid > 0 {
            let r = netns::run_in(pid, || async { super::dns::bind_embedded() }).await;
            match r {
                Ok(Ok(s)) => {
                    if let Err(e) = self.start_dns(id, s) {
                        tracing::warn!(container.id = %id, error = %e, "restarting DNS");
                    }
                }
                Ok(Err(e)) => tracing::warn!(container.id = %id, error = %e, "restarting DNS"),
                Err(e) => tracing::warn!(container.id = %id, error = %e, "restarting DNS"),
            }
        }
    }

    /// `docker network connect` of a running container.
    pub async fn connect_live(
        &self,
        id: &str,
        pid: u32,
        net_name: &str,
        ep: EndpointRecord,
    ) -> NetResult<EndpointRecord> {
        let (ep, net) = {
            let mut st = self.state();
            let net = find_in(&st.nets, net_name)?;
            let live = st.live.get(id).cloned().unwrap_or_default();
            if live.endpoints.contains_key(&net.name) {
                return Err(NetError::Forbidden(format!(
                    "endpoint with name {} already exists in network {}",
                    live.name, net.name
                )));
            }
            let ifname = format!("eth{}", live.endpoints.len());
            let ep = Self::plan(&st, &net, ep, ifname)?;
            let entry = st.live.entry(id.to_owned()).or_default();
            entry.pid = pid;
            entry.endpoints.insert(net.name.clone(), ep.clone());
            (ep, net)
        };
        let first = ep.ifname == "eth0";
        let planned = vec![(net.name.clone(), ep.clone(), net.clone())];
        if let Err(e) = self.wire(id, pid, &planned, first).await {
            self.drop_endpoint(id, &net.name).await;
            return Err(e);
        }
        self.sync_firewall().await?;
        self.publish("connect", &net, Some(id));
        Ok(ep)
    }

    async fn drop_endpoint(&self, id: &str, net_name: &str) -> Option<EndpointRecord> {
        let ep = {
            let mut st = self.state();
            st.live
                .get_mut(id)
                .and_then(|l| l.endpoints.remove(net_name))
        }?;
        if let Ok(h) = link::connect() {
            let _ = link::delete(&h, &ep.host_veth).await;
        }
        Some(ep)
    }

    /// `docker network disconnect` of a running container.
    pub async fn disconnect_live(&self, id: &str, net: &NetworkRecord) -> NetResult<()> {
        if self.drop_endpoint(id, &net.name).await.is_some() {
            self.sync_firewall().await?;
            self.publish("disconnect", net, Some(id));
        }
        Ok(())
    }

    /// Publishes connect/disconnect for a stopped container's record change.
    pub fn announce(&self, action: &str, net: &NetworkRecord, container: &str) {
        self.publish(action, net, Some(container));
    }

    /// The DNS table of every live endpoint on a network with DNS.
    fn dns_entries(st: &super::State) -> Vec<DnsEntry> {
        let mut out = Vec::new();
        for (cid, l) in &st.live {
            for ep in l.endpoints.values() {
                let Some(ip) = ep.ip else { continue };
                let mut names = vec![
                    l.name.to_ascii_lowercase(),
                    cid[..12.min(cid.len())].to_string(),
                ];
                names.extend(ep.aliases.iter().map(|a| a.to_ascii_lowercase()));
                out.push(DnsEntry {
                    network: ep.network_id.clone(),
                    network_name: st
                        .nets
                        .get(&ep.network_id)
                        .map(|n| n.name.clone())
                        .unwrap_or_default(),
                    names,
                    ip,
                    ip6: ep.ip6,
                });
            }
        }
        out.sort_by_key(|e| e.ip);
        out
    }
}

impl NetworkService {
    /// The networks with DNS that container `container` is on.
    fn dns_networks(st: &super::State, container: &str) -> Vec<String> {
        let Some(me) = st.live.get(container) else {
            return Vec::new();
        };
        me.endpoints
            .values()
            .filter(|e| st.nets.get(&e.network_id).is_some_and(|n| n.has_dns()))
            .map(|e| e.network_id.clone())
            .collect()
    }
}

impl Names for NetworkService {
    fn resolve(&self, container: &str, name: &str) -> Vec<std::net::IpAddr> {
        let st = self.state();
        let nets = Self::dns_networks(&st, container);
        lookup(&Self::dns_entries(&st), &nets, name)
    }

    fn reverse(&self, container: &str, ip: std::net::IpAddr) -> Option<String> {
        let st = self.state();
        let nets = Self::dns_networks(&st, container);
        super::dns::table::reverse(&Self::dns_entries(&st), &nets, ip)
    }

    fn upstreams(&self, container: &str) -> Vec<String> {
        self.state()
            .live
            .get(container)
            .map(|l| l.upstreams.clone())
            .unwrap_or_default()
    }
}
