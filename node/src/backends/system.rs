//! `SystemBackend`: version, info, events, df.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::extract::Filters;
use shoal_api::models::{
    Commit, ContainerdInfo, ContainerdInfoNamespaces, EventMessage, PluginsInfo,
    Runtime as RuntimeInfo, SwarmInfo, SystemDataUsageResponse, SystemInfo, SystemVersion,
    SystemVersionComponents, SystemVersionPlatform,
};
use shoal_api::routers::containers::ListOptions;
use shoal_api::routers::system::SystemBackend;
use tokio::sync::broadcast;

use super::errors::{engine_error, image_error};
use crate::engine::Engine;
use crate::events::EventsBus;
use crate::image::ImageService;

/// Facts gathered once at daemon start.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Daemon ID (stable across restarts).
    pub id: String,
    /// `--data-root`.
    pub data_root: String,
    /// containerd socket.
    pub containerd_address: String,
    /// containerd namespace.
    pub containerd_namespace: String,
    /// `runc --version` first line's version.
    pub runc_version: String,
}

/// The system router's backend.
#[derive(Debug, Clone)]
pub struct SystemApi {
    /// Containers.
    pub engine: Engine,
    /// Images.
    pub images: ImageService,
    /// Events.
    pub events: Arc<EventsBus>,
    /// Static facts.
    pub facts: HostFacts,
    /// What a SIGHUP can change (debug, labels, default log driver).
    pub live: crate::live::LiveConfig,
    /// Swarm membership (the Swarm section of `docker info`, the `/_ping` header).
    pub cluster: crate::cluster::ClusterService,
}

/// The Swarm section of `docker info` from the node's membership.
fn swarm_info(st: crate::cluster::SwarmStatus) -> SwarmInfo {
    let manager = st.control_available;
    SwarmInfo {
        node_id: Some(st.node_id),
        node_addr: Some(st.node_addr),
        local_node_state: serde_json::from_value(serde_json::json!(st.state)).ok(),
        control_available: Some(manager),
        error: Some(String::new()),
        remote_managers: (st.state != "inactive").then(|| {
            st.remote_managers
                .into_iter()
                .map(|(id, addr)| shoal_api::models::PeerNode {
                    node_id: Some(id),
                    addr: Some(addr),
                })
                .collect()
        }),
        nodes: st.nodes.map(|n| n as i64),
        managers: st.managers.map(|n| n as i64),
        cluster: st
            .cluster
            .as_ref()
            .map(crate::cluster::convert::cluster_info),
    }
}

fn uname() -> (String, String) {
    match nix::sys::utsname::uname() {
        Ok(u) => (
            u.release().to_string_lossy().into_owned(),
            u.machine().to_string_lossy().into_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

/// Docker's arch names from uname's.
fn docker_arch(machine: &str) -> String {
    match machine {
        "x86_64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.into(),
    }
}

fn os_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "Linux".into())
}

pub(crate) fn mem_total() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Whether an event passes `docker events --filter`s, with dockerd's semantics: `type`,
/// `event`, `scope` and `daemon` match exactly; an object filter (`container`, `volume`,
/// `network`, `plugin`, `node`, `service`, `secret`, `config`) passes events whose actor ID or
/// name starts with one of its values; `image` matches the image (with or without its tag).
pub fn event_matches(ev: &EventMessage, f: &Filters) -> bool {
    let typ = ev.typ.map(|t| t.to_string()).unwrap_or_default();
    let action = ev.action.clone().unwrap_or_default();
    let action_head = action.split(':').next().unwrap_or("").to_owned();
    let scope = ev
        .scope
        .map(|s| s.to_string())
        .unwrap_or_else(|| "local".into());
    let actor = ev.actor.clone().unwrap_or_default();
    let id = actor.id.unwrap_or_default();
    let attrs = actor.attributes.unwrap_or_default();
    let name = attrs.get("name").cloned().unwrap_or_default();
    let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
        let vals = f.get(key);
        vals.is_empty() || vals.iter().any(|v| ok(v))
    };
    let by_id_or_name = |key: &str| any(key, &|v| id.starts_with(v) || name.starts_with(v));
    let image_name = if typ == "image" {
        name.clone()
    } else {
        attrs.get("image").cloned().unwrap_or_default()
    };
    let untagged = |s: &str| strip_tag(s).to_owned();
    any("type", &|v| v == typ)
        && any("event", &|v| v == action || v == action_head)
        && any("scope", &|v| v == scope)
        && any("daemon", &|v| typ == "daemon" && (v == id || v == name))
        && [
            "container",
            "volume",
            "network",
            "plugin",
            "node",
            "service",
            "secret",
            "config",
        ]
        .iter()
        .all(|key| by_id_or_name(key))
        && any("image", &|v| {
            v == id || v == image_name || v == untagged(&id) || v == untagged(&image_name)
        })
        && f.get("label").iter().all(|l| match l.split_once('=') {
            Some((k, val)) => attrs.get(k).is_some_and(|x| x == val),
            None => attrs.contains_key(l.as_str()),
        })
}

/// `busybox:1.36` → `busybox`; a registry port (`host:5000/x`) is not a tag.
fn strip_tag(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(i) if !reference[i + 1..].contains('/') => &reference[..i],
        _ => reference,
    }
}

fn event_time(ev: &EventMessage) -> f64 {
    ev.time_nano
        .map(|n| n as f64 / 1e9)
        .or(ev.time.map(|t| t as f64))
        .unwrap_or(0.0)
}

#[async_trait]
impl SystemBackend for SystemApi {
    async fn version(&self) -> ApiResult<SystemVersion> {
        let (kernel, machine) = uname();
        let containerd = self.engine.containerd_version().await.unwrap_or_default();
        let version = env!("CARGO_PKG_VERSION").to_owned();
        let comp =
            |name: &str, v: &str, details: HashMap<String, String>| SystemVersionComponents {
                name: name.to_owned(),
                version: v.to_owned(),
                details: Some(details),
            };
        // The CLI prints the Engine component's details under "Server".
        let engine_details: HashMap<String, String> = [
            ("ApiVersion", shoal_api::version::MAX_API_VERSION.to_owned()),
            (
                "MinAPIVersion",
                shoal_api::version::MIN_API_VERSION.to_owned(),
            ),
            ("GitCommit", String::new()),
            ("GoVersion", String::new()),
            ("Os", "linux".to_owned()),
            ("Arch", docker_arch(&machine)),
            ("KernelVersion", kernel.clone()),
            ("Experimental", "false".to_owned()),
            ("BuildTime", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(SystemVersion {
            platform: Some(SystemVersionPlatform {
                name: "Shoal Engine".into(),
            }),
            components: Some(vec![
                comp("Engine", &version, engine_details),
                comp("containerd", &containerd, HashMap::new()),
                comp("runc", &self.facts.runc_version, HashMap::new()),
            ]),
            version: Some(version),
            git_commit: Some(String::new()),
            go_version: Some(String::new()),
            os: Some("linux".into()),
            arch: Some(docker_arch(&machine)),
            kernel_version: Some(kernel),
            experimental: Some(false),
            build_time: Some(String::new()),
            ..Default::default()
        })
    }

    async fn info(&self) -> ApiResult<SystemInfo> {
        let (kernel, machine) = uname();
        let all = self
            .engine
            .list(ListOptions {
                all: true,
                ..Default::default()
            })
            .await
            .map_err(engine_error)?;
        let count = |s: &str| {
            all.iter()
                .filter(|c| c.state.map(|x| x.to_string()).as_deref() == Some(s))
                .count() as i64
        };
        let images = self
            .images
            .list(&Default::default())
            .await
            .map_err(image_error)?
            .len() as i64;
        let cgroup2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let mut runtimes = HashMap::new();
        runtimes.insert(
            "runc".to_string(),
            RuntimeInfo {
                path: Some("runc".into()),
                ..Default::default()
            },
        );
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let live = self.live.get();
        Ok(SystemInfo {
            id: Some(self.facts.id.clone()),
            containers: Some(all.len() as i64),
            containers_running: Some(count("running")),
            containers_paused: Some(count("paused")),
            containers_stopped: Some(all.len() as i64 - count("running") - count("paused")),
            images: Some(images),
            driver: Some("overlayfs".into()),
            driver_status: Some(vec![vec![
                "driver-type".into(),
                "io.containerd.snapshotter.v1".into(),
            ]]),
            docker_root_dir: Some(self.facts.data_root.clone()),
            memory_limit: Some(true),
            swap_limit: Some(false),
            cpu_cfs_period: Some(true),
            cpu_cfs_quota: Some(true),
            cpu_shares: Some(true),
            cpu_set: Some(true),
            pids_limit: Some(true),
            oom_kill_disable: Some(false),
            ipv4_forwarding: Some(false),
            debug: Some(live.debug),
            nfd: Some(
                std::fs::read_dir("/proc/self/fd")
                    .map(|d| d.count() as i64)
                    .unwrap_or(0),
            ),
            n_goroutines: Some(0),
            system_time: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            ),
            logging_driver: Some(live.log_driver.clone()),
            cgroup_driver: serde_json::from_value(serde_json::json!(if cgroup2 {
                "systemd"
            } else {
                "cgroupfs"
            }))
            .ok(),
            cgroup_version: serde_json::from_value(serde_json::json!(if cgroup2 {
                "2"
            } else {
                "1"
            }))
            .ok(),
            n_events_listener: Some(0),
            kernel_version: Some(kernel),
            operating_system: Some(os_name()),
            os_version: Some(String::new()),
            os_type: Some("linux".into()),
            architecture: Some(machine),
            ncpu: Some(
                std::thread::available_parallelism()
                    .map(|n| n.get() as i64)
                    .unwrap_or(1),
            ),
            mem_total: Some(mem_total()),
            index_server_address: Some("https://index.docker.io/v1/".into()),
            name: Some(hostname),
            labels: Some(live.labels.clone()),
            experimental_build: Some(false),
            server_version: Some(env!("CARGO_PKG_VERSION").into()),
            runtimes: Some(runtimes),
            default_runtime: Some("runc".into()),
            swarm: Some(swarm_info(self.cluster.status())),
            live_restore_enabled: Some(true),
            plugins: Some(PluginsInfo {
                volume: Some(Vec::new()),
                network: Some(vec!["host".into(), "null".into()]),
                authorization: None,
                log: Some(
                    crate::engine::logdriver::drivers()
                        .iter()
                        .map(|d| (*d).to_owned())
                        .collect(),
                ),
            }),
            containerd_commit: Some(Commit {
                id: self.engine.containerd_version().await,
            }),
            runc_commit: Some(Commit {
                id: Some(self.facts.runc_version.clone()),
            }),
            registry_config: Some(super::registry_info::registry_info(
                &self.images.registries().config(),
            )),
            security_options: Some(vec!["name=seccomp,profile=builtin".into()]),
            warnings: Some(Vec::new()),
            containerd: Some(ContainerdInfo {
                address: Some(self.facts.containerd_address.clone()),
                namespaces: Some(ContainerdInfoNamespaces {
                    containers: Some(self.facts.containerd_namespace.clone()),
                    plugins: Some(format!("{}.plugins", self.facts.containerd_namespace)),
                }),
            }),
            ..Default::default()
        })
    }

    async fn swarm_ping_status(&self) -> String {
        // dockerd: "inactive", "pending", "error", "locked", or "active/manager|worker".
        let st = self.cluster.status();
        match st.state {
            "active" if st.control_available => "active/manager".into(),
            "active" => "active/worker".into(),
            other => other.into(),
        }
    }

    async fn events(
        &self,
        since: Option<f64>,
        until: Option<f64>,
        filters: Filters,
    ) -> ApiResult<BoxStream<'static, EventMessage>> {
        filters.validate(&[
            "type",
            "event",
            "container",
            "image",
            "label",
            "scope",
            "daemon",
            "network",
            "volume",
            "node",
            "service",
            "secret",
            "config",
            "plugin",
        ])?;
        if let (Some(s), Some(u)) = (since, until)
            && u > 0.0
            && s > u
        {
            return Err(ApiError::invalid("`since` time is after `until` time"));
        }
        let (history, rx) = self.events.subscribe();
        let f = filters.clone();
        let until = until.filter(|u| *u > 0.0);
        let past: Vec<EventMessage> = match since {
            Some(s) => history
                .into_iter()
                .filter(|e| event_time(e) >= s)
                .filter(|e| until.is_none_or(|u| event_time(e) <= u))
                .filter(|e| event_matches(e, &f))
                .collect(),
            None => Vec::new(),
        };
        let head = futures::stream::iter(past);
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9;
        if until.is_some_and(|u| u <= now) {
            return Ok(head.boxed());
        }
        let live = futures::stream::unfold(rx, move |mut rx| {
            let f = f.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(ev) if event_matches(&ev, &f) => return Some((ev, rx)),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });
        let live = match until {
            Some(u) => {
                let wait = std::time::Duration::from_secs_f64((u - now).max(0.0));
                live.take_until(tokio::time::sleep(wait)).boxed()
            }
            None => live.boxed(),
        };
        Ok(head.chain(live).boxed())
    }

    async fn df(&self) -> ApiResult<SystemDataUsageResponse> {
        let containers = self
            .engine
            .list(ListOptions {
                all: true,
                size: true,
                ..Default::default()
            })
            .await
            .map_err(engine_error)?;
        let images: Vec<_> = self
            .images
            .list(&Default::default())
            .await
            .map_err(image_error)?
            .iter()
            .map(|e| e.summary())
            .collect();
        let layers_size = images.iter().map(|i| i.size).sum();
        Ok(SystemDataUsageResponse {
            layers_size: Some(layers_size),
            images: Some(images),
            containers: Some(containers),
            volumes: Some(Vec::new()),
            build_cache: Some(Vec::new()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_api::models::{EventActor, EventMessageTypeEnum};

    fn ev(action: &str, name: &str) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc123".into()),
                attributes: Some(
                    [
                        ("name".to_string(), name.to_string()),
                        ("image".to_string(), "busybox".to_string()),
                    ]
                    .into(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn filters_select_events() {
        let f = Filters::parse(Some(r#"{"event":["start"],"container":["web"]}"#)).unwrap();
        assert!(event_matches(&ev("start", "web"), &f));
        assert!(!event_matches(&ev("die", "web"), &f));
        assert!(!event_matches(&ev("start", "db"), &f));
        let f = Filters::parse(Some(r#"{"event":["exec_create"]}"#)).unwrap();
        assert!(event_matches(&ev("exec_create: sh -c true", "web"), &f));
        let f = Filters::parse(Some(r#"{"image":["busybox"],"type":["container"]}"#)).unwrap();
        assert!(event_matches(&ev("start", "x"), &f));
    }

    #[test]
    fn object_filters_take_effect_on_every_type() {
        let vol = |name: &str| EventMessage {
            typ: Some(EventMessageTypeEnum::VOLUME),
            action: Some("mount".into()),
            actor: Some(EventActor {
                id: Some(name.into()),
                attributes: Some([("container".to_string(), "abc123".to_string())].into()),
            }),
            ..Default::default()
        };
        let f = Filters::parse(Some(r#"{"volume":["data-1"]}"#)).unwrap();
        assert!(event_matches(&vol("data-1"), &f));
        assert!(!event_matches(&vol("other"), &f));
        assert!(
            !event_matches(&ev("start", "web"), &f),
            "a container is not the volume"
        );
        for key in ["service", "node", "secret", "config", "plugin", "network"] {
            let f = Filters::parse(Some(&format!(r#"{{"{key}":["zzz"]}}"#))).unwrap();
            assert!(!event_matches(&ev("start", "web"), &f), "{key} was ignored");
        }
        let f = Filters::parse(Some(r#"{"scope":["swarm"]}"#)).unwrap();
        assert!(!event_matches(&ev("start", "web"), &f));
        let f = Filters::parse(Some(r#"{"daemon":["abc123"]}"#)).unwrap();
        assert!(
            !event_matches(&ev("start", "web"), &f),
            "only daemon events pass"
        );
        let f = Filters::parse(Some(r#"{"image":["busybox:latest"]}"#)).unwrap();
        assert!(!event_matches(&ev("start", "web"), &f));
        assert_eq!(strip_tag("localhost:5000/app:1"), "localhost:5000/app");
        assert_eq!(strip_tag("localhost:5000/app"), "localhost:5000/app");
    }
}
