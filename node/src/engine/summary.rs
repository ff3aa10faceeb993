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
                format!("Up {up}")
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

/// Bind mounts as `Mounts` shows them.
pub fn mount_points(rec: &ContainerRecord) -> Vec<MountPoint> {
    let mut out = Vec::new();
    for bind in rec.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = bind.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let mode = parts.get(2).copied().unwrap_or("").to_owned();
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
    for m in rec.host_config.mounts.iter().flatten() {
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

fn networks(rec: &ContainerRecord) -> HashMap<String, EndpointSettings> {
    let mut m = HashMap::new();
    m.insert(rec.network_mode.clone(), EndpointSettings::default());
    m
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
        ports: Some(Vec::new()),
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
        health: None,
    };
    let sandbox = NetworkSettings {
        bridge: Some(String::new()),
        sandbox_id: Some(String::new()),
        sandbox_key: Some(String::new()),
        ports: Some(HashMap::new()),
        networks: Some(networks(rec)),
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
