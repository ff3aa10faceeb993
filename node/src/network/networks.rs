//! Network verbs: the predefined networks, create, remove, prune.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::model::{Driver, NetworkRecord};
use super::{NetError, NetResult, NetworkService, find_in, ipam, link};

/// Bridge driver options Shoal implements (dockerd's names).
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// MTU of the bridge and its veths.
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
/// Inter-container connectivity.
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
/// Outbound masquerade.
pub const OPT_MASQ: &str = "com.docker.network.bridge.enable_ip_masquerade";

/// One `IPAM.Config` entry as given.
#[derive(Debug, Clone, Default)]
pub struct IpamEntry {
    /// `--subnet`.
    pub subnet: Option<String>,
    /// `--gateway`.
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
    /// `--aux-address`: names and addresses the IPAM keeps for itself.
    pub aux: HashMap<String, String>,
}

/// `POST /networks/create`, parsed.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    /// Name.
    pub name: String,
    /// Driver (`bridge` when empty).
    pub driver: String,
    /// `--internal`.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// `--ipv6`.
    pub enable_ipv6: bool,
    /// `--ipam-driver`.
    pub ipam_driver: String,
    /// `--subnet` etc.
    pub ipam: Vec<IpamEntry>,
    /// `--ipam-opt`.
    pub ipam_options: HashMap<String, String>,
    /// `--opt`.
    pub options: HashMap<String, String>,
    /// `--label`.
    pub labels: HashMap<String, String>,
    /// `--ingress`, `--config-only`, `--config-from`, `--scope swarm`: refused.
    pub unsupported: Vec<&'static str>,
}

/// `--aux-address name=ip` of the IPv4 entry: addresses of `subnet` the
/// IPAM reserves (libnetwork's rules: inside the subnet, not the gateway).
fn parse_aux(
    given: &HashMap<String, String>,
    subnet: &Ipv4Net,
    gateway: Ipv4Addr,
) -> NetResult<BTreeMap<String, Ipv4Addr>> {
    let host =
        |ip: &Ipv4Addr| subnet.contains(ip) && *ip != subnet.network() && *ip != subnet.broadcast();
    parse_aux_in(given, "IPv4", host, &subnet.to_string(), gateway)
}

/// The same for the IPv6 entry.
fn parse_aux6(
    given: &HashMap<String, String>,
    subnet: &Ipv6Net,
    gateway: Ipv6Addr,
) -> NetResult<BTreeMap<String, Ipv6Addr>> {
    let host = |ip: &Ipv6Addr| subnet.contains(ip) && *ip != subnet.network();
    parse_aux_in(given, "IPv6", host, &subnet.to_string(), gateway)
}

/// The checks both families share: each value parses as an address of the
/// family, is a `host` of the subnet and is not the gateway.
fn parse_aux_in<A>(
    given: &HashMap<String, String>,
    family: &str,
    host: impl Fn(&A) -> bool,
    subnet: &str,
    gateway: A,
) -> NetResult<BTreeMap<String, A>>
where
    A: std::str::FromStr + PartialEq + Copy + std::fmt::Display,
{
    let mut out = BTreeMap::new();
    for (name, v) in given {
        let ip: A = v.parse().map_err(|_| {
            NetError::Invalid(format!(
                "invalid auxiliary address {name}={v}: not an {family} address"
            ))
        })?;
        if !host(&ip) {
            return Err(NetError::Invalid(format!(
                "auxiliary address: ({name}:{ip}) must belong to the master pool: {subnet}"
            )));
        }
        if ip == gateway {
            return Err(NetError::Invalid(format!(
                "auxiliary address {name}={ip} is the gateway address"
            )));
        }
        out.insert(name.clone(), ip);
    }
    Ok(out)
}

fn parse_bool_opt(opts: &HashMap<String, String>, key: &str) -> NetResult<bool> {
    match opts.get(key).map(|s| s.as_str()) {
        None => Ok(true),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(NetError::Invalid(format!(
            "failed to parse {key} value: invalid syntax: {v:?}"
        ))),
    }
}

fn parse_mtu(opts: &HashMap<String, String>, default: u32) -> NetResult<u32> {
    match opts.get(OPT_MTU) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|m| (68..=65535).contains(m))
            .ok_or_else(|| NetError::Invalid(format!("invalid MTU number: {v}"))),
    }
}

/// The IPv6 side of a dual-stack network, as planned at create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan6 {
    /// The subnet.
    pub subnet: Ipv6Net,
    /// The bridge's address.
    pub gateway: Ipv6Addr,
    /// `--ip-range`.
    pub range: Option<Ipv6Net>,
    /// Given by the user (else from the daemon's ULA pool).
    pub user: bool,
}

/// Splits `IPAM.Config` into the IPv4 entry (possibly empty) and the IPv6
/// one: at most one of each, told apart by the subnet's family, as dockerd
/// does.
pub fn split_ipam(entries: &[IpamEntry]) -> NetResult<(IpamEntry, Option<IpamEntry>)> {
    let mut v4: Option<IpamEntry> = None;
    let mut v6: Option<IpamEntry> = None;
    for e in entries {
        let is6 = e.subnet.as_deref().is_some_and(|s| s.contains(':'));
        let slot = if is6 { &mut v6 } else { &mut v4 };
        if slot.is_some() {
            return Err(NetError::Invalid(format!(
                "more than one IPv{} subnet per network is not supported by this engine yet",
                if is6 { 6 } else { 4 }
            )));
        }
        *slot = Some(e.clone());
    }
    Ok((v4.unwrap_or_default(), v6))
}

/// Checks a user's IPv6 IPAM entry (pure).
pub fn parse_ipam6(e: &IpamEntry) -> NetResult<Plan6> {
    let sub = e.subnet.as_deref().unwrap_or_default();
    let subnet: Ipv6Net = sub
        .parse()
        .map_err(|_| NetError::Invalid(format!("invalid CIDR address: {sub}")))?;
    if subnet.trunc() != subnet {
        return Err(NetError::Invalid(format!(
            "invalid subnet {subnet}: it should be {}",
            subnet.trunc()
        )));
    }
    if subnet.prefix_len() > 124 {
        return Err(NetError::Invalid(format!(
            "invalid subnet {subnet}: the prefix is too long for a network"
        )));
    }
    let range = match e.ip_range.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => {
            let r: Ipv6Net = r
                .parse()
                .map_err(|_| NetError::Invalid(format!("invalid CIDR address: {r}")))?;
            if !(subnet.contains(&r.network()) && subnet.contains(&r.broadcast())) {
                return Err(NetError::Invalid(format!(
                    "invalid ip-range {r}: it must be within the subnet {subnet}"
                )));
            }
            Some(r)
        }
        None => None,
    };
    let gateway = match e.gateway.as_deref().filter(|s| !s.is_empty()) {
        Some(g) => {
            let g: Ipv6Addr = g
                .parse()
                .map_err(|_| NetError::Invalid(format!("invalid gateway address {g}")))?;
            if !subnet.contains(&g) {
                return Err(NetError::Invalid(format!(
                    "invalid gateway {g}: it must be within the subnet {subnet}"
                )));
            }
            g
        }
        None => ipam::first_host6(&subnet),
    };
    Ok(Plan6 {
        subnet,
        gateway,
        range,
        user: true,
    })
}

fn new_id() -> String {
    crate::engine::names::new_id()
}

impl NetworkService {
    /// `bridge`, `host` and `none`, created on first start; the default
    /// bridge follows the daemon's `--bridge`/`--bip`/`--fixed-cidr`.
    pub(crate) async fn ensure_predefined(&self) -> NetResult<()> {
        for (name, driver) in [("host", Driver::Host), ("none", Driver::Null)] {
            if self.find(name).is_err() {
                let rec = NetworkRecord {
                    id: new_id(),
                    name: name.into(),
                    driver,
                    created: chrono::Utc::now(),
                    bridge: String::new(),
                    subnet: None,
                    gateway: None,
                    ip_range: None,
                    user_ipam: false,
                    internal: false,
                    icc: true,
                    masquerade: true,
                    mtu: 0,
                    attachable: false,
                    labels: HashMap::new(),
                    options: HashMap::new(),
                    ipam_options: HashMap::new(),
                    is_default_bridge: false,
                    enable_ipv6: false,
                    subnet6: None,
                    gateway6: None,
                    ip_range6: None,
                    user_ipam6: false,
                    aux: BTreeMap::new(),
                    aux6: BTreeMap::new(),
                };
                self.inner.store.save(&rec)?;
                self.state().nets.insert(rec.id.clone(), rec);
            }
        }
        let cfg = self.cfg().clone();
        let existing = self.find("bridge").ok();
        if cfg.bridge == "none" {
            if let Some(old) = existing {
                self.inner.store.remove(&old.id)?;
                self.state().nets.remove(&old.id);
            }
            return Ok(());
        }
        let (subnet, gateway) = match cfg.bip {
            Some(bip) => (bip.trunc(), bip.addr()),
            None => match &existing {
                Some(old) if old.bridge == cfg.bridge && old.subnet.is_some() => (
                    old.subnet.unwrap_or_default(),
                    old.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
                ),
                _ => {
                    let mut taken = self.taken_subnets().await?;
                    // Our own bridge's route (from an earlier start) is not a conflict.
                    if let Some(old) = &existing {
                        taken.retain(|t| Some(*t) != old.subnet);
                    }
                    let h = link::connect().map_err(|e| NetError::System(e.to_string()))?;
                    if let Some(idx) = link::index_of(&h, &cfg.bridge).await? {
                        let mine: Vec<Ipv4Net> = link::routes_v4(&h)
                            .await?
                            .into_iter()
                            .filter(|(_, oif)| *oif == idx)
                            .map(|(n, _)| n)
                            .collect();
                        taken.retain(|t| !mine.contains(t));
                    }
                    let s = ipam::pick_subnet(&cfg.pools, &taken).ok_or_else(|| {
                        NetError::System(
                            "could not find a free address pool for the default bridge".into(),
                        )
                    })?;
                    (s, ipam::first_host(&s))
                }
            },
        };
        // --ipv6: --fixed-cidr-v6, else the subnet of an earlier start, else
        // the first free /64 of the daemon's ULA pool.
        let v6 = if cfg.ipv6 {
            let s6 = match (cfg.fixed_cidr_v6, existing.as_ref().and_then(|o| o.subnet6)) {
                (Some(s), _) => s,
                (None, Some(old)) => old,
                (None, None) => {
                    let taken: Vec<Ipv6Net> = self
                        .state()
                        .nets
                        .values()
                        .filter_map(|n| n.subnet6)
                        .collect();
                    ipam::pick_subnet6(&self.inner.ula, &taken).ok_or_else(|| {
                        NetError::System(
                            "could not find a free IPv6 subnet for the default bridge".into(),
                        )
                    })?
                }
            };
            Some((s6, ipam::first_host6(&s6)))
        } else {
            None
        };
        let mut options = HashMap::new();
        options.insert(
            "com.docker.network.bridge.default_bridge".into(),
            "true".into(),
        );
        options.insert(OPT_ICC.into(), "true".into());
        options.insert(OPT_MASQ.into(), "true".into());
        options.insert(
            "com.docker.network.bridge.host_binding_ipv4".into(),
            "0.0.0.0".into(),
        );
        options.insert(OPT_BRIDGE_NAME.into(), cfg.bridge.clone());
        options.insert(
            OPT_MTU.into(),
            if cfg.mtu == 0 { 1500 } else { cfg.mtu }.to_string(),
        );
        let rec = NetworkRecord {
            id: existing
                .as_ref()
                .map(|e| e.id.clone())
                .unwrap_or_else(new_id),
            name: "bridge".into(),
            driver: Driver::Bridge,
            created: existing
                .as_ref()
                .map(|e| e.created)
                .unwrap_or_else(chrono::Utc::now),
            bridge: cfg.bridge.clone(),
            subnet: Some(subnet),
            gateway: Some(gateway),
            ip_range: cfg.fixed_cidr,
            user_ipam: false,
            internal: false,
            icc: true,
            masquerade: true,
            mtu: cfg.mtu,
            attachable: false,
            labels: HashMap::new(),
            options,
            ipam_options: HashMap::new(),
            is_default_bridge: true,
            enable_ipv6: cfg.ipv6,
            subnet6: v6.map(|(s, _)| s),
            gateway6: v6.map(|(_, g)| g),
            ip_range6: None,
            // As with --ip, dockerd takes no --ip6 on the default bridge.
            user_ipam6: false,
            aux: BTreeMap::new(),
            aux6: BTreeMap::new(),
        };
        if let Some(old) = &existing
            && old.bridge != rec.bridge
        {
            // The device was renamed by config: the old one is ours to remove.
            let h = link::connect().map_err(|e| NetError::System(e.to_string()))?;
            let _ = link::delete(&h, &old.bridge).await;
        }
        self.inner.store.save(&rec)?;
        self.state().nets.insert(rec.id.clone(), rec);
        Ok(())
    }

    /// The IPv6 subnet of a new `--ipv6` network: the user's, or the first
    /// free /64 of the daemon's ULA pool.
    fn plan_subnet6(&self, entry: Option<&IpamEntry>) -> NetResult<Plan6> {
        let st = self.state();
        let taken: Vec<Ipv6Net> = st.nets.values().filter_map(|n| n.subnet6).collect();
        if let Some(e) = entry {
            let p = parse_ipam6(e)?;
            if taken.iter().any(|o| ipam::overlaps6(o, &p.subnet)) {
                return Err(NetError::Forbidden(
                    "invalid pool request: Pool overlaps with other one on this address space"
                        .into(),
                ));
            }
            return Ok(p);
        }
        let pool = self.inner.ula;
        let subnet = ipam::pick_subnet6(&pool, &taken).ok_or_else(|| {
            NetError::Invalid(
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into(),
            )
        })?;
        Ok(Plan6 {
            subnet,
            gateway: ipam::first_host6(&subnet),
            range: None,
            user: false,
        })
    }

    /// `docker network create`. Returns the new network.
    #[tracing::instrument(skip_all, fields(network.name = %req.name))]
    pub async fn create(&self, req: CreateNetwork) -> NetResult<NetworkRecord> {
        if req.name.is_empty() {
            return Err(NetError::Invalid("network name is required".into()));
        }
        if let Some(what) = req.unsupported.first() {
            return Err(NetError::Invalid(format!(
                "{what} is not supported by this engine yet"
            )));
        }
        if ["bridge", "host", "none"].contains(&req.name.as_str()) {
            return Err(NetError::Forbidden(format!(
                "operation is not permitted on predefined {} network",
                req.name
            )));
        }
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        match driver {
            "bridge" => {}
            "host" | "null" => {
                return Err(NetError::Forbidden(format!(
                    "only one instance of \"{driver}\" network is allowed"
                )));
            }
            other => {
                return Err(NetError::NotFound(format!("plugin \"{other}\" not found"))).map_err(
                    |e| match e {
                        NetError::NotFound(m) => NetError::Invalid(m),
                        e => e,
                    },
                );
            }
        }
        if !(req.ipam_driver.is_empty() || req.ipam_driver == "default") {
            return Err(NetError::Invalid(format!(
                "IPAM driver {} is not supported by this engine",
                req.ipam_driver
            )));
        }
        if !req.ipam_options.is_empty() {
            return Err(NetError::Invalid(
                "--ipam-opt is not supported by this engine yet".into(),
            ));
        }
        for k in req.options.keys() {
            if ![OPT_BRIDGE_NAME, OPT_MTU, OPT_ICC, OPT_MASQ].contains(&k.as_str()) {
                return Err(NetError::Invalid(format!(
                    "network option {k} is not supported by this engine"
                )));
            }
        }
        let icc = parse_bool_opt(&req.options, OPT_ICC)?;
        let masquerade = parse_bool_opt(&req.options, OPT_MASQ)?;
        let mtu = parse_mtu(&req.options, self.cfg().mtu)?;
        let (entry, entry6) = split_ipam(&req.ipam)?;
        if entry6.is_some() && !req.enable_ipv6 {
            return Err(NetError::Invalid(
                "an IPv6 subnet was given but IPv6 is not enabled on the network (--ipv6)".into(),
            ));
        }
        let parse_net = |s: &str| -> NetResult<Ipv4Net> {
            if s.contains(':') {
                return Err(NetError::Invalid(format!(
                    "invalid IPv4 address range {s}: an IPv6 range needs an IPv6 --subnet"
                )));
            }
            s.parse::<Ipv4Net>()
                .map_err(|_| NetError::Invalid(format!("invalid CIDR address: {s}")))
        };
        let user_subnet = entry
            .subnet
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_net)
            .transpose()?;
        let ip_range = entry
            .ip_range
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_net)
            .transpose()?;
        let gateway = match entry.gateway.as_deref().filter(|s| !s.is_empty()) {
            Some(g) => Some(
                g.parse::<Ipv4Addr>()
                    .map_err(|_| NetError::Invalid(format!("invalid gateway address {g}")))?,
            ),
            None => None,
        };
        if user_subnet.is_none() && (ip_range.is_some() || gateway.is_some()) {
            return Err(NetError::Invalid(
                "ip-range and gateway require a subnet (--subnet)".into(),
            ));
        }
        let taken = self.taken_subnets().await?;
        let subnet = match user_subnet {
            Some(s) => {
                if s.trunc() != s {
                    return Err(NetError::Invalid(format!(
                        "invalid subnet {s}: it should be {}",
                        s.trunc()
                    )));
                }
                let st = self.state();
                if st.nets.values().filter_map(|n| n.subnet).any(|o| ipam::overlaps(&o, &s)) {
                    return Err(NetError::Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space"
                            .into(),
                    ));
                }
                s
            }
            None => ipam::pick_subnet(&self.cfg().pools, &taken).ok_or_else(|| {
                NetError::Invalid(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                )
            })?,
        };
        if let Some(r) = ip_range
            && !(subnet.contains(&r.network()) && subnet.contains(&r.broadcast()))
        {
            return Err(NetError::Invalid(format!(
                "invalid ip-range {r}: it must be within the subnet {subnet}"
            )));
        }
        if let Some(g) = gateway
            && !subnet.contains(&g)
        {
            return Err(NetError::Invalid(format!(
                "invalid gateway {g}: it must be within the subnet {subnet}"
            )));
        }
        let v6 = if req.enable_ipv6 {
            Some(self.plan_subnet6(entry6.as_ref())?)
        } else {
            None
        };
        let gateway = gateway.unwrap_or_else(|| ipam::first_host(&subnet));
        let aux = parse_aux(&entry.aux, &subnet, gateway)?;
        let aux6 = match (&entry6, &v6) {
            (Some(e), Some(p)) => parse_aux6(&e.aux, &p.subnet, p.gateway)?,
            _ => Default::default(),
        };
        let id = new_id();
        let bridge = req
            .options
            .get(OPT_BRIDGE_NAME)
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
            return Err(NetError::Invalid(format!(
                "invalid bridge name: {bridge:?}"
            )));
        }
        let rec = NetworkRecord {
            id,
            name: req.name.clone(),
            driver: Driver::Bridge,
            created: chrono::Utc::now(),
            bridge,
            subnet: Some(subnet),
            gateway: Some(gateway),
            ip_range,
            user_ipam: user_subnet.is_some(),
            internal: req.internal,
            icc,
            masquerade,
            mtu,
            attachable: req.attachable,
            labels: req.labels.clone(),
            options: req.options.clone(),
            ipam_options: req.ipam_options.clone(),
            is_default_bridge: false,
            enable_ipv6: v6.is_some(),
            subnet6: v6.as_ref().map(|v| v.subnet),
            gateway6: v6.as_ref().map(|v| v.gateway),
            ip_range6: v6.as_ref().and_then(|v| v.range),
            user_ipam6: v6.as_ref().is_some_and(|v| v.user),
            aux,
            aux6,
        };
        {
            let mut st = self.state();
            if st.nets.values().any(|n| n.name == rec.name) {
                return Err(NetError::Conflict(format!(
                    "network with name {} already exists",
                    rec.name
                )));
            }
            if st
                .nets
                .values()
                .any(|n| !n.bridge.is_empty() && n.bridge == rec.bridge)
            {
                return Err(NetError::Conflict(format!(
                    "bridge name {} is already used by another network",
                    rec.bridge
                )));
            }
            if user_subnet.is_none()
                && st
                    .nets
                    .values()
                    .filter_map(|n| n.subnet)
                    .any(|o| ipam::overlaps(&o, &subnet))
            {
                return Err(NetError::Conflict(
                    "address pool taken concurrently, retry".into(),
                ));
            }
            if let Some(s6) = rec.subnet6
                && st
                    .nets
                    .values()
                    .filter_map(|n| n.subnet6)
                    .any(|o| ipam::overlaps6(&o, &s6))
            {
                return Err(if rec.user_ipam6 {
                    NetError::Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space"
                            .into(),
                    )
                } else {
                    NetError::Conflict("address pool taken concurrently, retry".into())
                });
            }
            st.nets.insert(rec.id.clone(), rec.clone());
        }
        let res = async {
            self.inner.store.save(&rec)?;
            self.bring_up(&rec).await?;
            self.sync_firewall().await
        }
        .await;
        if let Err(e) = res {
            self.state().nets.remove(&rec.id);
            let _ = self.inner.store.remove(&rec.id);
            if let Ok(h) = link::connect() {
                let _ = link::delete(&h, &rec.bridge).await;
            }
            return Err(e);
        }
        self.publish("create", &rec, None);
        Ok(rec)
    }

    /// `docker network rm`: refused for predefined networks and networks
    /// with live endpoints, as dockerd does.
    #[tracing::instrument(skip_all, fields(network = %key))]
    pub async fn remove(&self, key: &str) -> NetResult<()> {
        let rec = {
            let mut st = self.state();
            let rec = find_in(&st.nets, key)?;
            if rec.is_predefined() {
                return Err(NetError::Forbidden(format!(
                    "{} is a pre-defined network and cannot be removed",
                    rec.name
                )));
            }
            if st
                .live
                .values()
                .any(|l| l.endpoints.values().any(|e| e.network_id == rec.id))
            {
                return Err(NetError::Forbidden(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    rec.name, rec.id
                )));
            }
            st.nets.remove(&rec.id);
            rec
        };
        self.inner.store.remove(&rec.id)?;
        let h = link::connect().map_err(|e| NetError::System(e.to_string()))?;
        link::delete(&h, &rec.bridge).await?;
        self.sync_firewall().await?;
        self.publish("destroy", &rec, None);
        Ok(())
    }

    /// `docker network prune`: removes unused user networks matching
    /// `keep` (the filter); returns their names.
    pub async fn prune(&self, keep: impl Fn(&NetworkRecord) -> bool) -> NetResult<Vec<String>> {
        let candidates: Vec<NetworkRecord> = {
            let st = self.state();
            st.nets
                .values()
                .filter(|n| !n.is_predefined())
                .filter(|n| {
                    !st.live
                        .values()
                        .any(|l| l.endpoints.values().any(|e| e.network_id == n.id))
                })
                .filter(|n| keep(n))
                .cloned()
                .collect()
        };
        let mut removed = Vec::new();
        for n in candidates {
            match self.remove(&n.id).await {
                Ok(()) => removed.push(n.name),
                Err(e) => tracing::warn!(network = %n.name, error = %e, "prune"),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod aux_tests {
    use super::*;

    #[test]
    fn auxiliary_addresses_must_be_hosts_of_the_subnet() {
        let subnet: Ipv4Net = "10.9.0.0/24".parse().unwrap();
        let gw = Ipv4Addr::new(10, 9, 0, 1);
        let given = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        let ok = parse_aux(&given("router", "10.9.0.5"), &subnet, gw).unwrap();
        assert_eq!(ok["router"], Ipv4Addr::new(10, 9, 0, 5));
        let e = parse_aux(&given("far", "10.8.0.5"), &subnet, gw)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("must belong to the master pool: 10.9.0.0/24"),
            "{e}"
        );
        assert!(parse_aux(&given("gw", "10.9.0.1"), &subnet, gw).is_err());
        assert!(parse_aux(&given("bad", "fd00::1"), &subnet, gw).is_err());
        let s6: Ipv6Net = "fd00:9::/64".parse().unwrap();
        let g6: Ipv6Addr = "fd00:9::1".parse().unwrap();
        assert!(parse_aux6(&given("r", "fd00:9::5"), &s6, g6).is_ok());
        assert!(parse_aux6(&given("r", "fd00:8::5"), &s6, g6).is_err());
    }
}
