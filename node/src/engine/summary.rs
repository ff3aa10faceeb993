//! Docker's views of a container record: the `docker ps` summary, the
//! inspect document, and the human-readable status text.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use shoal_api::models::{
    ContainerInspectResponse, ContainerState, ContainerSummary, ContainerSummaryHostConfig,
    ContainerSummaryNetworkSettings, DriverData, EndpointSettings, MountPoint, NetworkSettings,
};

use super::record::{ContainerRecord, Status};

/// Go's zero time, which dockerd prints for never-set timestamps.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn rfc3339(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| ZERO_TIME.to_owned())
}

/// go-units `HumanDuration`, which the Docker CLI and dockerd use in `Status`.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// The `health` filter's value for `rec`: its health status while it has
/// a health check, else `none`.
pub fn health_status(rec: &ContainerRecord) -> &str {
    match rec.state.health.as_ref() {
        Some(h) if super::containers::health_probe(&rec.config).is_some() => h.status.as_str(),
        _ => "none",
    }
}

/// `State.Health` in the API shape.
fn health_json(h: &super::record::HealthState) -> Option<shoal_api::models::Health> {
    let log: Vec<serde_json::Value> = h
        .log
        .iter()
        .map(|p| {
            serde_json::json!({
                "Start": p.start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "End": p.end.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "ExitCode": p.exit_code,
                "Output": p.output,
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "Status": h.status,
        "FailingStreak": h.failing_streak,
        "Log": log,
    }))
    .ok()
}

/// The `Status` column of `docker ps`.
pub fn status_text(rec: &ContainerRecord, now: DateTime<Utc>) -> String {
    let s = &rec.state;
    match s.status {
        Status::Created => "Created".into(),
        Status::Running | Status::Paused => {
            let up = human_duration(now - s.started_at.unwrap_or(now));
            if s.status == Status::Paused {
                format!("Up {up} (Paused)")
            } else {
                // dockerd appends the health to the status of a running container.
                match s.health.as_ref().map(|h| h.status.as_str()) {
                    Some("starting") => format!("Up {up} (health: starting)"),
                    Some(h) if !h.is_empty() => format!("Up {up} ({h})"),
                    _ => format!("Up {up}"),
                }
            }
        }
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(now - s.finished_at.unwrap_or(now))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(now - s.finished_at.unwrap_or(now))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// A volume's `Mounts` entry.
fn volume_point(vm: &super::containers::VolumeMount, mode: &str) -> MountPoint {
    let named = !vm.name.is_empty();
    MountPoint {
        typ: serde_json::from_value(serde_json::json!(if named { "volume" } else { "bind" })).ok(),
        name: named.then(|| vm.name.clone()),
        source: Some(vm.source.display().to_string()),
        destination: Some(vm.destination.clone()),
        driver: named.then(|| "local".to_owned()),
        mode: Some(mode.to_owned()),
        rw: Some(!vm.read_only),
        propagation: Some(if named {
            String::new()
        } else {
            "rprivate".into()
        }),
    }
}

/// Binds, volumes and mounts as `Mounts` shows them.
pub fn mount_points(rec: &ContainerRecord) -> Vec<MountPoint> {
    let mut out = Vec::new();
    let volume = |name: &str, dest: &str| {
        rec.volumes
            .iter()
            .find(|v| v.name == name && v.destination == dest)
    };
    for bind in rec.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = bind.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let mode = parts.get(2).copied().unwrap_or("").to_owned();
        if let Some(vm) = volume(parts[0], parts[1]) {
            out.push(volume_point(vm, &mode));
            continue;
        }
        out.push(MountPoint {
            typ: serde_json::from_value(serde_json::json!("bind")).ok(),
            source: Some(parts[0].to_owned()),
            destination: Some(parts[1].to_owned()),
            mode: Some(mode.clone()),
            rw: Some(!mode.split(',').any(|m| m == "ro")),
            propagation: Some("rprivate".into()),
            ..Default::default()
        });
    }
    for vm in rec.volumes.iter().filter(|v| v.engine_mounted) {
        out.push(volume_point(vm, ""));
    }
    for m in rec.host_config.mounts.iter().flatten() {
        if let Some(vm) = volume(
            m.source.as_deref().unwrap_or(""),
            m.target.as_deref().unwrap_or(""),
        ) {
            out.push(volume_point(vm, "z"));
            continue;
        }
        out.push(MountPoint {
            typ: m
                .typ
                .and_then(|t| serde_json::from_value(serde_json::json!(t.to_string())).ok()),
            source: m.source.clone().or_else(|| Some(String::new())),
            destination: m.target.clone(),
            mode: Some(String::new()),
            rw: Some(!m.read_only.unwrap_or(false)),
            propagation: Some(if m.typ.map(|t| t.to_string()) == Some("bind".into()) {
                "rprivate".into()
            } else {
                String::new()
            }),
            ..Default::default()
        });
    }
    out
}

fn endpoint(ep: &crate::network::model::EndpointRecord) -> EndpointSettings {
    let ipam = (ep.requested_ip.is_some() || ep.requested_ip6.is_some()).then(|| {
        shoal_api::models::EndpointIpamConfig {
            ipv4_address: ep.requested_ip.map(|ip| ip.to_string()),
            ipv6_address: ep.requested_ip6.map(|ip| ip.to_string()),
            ..Default::default()
        }
    });
    EndpointSettings {
        ipam_config: ipam,
        links: (!ep.links.is_empty()).then(|| ep.links.clone()),
        mac_address: Some(ep.mac.clone().unwrap_or_default()),
        aliases: (!ep.aliases.is_empty()).then(|| ep.aliases.clone()),
        driver_opts: None,
        gw_priority: Some(0),
        network_id: Some(ep.network_id.clone()),
        endpoint_id: Some(ep.endpoint_id.clone()),
        gateway: Some(ep.gateway.map(|g| g.to_string()).unwrap_or_default()),
        ip_address: Some(ep.ip.map(|g| g.to_string()).unwrap_or_default()),
        ip_prefix_len: Some(if ep.ip.is_some() {
            i64::from(ep.prefix)
        } else {
            0
        }),
        ipv6_gateway: Some(ep.gateway6.map(|g| g.to_string()).unwrap_or_default()),
        global_ipv6_address: Some(ep.ip6.map(|g| g.to_string()).unwrap_or_default()),
        global_ipv6_prefix_len: Some(if ep.ip6.is_some() {
            i64::from(ep.prefix6)
        } else {
            0
        }),
        dns_names: None,
    }
}

fn networks(rec: &ContainerRecord) -> HashMap<String, EndpointSettings> {
    let mut m = HashMap::new();
    if rec.networks.is_empty() && !rec.network_mode.starts_with("container:") {
        m.insert(rec.network_mode.clone(), EndpointSettings::default());
    }
    for (name, ep) in &rec.networks {
        let mut e = endpoint(ep);
        if ep.ip.is_some() && !ep.network_id.is_empty() && name != "bridge" {
            // dockerd lists the name and the short ID as DNS names on user networks.
            let mut names = vec![rec.name.clone(), rec.short_id().to_string()];
            names.extend(ep.aliases.iter().cloned());
            names.dedup();
            e.dns_names = Some(names);
        }
        m.insert(name.clone(), e);
    }
    m
}

/// `NetworkSettings.Ports`: every exposed or published port; unpublished
/// ones map to null, as dockerd shows them.
fn port_map(rec: &ContainerRecord) -> HashMap<String, Option<Vec<shoal_api::models::PortBinding>>> {
    let mut m: HashMap<String, Option<Vec<shoal_api::models::PortBinding>>> = HashMap::new();
    if !rec.state.status.is_live() {
        return m;
    }
    for k in rec.config.exposed_ports.iter().flat_map(|e| e.keys()) {
        m.entry(k.clone()).or_insert(None);
    }
    for p in &rec.ports {
        let key = format!("{}/{}", p.container_port, p.proto.as_str());
        m.entry(key)
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(shoal_api::models::PortBinding {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    m
}

/// `ps` Ports: published ones with their host side, exposed ones alone.
fn port_list(rec: &ContainerRecord) -> Vec<shoal_api::models::Port> {
    use shoal_api::models::{Port, PortTypeEnum};
    let typ = |p: &str| match p {
        "udp" => PortTypeEnum::UDP,
        "sctp" => PortTypeEnum::SCTP,
        _ => PortTypeEnum::TCP,
    };
    let mut out = Vec::new();
    if !rec.state.status.is_live() {
        return out;
    }
    for p in &rec.ports {
        out.push(Port {
            ip: Some(p.host_ip.to_string()),
            private_port: p.container_port,
            public_port: Some(p.host_port),
            typ: Some(typ(p.proto.as_str())),
        });
    }
    for k in rec.config.exposed_ports.iter().flat_map(|e| e.keys()) {
        if let Ok((port, proto)) = crate::network::ports::parse_port_key(k)
            && !rec
                .ports
                .iter()
                .any(|p| p.container_port == port && p.proto == proto)
        {
            out.push(Port {
                ip: None,
                private_port: port,
                public_port: None,
                typ: Some(typ(proto.as_str())),
            });
        }
    }
    out
}

/// One row of `docker ps`.
pub fn summary(rec: &ContainerRecord, size: Option<(i64, i64)>) -> ContainerSummary {
    let mut command = vec![rec.path.clone()];
    command.extend(rec.args.iter().cloned());
    ContainerSummary {
        id: Some(rec.id.clone()),
        names: Some(vec![format!("/{}", rec.name)]),
        image: rec.config.image.clone(),
        image_id: Some(rec.image_id.clone()),
        command: Some(command.join(" ")),
        created: Some(rec.created.timestamp()),
        ports: Some(port_list(rec)),
        size_rw: size.map(|s| s.0),
        size_root_fs: size.map(|s| s.1),
        labels: Some(rec.config.labels.clone().unwrap_or_default()),
        state: serde_json::from_value(serde_json::json!(rec.state.status.as_str())).ok(),
        status: Some(status_text(rec, Utc::now())),
        host_config: Some(ContainerSummaryHostConfig {
            network_mode: Some(rec.network_mode.clone()),
            ..Default::default()
        }),
        network_settings: Some(ContainerSummaryNetworkSettings {
            networks: Some(networks(rec)),
        }),
        mounts: Some(mount_points(rec)),
        ..Default::default()
    }
}

/// Paths of the per-container files, for inspect.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `/etc/resolv.conf` source.
    pub resolv_conf: String,
    /// `/etc/hostname` source.
    pub hostname: String,
    /// `/etc/hosts` source.
    pub hosts: String,
    /// json-file log.
    pub log: String,
}

/// `docker inspect` of a container.
pub fn inspect(
    rec: &ContainerRecord,
    paths: Paths,
    size: Option<(i64, i64)>,
) -> ContainerInspectResponse {
    let s = &rec.state;
    let state = ContainerState {
        status: serde_json::from_value(serde_json::json!(s.status.as_str())).ok(),
        running: Some(s.status.is_live()),
        paused: Some(s.status == Status::Paused),
        restarting: Some(s.status == Status::Restarting),
        oom_killed: Some(s.oom_killed),
        dead: Some(s.status == Status::Dead),
        pid: Some(if s.status.is_live() {
            i64::from(s.pid)
        } else {
            0
        }),
        exit_code: Some(s.exit_code),
        error: Some(s.error.clone()),
        started_at: Some(rfc3339(s.started_at)),
        finished_at: Some(rfc3339(s.finished_at)),
        health: s
            .health
            .as_ref()
            .filter(|_| super::containers::health_probe(&rec.config).is_some())
            .and_then(health_json),
    };
    // The legacy top-level fields describe the default bridge endpoint.
    let default_ep = rec.networks.get("bridge").cloned().unwrap_or_default();
    let live = rec.state.status.is_live();
    let sandbox = NetworkSettings {
        bridge: Some(String::new()),
        sandbox_id: Some(if live { rec.id.clone() } else { String::new() }),
        sandbox_key: Some(if live && !rec.networks.is_empty() {
            format!("/proc/{}/ns/net", rec.state.pid)
        } else {
            String::new()
        }),
        ports: Some(port_map(rec)),
        networks: Some(networks(rec)),
        endpoint_id: Some(default_ep.endpoint_id.clone()),
        gateway: Some(
            default_ep
                .gateway
                .map(|g| g.to_string())
                .unwrap_or_default(),
        ),
        ip_address: Some(default_ep.ip.map(|g| g.to_string()).unwrap_or_default()),
        ip_prefix_len: Some(if default_ep.ip.is_some() {
            i64::from(default_ep.prefix)
        } else {
            0
        }),
        mac_address: Some(default_ep.mac.clone().unwrap_or_default()),
        global_ipv6_address: Some(default_ep.ip6.map(|g| g.to_string()).unwrap_or_default()),
        global_ipv6_prefix_len: Some(if default_ep.ip6.is_some() {
            i64::from(default_ep.prefix6)
        } else {
            0
        }),
        ipv6_gateway: Some(
            default_ep
                .gateway6
                .map(|g| g.to_string())
                .unwrap_or_default(),
        ),
        link_local_ipv6_address: Some(String::new()),
        link_local_ipv6_prefix_len: Some(0),
        hairpin_mode: Some(false),
        ..Default::default()
    };
    ContainerInspectResponse {
        id: Some(rec.id.clone()),
        created: Some(rfc3339(Some(rec.created))),
        path: Some(rec.path.clone()),
        args: Some(rec.args.clone()),
        state: Some(state),
        image: Some(rec.image_id.clone()),
        resolv_conf_path: Some(paths.resolv_conf),
        hostname_path: Some(paths.hostname),
        hosts_path: Some(paths.hosts),
        log_path: Some(paths.log),
        name: Some(format!("/{}", rec.name)),
        restart_count: Some(rec.restart_count),
        driver: Some("overlayfs".into()),
        platform: Some("linux".into()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        exec_ids: if rec.exec_ids.is_empty() {
            None
        } else {
            Some(rec.exec_ids.clone())
        },
        host_config: Some(rec.host_config.clone()),
        graph_driver: Some(DriverData {
            name: "overlayfs".into(),
            data: HashMap::new(),
        }),
        size_rw: size.map(|s| s.0),
        size_root_fs: size.map(|s| s.1),
        mounts: Some(mount_points(rec)),
        config: Some(rec.config.clone()),
        network_settings: Some(sandbox),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(
            human_duration(chrono::Duration::milliseconds(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(chrono::Duration::seconds(1)), "1 second");
        assert_eq!(human_duration(chrono::Duration::seconds(5)), "5 seconds");
        assert_eq!(
            human_duration(chrono::Duration::seconds(61)),
            "About a minute"
        );
        assert_eq!(human_duration(chrono::Duration::minutes(5)), "5 minutes");
        assert_eq!(
            human_duration(chrono::Duration::minutes(60)),
            "About an hour"
        );
        assert_eq!(human_duration(chrono::Duration::hours(3)), "3 hours");
        assert_eq!(human_duration(chrono::Duration::days(3)), "3 days");
    }
}
