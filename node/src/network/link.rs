//! rtnetlink helpers: bridges, veth pairs, addresses, routes. Each takes a
//! [`Handle`] opened in the namespace it works on (see `netns.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use netlink_packet_route::address::{AddressAttribute, AddressFlag};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, IpVersion};

/// A netlink failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct LinkError {
    /// What was being done.
    pub context: String,
    /// Cause.
    #[source]
    pub source: rtnetlink::Error,
}

/// Result alias.
pub type LinkResult<T> = Result<T, LinkError>;

fn ctx(c: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let context = c.into();
    move |source| LinkError { context, source }
}

fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.code.map(|c| c.get()) == Some(-errno))
}

/// Opens a netlink connection in the current thread's namespace and spawns
/// its driver on the current runtime.
pub fn connect() -> std::io::Result<Handle> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    Ok(handle)
}

/// The index of link `name`, if it exists.
pub async fn index_of(h: &Handle, name: &str) -> LinkResult<Option<u32>> {
    let mut s = h.link().get().match_name(name.to_owned()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
        Err(e) => Err(ctx(format!("looking up {name}"))(e)),
    }
}

/// Creates bridge `name` if missing, gives it `addr` (gateway/prefix) and
/// `mtu` (when not 0), and sets it up. Idempotent.
pub async fn ensure_bridge(h: &Handle, name: &str, addr: Ipv4Net, mtu: u32) -> LinkResult<u32> {
    let idx = match index_of(h, name).await? {
        Some(i) => i,
        None => {
            match h.link().add().bridge(name.to_owned()).execute().await {
                Ok(()) => {}
                Err(e) if is_errno(&e, libc::EEXIST) => {}
                Err(e) => return Err(ctx(format!("creating bridge {name}"))(e)),
            }
            index_of(h, name).await?.ok_or_else(|| LinkError {
                context: format!("bridge {name} vanished"),
                source: rtnetlink::Error::RequestFailed,
            })?
        }
    };
    let mut set = h.link().set(idx).up();
    if mtu > 0 {
        set = set.mtu(mtu);
    }
    set.execute()
        .await
        .map_err(ctx(format!("setting {name} up")))?;
    add_address(h, idx, IpAddr::V4(addr.addr()), addr.prefix_len()).await?;
    Ok(idx)
}

/// Adds an address; one already there is fine. IPv6 addresses skip
/// duplicate address detection (`nodad`, as dockerd adds them): the
/// addresses come from our IPAM, and a tentative address would not answer
/// for the first seconds of the container's life.
pub async fn add_address(h: &Handle, idx: u32, ip: IpAddr, prefix: u8) -> LinkResult<()> {
    let mut req = h.address().add(idx, ip, prefix);
    if ip.is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(vec![AddressFlag::Nodad]));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
        Err(e) => Err(ctx(format!("adding address {ip}/{prefix}"))(e)),
    }
}

/// Deletes link `name` if it exists.
pub async fn delete(h: &Handle, name: &str) -> LinkResult<()> {
    if let Some(idx) = index_of(h, name).await? {
        let h = h.clone();
        match h.link().del(idx).execute().await {
            Ok(()) => {}
            Err(e) if is_errno(&e, libc::ENODEV) => {}
            Err(e) => return Err(ctx(format!("deleting {name}"))(e)),
        }
    }
    Ok(())
}

/// Creates a veth pair, plugs `host` into `bridge` and moves `peer` into
/// the network namespace of process `pid`.
pub async fn veth_into(
    h: &Handle,
    host: &str,
    peer: &str,
    bridge: u32,
    mtu: u32,
    pid: u32,
) -> LinkResult<()> {
    h.link()
        .add()
        .veth(host.to_owned(), peer.to_owned())
        .execute()
        .await
        .map_err(ctx(format!("creating veth {host}")))?;
    let res = async {
        let hi = index_of(h, host).await?.ok_or_else(|| LinkError {
            context: format!("veth {host} vanished"),
            source: rtnetlink::Error::RequestFailed,
        })?;
        let pi = index_of(h, peer).await?.ok_or_else(|| LinkError {
            context: format!("veth {peer} vanished"),
            source: rtnetlink::Error::RequestFailed,
        })?;
        if mtu > 0 {
            h.link()
                .set(hi)
                .mtu(mtu)
                .execute()
                .await
                .map_err(ctx("veth mtu"))?;
            h.link()
                .set(pi)
                .mtu(mtu)
                .execute()
                .await
                .map_err(ctx("veth mtu"))?;
        }
        h.link()
            .set(hi)
            .controller(bridge)
            .up()
            .execute()
            .await
            .map_err(ctx(format!("plugging {host} into the bridge")))?;
        h.link()
            .set(pi)
            .setns_by_pid(pid)
            .execute()
            .await
            .map_err(ctx(format!("moving {peer} into the container")))?;
        Ok(())
    }
    .await;
    if res.is_err() {
        let _ = delete(h, host).await;
    }
    res
}

/// A container interface's addresses and default routes.
#[derive(Debug, Clone)]
pub struct InsideAddrs {
    /// IPv4 address and prefix.
    pub addr: Ipv4Net,
    /// IPv4 default route (first network only).
    pub gateway: Option<Ipv4Addr>,
    /// IPv6 address (dual-stack networks).
    pub addr6: Option<Ipv6Net>,
    /// IPv6 default route.
    pub gateway6: Option<Ipv6Addr>,
}

/// Adds the IPv6 gateway address of a dual-stack bridge.
pub async fn add_bridge_v6(h: &Handle, name: &str, addr: Ipv6Net) -> LinkResult<()> {
    let idx = index_of(h, name).await?.ok_or_else(|| LinkError {
        context: format!("bridge {name} missing"),
        source: rtnetlink::Error::RequestFailed,
    })?;
    add_address(h, idx, IpAddr::V6(addr.addr()), addr.prefix_len()).await
}

/// Inside the container's namespace: renames `peer` to `ifname`, sets its
/// MAC and addresses, brings it up and, for the first network, adds the
/// default routes through the gateways.
pub async fn configure_inside(
    h: &Handle,
    peer: &str,
    ifname: &str,
    mac: [u8; 6],
    a: &InsideAddrs,
) -> LinkResult<()> {
    let (addr, gateway) = (a.addr, a.gateway);
    let idx = index_of(h, peer).await?.ok_or_else(|| LinkError {
        context: format!("{peer} not in the container"),
        source: rtnetlink::Error::RequestFailed,
    })?;
    h.link()
        .set(idx)
        .name(ifname.to_owned())
        .address(mac.to_vec())
        .execute()
        .await
        .map_err(ctx(format!("naming {ifname}")))?;
    h.link()
        .set(idx)
        .up()
        .execute()
        .await
        .map_err(ctx("interface up"))?;
    add_address(h, idx, IpAddr::V4(addr.addr()), addr.prefix_len()).await?;
    if let Some(gw) = gateway {
        h.route()
            .add()
            .v4()
            .gateway(gw)
            .execute()
            .await
            .map_err(ctx(format!("default route via {gw}")))?;
    }
    if let Some(a6) = a.addr6 {
        add_address(h, idx, IpAddr::V6(a6.addr()), a6.prefix_len()).await?;
    }
    if let Some(gw) = a.gateway6 {
        h.route()
            .add()
            .v6()
            .gateway(gw)
            .execute()
            .await
            .map_err(ctx(format!("default IPv6 route via {gw}")))?;
    }
    Ok(())
}

/// Every IPv4 destination prefix routed in this namespace (the default
/// route excluded), and the names of the links carrying them.
pub async fn routes_v4(h: &Handle) -> LinkResult<Vec<(Ipv4Net, u32)>> {
    let mut s = h.route().get(IpVersion::V4).execute();
    let mut out = Vec::new();
    while let Some(m) = s.try_next().await.map_err(ctx("listing routes"))? {
        let len = m.header.destination_prefix_length;
        if len == 0 {
            continue;
        }
        let mut dst = None;
        let mut oif = 0;
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = Some(*ip),
                RouteAttribute::Oif(i) => oif = *i,
                _ => {}
            }
        }
        if let Some(ip) = dst
            && let Ok(n) = Ipv4Net::new(ip, len)
        {
            // Local and broadcast entries of the local table are host
            // addresses, not networks in use.
            if len < 32 {
                out.push((n.trunc(), oif));
            }
        }
    }
    Ok(out)
}

/// The names of links whose master is `bridge`.
pub async fn ports_of(h: &Handle, bridge: u32) -> LinkResult<Vec<String>> {
    let mut s = h.link().get().execute();
    let mut out = Vec::new();
    while let Some(m) = s.try_next().await.map_err(ctx("listing links"))? {
        let mut name = None;
        let mut master = None;
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Controller(c) => master = Some(*c),
                _ => {}
            }
        }
        if master == Some(bridge)
            && let Some(n) = name
        {
            out.push(n);
        }
    }
    Ok(out)
}
