//! A task to the container the engine creates for it (swarmkit's
//! `agent/exec/dockerapi/container.go`, pure): name `service.slot.taskid`, Docker's swarm
//! labels, and every field of the container spec mapped onto the engine's create body.
//!
//! What the node's engine cannot do yet (init, DNS and hosts entries,
//! supplementary groups) makes the task fail with a message naming it,
//! never a container that silently differs from the spec.

use std::collections::HashMap;

use shoal_api::models::{
    ContainerCreateBody, HealthConfig as ApiHealthConfig, HostConfig, HostConfigLogConfig,
    Mount as ApiMount, MountBindOptions, MountTmpfsOptions, MountTypeEnum, MountVolumeOptions,
    PortBinding, ResourcesUlimits,
};
use shoal_scheduler::model::container::MountType;
use shoal_scheduler::model::node::NodeDescription;
use shoal_scheduler::model::service::{PortProtocol, PublishMode};
use shoal_scheduler::model::{NodeId, Task};
use shoal_scheduler::template;

use crate::cluster::dispatcher::wire::ServiceInfo;

/// Docker's swarm labels on task containers.
pub const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";
/// The service's name.
pub const SERVICE_NAME_LABEL: &str = "com.docker.swarm.service.name";
/// The task's ID.
pub const TASK_ID_LABEL: &str = "com.docker.swarm.task.id";
/// The task's name (`service.slot.taskid`).
pub const TASK_NAME_LABEL: &str = "com.docker.swarm.task.name";
/// The node's ID.
pub const NODE_ID_LABEL: &str = "com.docker.swarm.node.id";

/// Docker's default stop grace period for tasks: 10 s.
pub const DEFAULT_GRACE_NS: i64 = 10_000_000_000;

/// A file a secret or config becomes inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    /// Where the file is on the host (a tmpfs).
    pub source: String,
    /// Where it appears in the container.
    pub target: String,
}

/// The container name Docker gives a task: `service.slot.taskid` (`service.nodeid.taskid`
/// for global services).
pub fn task_name(service_name: &str, task: &Task) -> String {
    let middle = if task.slot != 0 {
        task.slot.to_string()
    } else {
        task.node_id
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    format!("{service_name}.{middle}.{}", task.id)
}

/// `tcp`, `udp`, `sctp` as in Docker's port keys (`80/tcp`).
pub fn proto_name(p: PortProtocol) -> &'static str {
    match p {
        PortProtocol::Tcp => "tcp",
        PortProtocol::Udp => "udp",
        PortProtocol::Sctp => "sctp",
    }
}

/// What a task's status says about the ports it has that Shoal does not wire (ingress mode:
/// the routing mesh), empty when there are none.
pub fn unwired_ports(service: &ServiceInfo) -> String {
    let ingress: Vec<String> = service
        .ports
        .iter()
        .filter(|p| p.publish_mode == PublishMode::Ingress)
        .map(|p| {
            format!(
                "{}:{}/{}",
                p.published_port,
                p.target_port,
                proto_name(p.protocol)
            )
        })
        .collect();
    if ingress.is_empty() {
        return String::new();
    }
    format!(
        "ingress-mode published ports are not wired on Shoal yet (use mode=host): {}",
        ingress.join(", ")
    )
}

fn refuse(what: &str) -> String {
    format!("{what} is not supported by this node's engine yet")
}

/// The template context of `task` on the node `host` describes (swarmkit's
/// `template.NewContext`).
fn template_context(task: &Task, host: &NodeDescription) -> template::Context {
    let mut ctx = template::Context::new(task, None);
    ctx.node_hostname = host.hostname.clone();
    ctx.node_os = host.platform.os.clone();
    ctx.node_arch = host.platform.architecture.clone();
    ctx
}

/// The engine's create body for `task` on `node` (described by `desc`), with
/// Go-template placeholders in hostname, env and mounts expanded as Docker does.
///
/// Errors: the message the task is rejected with.
pub fn create_body(
    task: &Task,
    service: &ServiceInfo,
    node: &NodeId,
    desc: &NodeDescription,
    files: &[FileMount],
) -> Result<ContainerCreateBody, String> {
    let service_name = service.name.as_str();
    let c = &task.spec.container;
    let ctx = template_context(task, desc);
    let expand = |s: &str| template::expand(s, &ctx).map_err(|e| e.to_string());
    if c.image.is_empty() {
        return Err("ContainerSpec: image reference must be provided".into());
    }
    if c.init == Some(true) {
        return Err(refuse("--init"));
    }
    if !c.hosts.is_empty() {
        return Err(refuse("--host (extra hosts entries)"));
    }
    if c.dns_config.is_some() {
        return Err(refuse("a DNS configuration"));
    }
    if !c.groups.is_empty() {
        return Err(refuse("--group (supplementary groups)"));
    }
    // Host-mode ports bind on this node through the engine's port publishing, as dockerd's
    // executor does (`PortBindings` on the task container); ingress ports are the routing
    // mesh's, which is not wired (the runner's status says so).
    let mut exposed: HashMap<String, HashMap<(), ()>> = HashMap::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in service
        .ports
        .iter()
        .filter(|p| p.publish_mode == PublishMode::Host)
    {
        let key = format!("{}/{}", p.target_port, proto_name(p.protocol));
        exposed.insert(key.clone(), HashMap::new());
        bindings
            .entry(key)
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: None,
                // Empty: the engine picks an ephemeral port, as for `docker run -p 80`.
                host_port: Some(if p.published_port == 0 {
                    String::new()
                } else {
                    p.published_port.to_string()
                }),
            });
    }
    let mut labels: HashMap<String, String> = c
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(SERVICE_ID_LABEL.into(), task.service_id.to_string());
    labels.insert(SERVICE_NAME_LABEL.into(), service_name.to_owned());
    labels.insert(TASK_ID_LABEL.into(), task.id.to_string());
    labels.insert(TASK_NAME_LABEL.into(), task_name(service_name, task));
    labels.insert(NODE_ID_LABEL.into(), node.to_string());

    let mut mounts = Vec::new();
    for m in &c.mounts {
        let typ = match m.kind {
            MountType::Bind => MountTypeEnum::BIND,
            MountType::Volume => MountTypeEnum::VOLUME,
            MountType::Tmpfs => MountTypeEnum::TMPFS,
            MountType::Npipe | MountType::Cluster => {
                return Err(refuse(&format!("a mount of type {:?}", m.kind)));
            }
        };
        mounts.push(ApiMount {
            target: Some(expand(&m.target)?),
            source: if m.source.is_empty() {
                None
            } else {
                Some(expand(&m.source)?)
            },
            typ: Some(typ),
            read_only: Some(m.read_only),
            consistency: None,
            bind_options: m.bind_options.as_ref().map(|b| MountBindOptions {
                propagation: b.propagation.parse().ok(),
                non_recursive: Some(b.non_recursive),
                ..Default::default()
            }),
            volume_options: m.volume_options.as_ref().map(|v| MountVolumeOptions {
                no_copy: Some(v.no_copy),
                ..Default::default()
            }),
            image_options: None,
            tmpfs_options: m.tmpfs_options.as_ref().map(|t| MountTmpfsOptions {
                size_bytes: (t.size_bytes != 0).then_some(t.size_bytes),
                mode: (t.mode != 0).then_some(i64::from(t.mode)),
                options: None,
            }),
        });
    }
    let binds: Vec<String> = files
        .iter()
        .map(|f| format!("{}:{}:ro", f.source, f.target))
        .collect();
    let limits = task.spec.resources.limits.as_ref();
    let reservations = task.spec.resources.reservations.as_ref();
    let grace_ns = c.stop_grace_period_ns.unwrap_or(DEFAULT_GRACE_NS).max(0);
    let host = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        readonly_rootfs: Some(c.read_only),
        cap_add: (!c.capability_add.is_empty()).then(|| c.capability_add.clone()),
        cap_drop: (!c.capability_drop.is_empty()).then(|| c.capability_drop.clone()),
        sysctls: (!c.sysctls.is_empty()).then(|| {
            c.sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        ulimits: (!c.ulimits.is_empty()).then(|| {
            c.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        nano_cpus: limits.map(|l| l.nano_cpus).filter(|v| *v != 0),
        memory: limits.map(|l| l.memory_bytes).filter(|v| *v != 0),
        pids_limit: limits.map(|l| l.pids).filter(|v| *v != 0),
        memory_reservation: reservations.map(|r| r.memory_bytes).filter(|v| *v != 0),
        log_config: task.spec.log_driver.as_ref().map(|d| HostConfigLogConfig {
            typ: Some(d.name.clone()),
            config: Some(
                d.options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(c.image.clone()),
        entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
        cmd: (!c.args.is_empty()).then(|| c.args.clone()),
        env: if c.env.is_empty() {
            None
        } else {
            Some(c.env.iter().map(|e| expand(e)).collect::<Result<_, _>>()?)
        },
        user: (!c.user.is_empty()).then(|| c.user.clone()),
        working_dir: (!c.dir.is_empty()).then(|| c.dir.clone()),
        hostname: if c.hostname.is_empty() {
            None
        } else {
            Some(expand(&c.hostname)?)
        },
        labels: Some(labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: Some(c.tty),
        open_stdin: Some(c.open_stdin),
        stop_signal: (!c.stop_signal.is_empty()).then(|| c.stop_signal.clone()),
        stop_timeout: Some(grace_ns / 1_000_000_000),
        // Zero and empty fields inherit the image's HEALTHCHECK, as on `docker run`.
        healthcheck: c.healthcheck.as_ref().map(|h| ApiHealthConfig {
            test: (!h.test.is_empty()).then(|| h.test.clone()),
            interval: (h.interval_ns != 0).then_some(h.interval_ns),
            timeout: (h.timeout_ns != 0).then_some(h.timeout_ns),
            retries: (h.retries != 0).then(|| i64::try_from(h.retries).unwrap_or(i64::MAX)),
            start_period: (h.start_period_ns != 0).then_some(h.start_period_ns),
            start_interval: (h.start_interval_ns != 0).then_some(h.start_interval_ns),
        }),
        host_config: Some(host),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_scheduler::model::TaskSpec;

    fn task() -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": "t1", "meta": {"version": {"index": 1}, "created_at": 0, "updated_at": 0},
            "service_id": "s1", "slot": 3, "node_id": "n1",
            "spec": {}, "desired_state": "running",
            "status": {"state": "assigned", "timestamp": 0, "message": "", "err": ""}
        }))
        .unwrap();
        t.spec = TaskSpec::default();
        t.spec.container.image = "busybox".into();
        t.spec.container.args = vec!["sleep".into(), "60".into()];
        t
    }

    fn host() -> NodeDescription {
        NodeDescription {
            hostname: "h1".into(),
            platform: shoal_scheduler::model::node::Platform {
                os: "linux".into(),
                architecture: "x86_64".into(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn templates_expand_in_hostname_env_and_mounts() {
        let mut t = task();
        t.service_annotations.name = "web".into();
        t.spec.container.hostname = "{{.Service.Name}}-{{.Task.Slot}}".into();
        t.spec.container.env = vec![
            "NODE={{.Node.Hostname}}".into(),
            "OS={{.Node.Platform.OS}}".into(),
        ];
        t.spec.container.mounts = vec![
            serde_json::from_value(serde_json::json!({
                "kind": "tmpfs", "target": "/data/{{.Task.Slot}}"
            }))
            .unwrap(),
        ];
        let body = create_body(&t, &web(), &NodeId::new("n1"), &host(), &[]).unwrap();
        assert_eq!(body.hostname.as_deref(), Some("web-3"));
        assert_eq!(body.env.unwrap(), vec!["NODE=h1", "OS=linux"]);
        let m = &body.host_config.unwrap().mounts.unwrap()[0];
        assert_eq!(m.target.as_deref(), Some("/data/3"));
        t.spec.container.hostname = "{{.Nope}}".into();
        let err = create_body(&t, &web(), &NodeId::new("n1"), &host(), &[]).unwrap_err();
        assert!(err.contains(".Nope"), "{err}");
    }

    fn web() -> ServiceInfo {
        ServiceInfo {
            name: "web".into(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn names_and_labels_follow_docker() {
        let t = task();
        assert_eq!(task_name("web", &t), "web.3.t1");
        let body = create_body(&t, &web(), &NodeId::new("n1"), &host(), &[]).unwrap();
        let labels = body.labels.unwrap();
        assert_eq!(labels[TASK_NAME_LABEL], "web.3.t1");
        assert_eq!(labels[SERVICE_ID_LABEL], "s1");
        assert_eq!(labels[NODE_ID_LABEL], "n1");
        assert_eq!(body.cmd.unwrap(), vec!["sleep", "60"]);
        assert_eq!(body.stop_timeout, Some(10));
        let mut global = t.clone();
        global.slot = 0;
        assert_eq!(task_name("mon", &global), "mon.n1.t1");
    }

    #[test]
    fn secrets_become_read_only_binds() {
        let files = [FileMount {
            source: "/run/x/t1/s".into(),
            target: "/run/secrets/pw".into(),
        }];
        let body = create_body(&task(), &web(), &NodeId::new("n1"), &host(), &files).unwrap();
        assert_eq!(
            body.host_config.unwrap().binds.unwrap(),
            vec!["/run/x/t1/s:/run/secrets/pw:ro"]
        );
    }

    #[test]
    fn the_healthcheck_reaches_the_container_with_zero_fields_inherited() {
        let mut t = task();
        t.spec.container.healthcheck = Some(shoal_scheduler::model::container::HealthConfig {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval_ns: 1_000_000_000,
            retries: 2,
            ..Default::default()
        });
        let body = create_body(&t, &web(), &NodeId::new("n1"), &host(), &[]).unwrap();
        let hc = body.healthcheck.unwrap();
        assert_eq!(hc.test.unwrap(), ["CMD-SHELL", "true"]);
        assert_eq!((hc.interval, hc.retries), (Some(1_000_000_000), Some(2)));
        assert_eq!((hc.timeout, hc.start_period), (None, None));
    }

    #[test]
    fn what_the_engine_cannot_do_is_refused_by_name() {
        let mut t = task();
        t.spec.container.init = Some(true);
        assert_eq!(
            create_body(&t, &web(), &NodeId::new("n1"), &host(), &[]).unwrap_err(),
            "--init is not supported by this node's engine yet"
        );
    }

    #[test]
    fn host_mode_ports_become_port_bindings_and_ingress_ones_are_named_as_unwired() {
        use shoal_scheduler::model::service::PortConfig;
        let mut svc = web();
        svc.ports = vec![
            PortConfig {
                target_port: 80,
                published_port: 8080,
                publish_mode: PublishMode::Host,
                ..Default::default()
            },
            PortConfig {
                protocol: PortProtocol::Udp,
                target_port: 53,
                published_port: 0,
                publish_mode: PublishMode::Host,
                ..Default::default()
            },
            PortConfig {
                target_port: 443,
                published_port: 4443,
                publish_mode: PublishMode::Ingress,
                ..Default::default()
            },
        ];
        let body = create_body(&task(), &svc, &NodeId::new("n1"), &host(), &[]).unwrap();
        let b = body.host_config.unwrap().port_bindings.unwrap();
        assert_eq!(b.len(), 2, "only host-mode ports bind: {b:?}");
        let tcp = b["80/tcp"].as_ref().unwrap();
        assert_eq!(tcp[0].host_port.as_deref(), Some("8080"));
        assert_eq!(
            b["53/udp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("")
        );
        assert!(body.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(
            unwired_ports(&svc),
            "ingress-mode published ports are not wired on Shoal yet (use mode=host): 4443:443/tcp"
        );
        assert_eq!(unwired_ports(&web()), "");
    }
}
