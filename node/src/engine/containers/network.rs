//! A container's networking as the engine drives it: endpoints chosen at
//! create, wired at start (after the task exists, before it runs),
//! released at exit; `docker network connect/disconnect`; the container's
//! `/etc/hosts` and `/etc/resolv.conf`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use shoal_api::models::{EndpointSettings, HostConfig, NetworkingConfig};

use crate::network::endpoints::AttachRequest;
use crate::network::etc_files::{self, DnsOverrides, HostsInput};
use crate::network::model::{Driver, EndpointRecord, NetworkRecord};
use crate::network::{NetError, ports};

use super::super::container::Container;
use super::super::record::ContainerRecord;
use super::super::{Engine, EngineError, EngineResult};

impl From<NetError> for EngineError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::NotFound(n) => EngineError::NoSuchNetwork(n),
            NetError::Invalid(m) => EngineError::Invalid(m),
            NetError::Conflict(m) => EngineError::Conflict(m),
            NetError::Forbidden(m) => EngineError::Forbidden(m),
            NetError::System(m) => EngineError::Network(m),
            NetError::Store(s) => EngineError::Network(s.to_string()),
        }
    }
}

/// An endpoint from the API's `EndpointSettings` (aliases, `--ip`, MAC).
fn endpoint_from(
    net: &NetworkRecord,
    s: Option<&EndpointSettings>,
    mac: Option<&str>,
) -> EngineResult<EndpointRecord> {
    let mut ep = EndpointRecord {
        network_id: net.id.clone(),
        ..Default::default()
    };
    if let Some(s) = s {
        ep.aliases = s.aliases.clone().unwrap_or_default();
        ep.links = s.links.clone().unwrap_or_default();
        if let Some(ip) = s
            .ipam_config
            .as_ref()
            .and_then(|i| i.ipv4_address.as_deref())
            .filter(|v| !v.is_empty())
        {
            ep.requested_ip = Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| EngineError::Invalid(format!("invalid IPv4 address: {ip}")))?,
            );
        }
        if let Some(ip) = s
            .ipam_config
            .as_ref()
            .and_then(|i| i.ipv6_address.as_deref())
            .filter(|v| !v.is_empty())
        {
            ep.requested_ip6 = Some(
                ip.parse::<std::net::Ipv6Addr>()
                    .map_err(|_| EngineError::Invalid(format!("invalid IPv6 address: {ip}")))?,
            );
        }
        if let Some(m) = s.mac_address.as_deref().filter(|m| !m.is_empty()) {
            ep.requested_mac = Some(m.to_ascii_lowercase());
        }
        if s.driver_opts.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(EngineError::Invalid(
                "endpoint driver options are not supported by this engine yet".into(),
            ));
        }
    }
    if ep.requested_mac.is_none()
        && let Some(m) = mac.filter(|m| !m.is_empty())
    {
        ep.requested_mac = Some(m.to_ascii_lowercase());
    }
    if let Some(m) = &ep.requested_mac
        && crate::network::ipam::parse_mac(m).is_none()
    {
        return Err(EngineError::Invalid(format!("invalid MAC address: {m}")));
    }
    if ep.requested_ip6.is_some() && !net.enable_ipv6 {
        return Err(EngineError::Invalid(format!(
            "invalid endpoint settings: --ip6 needs a network with IPv6 enabled ({})",
            net.name
        )));
    }
    if ep.requested_ip6.is_some() && !net.user_ipam6 {
        return Err(EngineError::Invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    if ep.requested_ip.is_some() && !net.user_ipam {
        return Err(EngineError::Invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    if net.is_default_bridge && !ep.aliases.is_empty() {
        return Err(EngineError::Invalid(
            "network-scoped alias is supported only for containers in user defined networks".into(),
        ));
    }
    Ok(ep)
}

/// Parses `--add-host` entries (`name:ip` or `name=ip`).
fn extra_hosts(
    host: &HostConfig,
    gateway: Option<Ipv4Addr>,
) -> EngineResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in host.extra_hosts.iter().flatten() {
        let (name, ip) = e
            .split_once('=')
            .or_else(|| e.split_once(':'))
            .ok_or_else(|| EngineError::Invalid(format!("invalid extra host: {e}")))?;
        let ip = if ip == "host-gateway" {
            gateway.map(|g| g.to_string()).ok_or_else(|| {
                EngineError::Invalid(
                    "host-gateway needs the default bridge or a network gateway".into(),
                )
            })?
        } else {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            ip.parse::<IpAddr>().map_err(|_| {
                EngineError::Invalid(format!("invalid IP address in add-host: {ip:?}"))
            })?;
            ip.to_string()
        };
        out.push((name.to_string(), ip));
    }
    Ok(out)
}

fn overrides(host: &HostConfig) -> DnsOverrides {
    DnsOverrides {
        servers: host.dns.clone().unwrap_or_default(),
        search: host.dns_search.clone().unwrap_or_default(),
        options: host.dns_options.clone().unwrap_or_default(),
    }
}

/// `--link name[:alias]` as (target, alias).
fn parse_link(l: &str) -> (String, String) {
    let l = l.trim_start_matches('/');
    match l.split_once(':') {
        Some((t, a)) => (t.to_string(), a.rsplit('/').next().unwrap_or(a).to_string()),
        None => (l.to_string(), l.to_string()),
    }
}

impl Engine {
    /// The network mode to record and the endpoints the container starts
    /// with, or a 4xx for what cannot be had.
    pub(crate) fn plan_networks(
        &self,
        host: &HostConfig,
        networking: Option<&NetworkingConfig>,
        mac: Option<&str>,
        disabled: bool,
    ) -> EngineResult<(String, BTreeMap<String, EndpointRecord>)> {
        let mut eps = BTreeMap::new();
        if disabled {
            return Ok(("none".into(), eps));
        }
        let mode = host.network_mode.clone().unwrap_or_default();
        let mut configs = networking
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        // The CLI keys the first endpoint by the mode as given ("default").
        if let Some(d) = configs.remove("default") {
            configs.entry("bridge".into()).or_insert(d);
        }
        let mode = match mode.as_str() {
            "" | "default" | "bridge" => "bridge".to_string(),
            m if m.starts_with("container:") => {
                let target = self.lookup(&m["container:".len()..])?;
                if host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
                    || host.publish_all_ports == Some(true)
                {
                    return Err(EngineError::Invalid(
                        "conflicting options: port publishing and the container type network mode"
                            .into(),
                    ));
                }
                return Ok((format!("container:{}", target.id), eps));
            }
            other => other.to_string(),
        };
        let net = match self.net().find(&mode) {
            Ok(n) => n,
            // dockerd creates the container and fails its start with the 404; a 404 on create
            // would make the CLI try to pull the image.
            Err(NetError::NotFound(_)) => {
                eps.insert(mode.clone(), EndpointRecord::default());
                return Ok((mode, eps));
            }
            Err(e) => return Err(e.into()),
        };
        if matches!(net.driver, Driver::Host | Driver::Null) {
            if host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
                && net.driver == Driver::Null
            {
                return Err(EngineError::Invalid(
                    "conflicting options: port publishing and the none network mode".into(),
                ));
            }
            if configs.len() > 1 {
                return Err(EngineError::Invalid(format!(
                    "container cannot be connected to network endpoints: {} and others",
                    net.name
                )));
            }
            return Ok((net.name.clone(), eps));
        }
        let first_cfg = configs
            .get(&mode)
            .or_else(|| configs.get(&net.name))
            .or_else(|| configs.get(&net.id));
        let first = endpoint_from(&net, first_cfg, mac)?;
        eps.insert(net.name.clone(), first);
        for (name, s) in &configs {
            if *name == mode || *name == net.name || *name == net.id {
                continue;
            }
            let other = self.net().find(name)?;
            if other.driver != Driver::Bridge {
                return Err(EngineError::Invalid(format!(
                    "container cannot be connected to {} and {}",
                    net.name, other.name
                )));
            }
            eps.insert(other.name.clone(), endpoint_from(&other, Some(s), None)?);
        }
        Ok((mode, eps))
    }

    /// Wires a created task to its networks and writes its network files.
    /// Returns the record as stored with the live endpoints and ports.
    pub(crate) async fn attach_network(
        &self,
        c: &Arc<Container>,
        pid: u32,
    ) -> EngineResult<ContainerRecord> {
        let mut rec = c.snapshot();
        let mode = rec.network_mode.clone();
        if rec.networks.is_empty()
            && !matches!(mode.as_str(), "host" | "none")
            && !mode.starts_with("container:")
        {
            // A record from before container networking: it joins its mode's network now.
            let net = self.net().find(&mode)?;
            let (_, r) = c.update(|r| {
                r.networks.insert(
                    net.name.clone(),
                    EndpointRecord {
                        network_id: net.id.clone(),
                        ..Default::default()
                    },
                );
            });
            rec = r;
        }
        let host_resolv = etc_files::host_resolv();
        let o = overrides(&rec.host_config);
        if rec.networks.is_empty() {
            self.write_net_files(&rec, &host_resolv)?;
            return Ok(rec);
        }
        let reqs = ports::requests(
            rec.host_config.port_bindings.as_ref(),
            rec.config.exposed_ports.as_ref(),
            rec.host_config.publish_all_ports == Some(true),
        )
        .map_err(EngineError::Invalid)?;
        // The network of the mode first (it gets the default route), then the others.
        let mut order: Vec<(String, EndpointRecord)> = rec.networks.clone().into_iter().collect();
        order.sort_by_key(|(n, _)| (*n != rec.network_mode, n.clone()));
        let attached = self
            .net()
            .attach(AttachRequest {
                container_id: rec.id.clone(),
                name: rec.name.clone(),
                pid,
                endpoints: order,
                ports: reqs,
                upstreams: etc_files::upstreams(&host_resolv, &o),
            })
            .await?;
        let (_, rec) = c.update(|r| {
            r.networks = attached.endpoints.clone();
            r.ports = attached.ports.clone();
        });
        self.persist(&rec).await?;
        if let Err(e) = self.write_net_files(&rec, &host_resolv) {
            self.release_network(c).await;
            return Err(e);
        }
        Ok(rec)
    }

    /// Takes a stopped container off its networks; its endpoints stay
    /// configured (for the next start) without addresses.
    pub(crate) async fn release_network(&self, c: &Arc<Container>) {
        self.net().detach(&c.id).await;
        let (_, rec) = c.update(|r| {
            for ep in r.networks.values_mut() {
                ep.endpoint_id.clear();
                ep.ip = None;
                ep.gateway = None;
                ep.ip6 = None;
                ep.gateway6 = None;
                ep.prefix6 = 0;
                ep.mac = None;
                ep.prefix = 0;
                ep.host_veth.clear();
                ep.ifname.clear();
            }
            r.ports.clear();
        });
        self.persist_or_log(&rec).await;
    }

    /// After a daemon restart, gives a still-running container's endpoints
    /// and ports back to the network service.
    pub(crate) async fn restore_network(&self, rec: &ContainerRecord) {
        if rec.networks.is_empty() {
            return;
        }
        let o = overrides(&rec.host_config);
        self.net()
            .restore(
                &rec.id,
                &rec.name,
                rec.state.pid,
                rec.networks.clone(),
                rec.ports.clone(),
                etc_files::upstreams(&etc_files::host_resolv(), &o),
            )
            .await;
    }

    /// `/etc/hosts` and `/etc/resolv.conf` from the live endpoints. Written
    /// in place, so the bind mounts of a created task see the new content.
    pub(crate) fn write_net_files(
        &self,
        rec: &ContainerRecord,
        host_resolv: &etc_files::Resolv,
    ) -> EngineResult<()> {
        let dir = self.container_dir(&rec.id);
        if rec.network_mode == "host" || rec.network_mode.starts_with("container:") {
            return Ok(());
        }
        let o = overrides(&rec.host_config);
        let mut order: Vec<&EndpointRecord> = rec.networks.values().collect();
        order.sort_by(|a, b| a.ifname.cmp(&b.ifname));
        let own_ip = order.first().and_then(|e| e.ip).map(IpAddr::V4);
        let own_ip6 = order.first().and_then(|e| e.ip6).map(IpAddr::V6);
        let default_gw = self
            .net()
            .find("bridge")
            .ok()
            .and_then(|b| b.gateway)
            .or_else(|| order.first().and_then(|e| e.gateway));
        let mut links = Vec::new();
        for l in rec.host_config.links.iter().flatten() {
            let (target, alias) = parse_link(l);
            let t = self.lookup(&target)?.snapshot();
            let ip = t.networks.values().find_map(|e| e.ip).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "Cannot link to a non running container: /{}",
                    t.name
                ))
            })?;
            let mut names = vec![alias.clone()];
            names.push(t.short_id().to_string());
            if t.name != alias {
                names.push(t.name.clone());
            }
            links.push((IpAddr::V4(ip), names));
        }
        let hostname = rec.config.hostname.clone().unwrap_or_default();
        let hosts = etc_files::hosts(&HostsInput {
            hostname,
            own_ip,
            own_ip6,
            extra: extra_hosts(&rec.host_config, default_gw)?,
            links,
        });
        std::fs::write(dir.join("hosts"), hosts).map_err(EngineError::io("writing hosts"))?;
        let dns_net = rec
            .networks
            .values()
            .any(|e| self.net().find(&e.network_id).is_ok_and(|n| n.has_dns()));
        let resolv = if dns_net {
            etc_files::resolv_embedded(host_resolv, &o)
        } else {
            etc_files::resolv_bridge(host_resolv, &o)
        };
        std::fs::write(dir.join("resolv.conf"), resolv)
            .map_err(EngineError::io("writing resolv.conf"))?;
        Ok(())
    }

    /// `docker network connect`: a running container gets the interface at
    /// once; a stopped one at its next start.
    #[tracing::instrument(skip_all, fields(container = %key, network = %net_key))]
    pub async fn network_connect(
        &self,
        net_key: &str,
        key: &str,
        settings: Option<EndpointSettings>,
    ) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let net = self.net().find(net_key)?;
        if matches!(net.driver, Driver::Host | Driver::Null)
            || rec.network_mode == "host"
            || rec.network_mode == "none"
            || rec.network_mode.starts_with("container:")
        {
            return Err(EngineError::Forbidden(
                "container cannot be disconnected from host network or connected to host network"
                    .to_string(),
            )
            .with_mode(&rec.network_mode, &net));
        }
        if rec.networks.contains_key(&net.name) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, net.name
            )));
        }
        let ep = endpoint_from(&net, settings.as_ref(), None)?;
        let ep = if rec.state.status.is_live() {
            self.net()
                .connect_live(&rec.id, rec.state.pid, &net.name, ep)
                .await?
        } else {
            self.net().announce("connect", &net, &rec.id);
            ep
        };
        let (_, rec) = c.update(|r| {
            r.networks.insert(net.name.clone(), ep.clone());
        });
        self.persist(&rec).await?;
        if rec.state.status.is_live() {
            let _ = self.write_net_files(&rec, &etc_files::host_resolv());
        }
        Ok(())
    }

    /// `docker network disconnect`.
    #[tracing::instrument(skip_all, fields(container = %key, network = %net_key))]
    pub async fn network_disconnect(
        &self,
        net_key: &str,
        key: &str,
        force: bool,
    ) -> EngineResult<()> {
        let net = self.net().find(net_key)?;
        let c = match self.lookup(key) {
            Ok(c) => c,
            Err(e) if force => {
                tracing::debug!(error = %e, "force disconnect of a missing container");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.networks.contains_key(&net.name) {
            return Err(EngineError::Forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, net.name
            )));
        }
        if rec.state.status.is_live() {
            self.net().disconnect_live(&rec.id, &net).await?;
        } else {
            self.net().announce("disconnect", &net, &rec.id);
        }
        let (_, rec) = c.update(|r| {
            r.networks.remove(&net.name);
        });
        self.persist(&rec).await?;
        Ok(())
    }

    /// The legacy link variables dockerd sets (`<ALIAS>_NAME`, `<ALIAS>_PORT_*`,
    /// `<ALIAS>_ENV_*`) for each running link target.
    pub(crate) fn link_env(&self, rec: &ContainerRecord) -> Vec<String> {
        let mut out = Vec::new();
        for l in rec.host_config.links.iter().flatten() {
            let (target, alias) = parse_link(l);
            let Ok(t) = self.lookup(&target).map(|c| c.snapshot()) else {
                continue;
            };
            let Some(ip) = t.networks.values().find_map(|e| e.ip) else {
                continue;
            };
            let a = alias.to_ascii_uppercase().replace('-', "_");
            out.push(format!("{a}_NAME=/{}/{alias}", rec.name));
            let mut ports: Vec<(u16, String)> = t
                .config
                .exposed_ports
                .iter()
                .flat_map(|e| e.keys())
                .filter_map(|k| ports::parse_port_key(k).ok())
                .map(|(p, proto)| (p, proto.as_str().to_string()))
                .collect();
            ports.sort();
            if let Some((p, proto)) = ports.first() {
                out.push(format!("{a}_PORT={proto}://{ip}:{p}"));
            }
            for (p, proto) in &ports {
                let k = format!("{a}_PORT_{p}_{}", proto.to_ascii_uppercase());
                out.push(format!("{k}={proto}://{ip}:{p}"));
                out.push(format!("{k}_ADDR={ip}"));
                out.push(format!("{k}_PORT={p}"));
                out.push(format!("{k}_PROTO={proto}"));
            }
            for kv in t.config.env.iter().flatten() {
                let key = kv.split('=').next().unwrap_or("");
                if key != "HOME" && key != "PATH" && !key.is_empty() {
                    out.push(format!("{a}_ENV_{kv}"));
                }
            }
        }
        out
    }

    /// Containers whose records name network `id` (for inspect of stopped
    /// ones and for prune).
    pub fn containers_on(&self, id: &str) -> Vec<String> {
        self.all()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.networks.values().any(|e| e.network_id == id))
            .map(|r| r.id)
            .collect()
    }
}

trait WithMode {
    fn with_mode(self, mode: &str, net: &NetworkRecord) -> Self;
}

impl WithMode for EngineError {
    /// dockerd's texts for the two host/none/container cases.
    fn with_mode(self, mode: &str, net: &NetworkRecord) -> Self {
        if net.driver == Driver::Host || mode == "host" {
            self
        } else {
            EngineError::Forbidden(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network ({mode})"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_extra_hosts_parse() {
        assert_eq!(parse_link("web:w"), ("web".into(), "w".into()));
        assert_eq!(parse_link("/web:/me/w"), ("web".into(), "w".into()));
        assert_eq!(parse_link("web"), ("web".into(), "web".into()));
        let h = HostConfig {
            extra_hosts: Some(vec![
                "a:1.2.3.4".into(),
                "b=::1".into(),
                "gw:host-gateway".into(),
            ]),
            ..Default::default()
        };
        let got = extra_hosts(&h, Some(Ipv4Addr::new(10, 0, 0, 1))).unwrap();
        assert_eq!(got[0], ("a".into(), "1.2.3.4".into()));
        assert_eq!(got[1], ("b".into(), "::1".into()));
        assert_eq!(got[2], ("gw".into(), "10.0.0.1".into()));
        let bad = HostConfig {
            extra_hosts: Some(vec!["a:nope".into()]),
            ..Default::default()
        };
        assert!(extra_hosts(&bad, None).is_err());
    }
}
