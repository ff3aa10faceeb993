//! Docker's `ServiceSpec` to the replicated model.
//!
//! Every field Docker's API defines either maps onto a model field or, when Shoal cannot
//! honour it (plugins, credential specs, SELinux labels, ...), is refused here with a 400 that
//! names it: nothing is dropped silently.

use std::collections::{BTreeMap, HashMap};

use shoal_api::models as m;
use shoal_scheduler::model::container::{
    BindOptions, ConfigReference, DnsConfig, Driver, FileTarget, HealthConfig, Mount, MountType,
    SecretReference, TmpfsOptions, Ulimit, VolumeOptions,
};
use shoal_scheduler::model::node::Platform;
use shoal_scheduler::model::service::{
    EndpointSpec, FailureAction, PortConfig, PortProtocol, PublishMode, ResolutionMode,
    ServiceMode, UpdateConfig, UpdateOrder,
};
use shoal_scheduler::model::task_spec::{
    NetworkAttachmentConfig, PlacementPreference, ResourceRequirements, Resources,
};
use shoal_scheduler::model::{
    ConfigId, ContainerSpec, NetworkId, Placement, RestartCondition, RestartPolicy, SecretId,
    ServiceSpec, TaskSpec,
};

use crate::cluster::ClusterError;

fn bad(msg: impl Into<String>) -> ClusterError {
    ClusterError::InvalidArgument(msg.into())
}

fn btree(l: &Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    l.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn vec_or_empty<T: Clone>(v: &Option<Vec<T>>) -> Vec<T> {
    v.clone().unwrap_or_default()
}

fn non_neg(what: &str, v: Option<i64>) -> Result<u64, ClusterError> {
    let v = v.unwrap_or(0);
    u64::try_from(v).map_err(|_| bad(format!("{what} must not be negative")))
}

/// `POST /services/create` / `update` body to the model spec.
///
/// Errors: InvalidArgument naming the first field Shoal cannot honour.
pub fn service_spec_from_api(s: &m::ServiceSpec) -> Result<ServiceSpec, ClusterError> {
    let template = s.task_template.clone().unwrap_or_default();
    let mut networks: Vec<NetworkId> = Vec::new();
    for n in s.networks.iter().flatten() {
        networks.push(NetworkId::new(n.target.clone().unwrap_or_default()));
    }
    // UpdateConfig and RollbackConfig are two generated types with the same fields.
    macro_rules! update_config {
        ($u:expr) => {
            update_config_from_api(
                $u.parallelism,
                $u.delay,
                $u.failure_action.map(|a| a.to_string()),
                $u.monitor,
                $u.max_failure_ratio,
                $u.order.map(|o| o.to_string()),
            )
        };
    }
    Ok(ServiceSpec {
        name: s.name.clone().unwrap_or_default(),
        labels: btree(&s.labels),
        task_template: task_spec_from_api(&template)?,
        mode: mode_from_api(s.mode.as_ref())?,
        networks,
        update_config: s
            .update_config
            .as_ref()
            .map(|u| update_config!(u))
            .transpose()?,
        rollback_config: s
            .rollback_config
            .as_ref()
            .map(|u| update_config!(u))
            .transpose()?,
        endpoint_spec: endpoint_from_api(s.endpoint_spec.as_ref())?,
    })
}

fn mode_from_api(mode: Option<&m::ServiceSpecMode>) -> Result<ServiceMode, ClusterError> {
    let Some(mode) = mode else {
        return Ok(ServiceMode::Replicated { replicas: 1 });
    };
    let set = [
        mode.replicated.is_some(),
        mode.global.is_some(),
        mode.replicated_job.is_some(),
        mode.global_job.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        return Err(bad(
            "service mode must be exactly one of replicated, global, replicated-job or global-job",
        ));
    }
    if let Some(r) = &mode.replicated {
        // Docker: an absent replica count means one.
        return Ok(ServiceMode::Replicated {
            replicas: non_neg("Replicas", Some(r.replicas.unwrap_or(1)))?,
        });
    }
    if mode.global.is_some() {
        return Ok(ServiceMode::Global);
    }
    if let Some(j) = &mode.replicated_job {
        let max_concurrent = non_neg("MaxConcurrent", j.max_concurrent)?.max(1);
        let total = match j.total_completions {
            None | Some(0) => max_concurrent,
            Some(t) => non_neg("TotalCompletions", Some(t))?,
        };
        return Ok(ServiceMode::ReplicatedJob {
            max_concurrent,
            total_completions: total,
        });
    }
    if mode.global_job.is_some() {
        return Ok(ServiceMode::GlobalJob);
    }
    Ok(ServiceMode::Replicated { replicas: 1 })
}

fn update_config_from_api(
    parallelism: Option<i64>,
    delay: Option<i64>,
    failure_action: Option<String>,
    monitor: Option<i64>,
    max_failure_ratio: Option<f64>,
    order: Option<String>,
) -> Result<UpdateConfig, ClusterError> {
    let ratio = max_failure_ratio.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&ratio) {
        return Err(bad("UpdateConfig: MaxFailureRatio must be between 0 and 1"));
    }
    Ok(UpdateConfig {
        parallelism: non_neg("UpdateConfig.Parallelism", parallelism)?,
        delay_ns: i64::try_from(non_neg("UpdateConfig.Delay", delay)?).unwrap_or(i64::MAX),
        failure_action: match failure_action.as_deref().unwrap_or("") {
            "" | "pause" => FailureAction::Pause,
            "continue" => FailureAction::Continue,
            "rollback" => FailureAction::Rollback,
            other => return Err(bad(format!("unrecognized update failure action {other}"))),
        },
        monitor_ns: i64::try_from(non_neg("UpdateConfig.Monitor", monitor)?).unwrap_or(i64::MAX),
        // The model keeps f32; Docker's CLI sends ratios like 0.2 that f32 holds closely enough.
        max_failure_ratio: ratio as f32,
        order: match order.as_deref().unwrap_or("") {
            "" | "stop-first" => UpdateOrder::StopFirst,
            "start-first" => UpdateOrder::StartFirst,
            other => return Err(bad(format!("unrecognized update order {other}"))),
        },
    })
}

fn endpoint_from_api(e: Option<&m::EndpointSpec>) -> Result<EndpointSpec, ClusterError> {
    let Some(e) = e else {
        return Ok(EndpointSpec::default());
    };
    let mode = match e.mode.map(|m| m.to_string()).as_deref().unwrap_or("") {
        "" | "vip" => ResolutionMode::Vip,
        "dnsrr" => ResolutionMode::Dnsrr,
        other => return Err(bad(format!("unrecognized endpoint mode {other}"))),
    };
    let mut ports = Vec::new();
    for p in e.ports.iter().flatten() {
        let port = |what: &str, v: Option<i64>| -> Result<u32, ClusterError> {
            let v = v.unwrap_or(0);
            u32::try_from(v)
                .ok()
                .filter(|v| *v <= 65535)
                .ok_or_else(|| bad(format!("invalid {what} {v}")))
        };
        ports.push(PortConfig {
            name: p.name.clone().unwrap_or_default(),
            protocol: match p.protocol.map(|x| x.to_string()).as_deref().unwrap_or("") {
                "" | "tcp" => PortProtocol::Tcp,
                "udp" => PortProtocol::Udp,
                "sctp" => PortProtocol::Sctp,
                other => return Err(bad(format!("unrecognized port protocol {other}"))),
            },
            target_port: port("target port", p.target_port)?,
            published_port: port("published port", p.published_port)?,
            publish_mode: match p
                .publish_mode
                .map(|x| x.to_string())
                .as_deref()
                .unwrap_or("")
            {
                "" | "ingress" => PublishMode::Ingress,
                "host" => PublishMode::Host,
                other => return Err(bad(format!("unrecognized publish mode {other}"))),
            },
        });
    }
    Ok(EndpointSpec { mode, ports })
}

/// A Docker `TaskSpec` to the model.
pub fn task_spec_from_api(t: &m::TaskSpec) -> Result<TaskSpec, ClusterError> {
    if t.plugin_spec.is_some() {
        return Err(bad(
            "TaskTemplate.PluginSpec: plugin services are not supported by Shoal",
        ));
    }
    if t.network_attachment_spec.is_some() {
        return Err(bad(
            "TaskTemplate.NetworkAttachmentSpec is not supported by Shoal",
        ));
    }
    match t.runtime.as_deref().unwrap_or("") {
        "" | "container" => {}
        other => {
            return Err(bad(format!(
                "TaskTemplate.Runtime {other:?} is not supported by Shoal (only \"container\")"
            )));
        }
    }
    let container = container_spec_from_api(&t.container_spec.clone().unwrap_or_default())?;
    let resources = t.resources.clone().unwrap_or_default();
    if resources
        .reservations
        .as_ref()
        .and_then(|r| r.generic_resources.as_ref())
        .is_some_and(|g| !g.is_empty())
    {
        return Err(bad(
            "TaskTemplate.Resources.Reservations.GenericResources are not supported by Shoal",
        ));
    }
    let restart = t.restart_policy.clone().unwrap_or_default();
    let placement = t.placement.clone().unwrap_or_default();
    let mut preferences = Vec::new();
    for p in placement.preferences.iter().flatten() {
        let spread = p
            .spread
            .as_ref()
            .and_then(|s| s.spread_descriptor.clone())
            .ok_or_else(|| bad("Placement.Preferences: only spread preferences are supported"))?;
        preferences.push(PlacementPreference { spread });
    }
    Ok(TaskSpec {
        container,
        resources: ResourceRequirements {
            limits: resources.limits.as_ref().map(|l| Resources {
                nano_cpus: l.nano_cpus.unwrap_or(0),
                memory_bytes: l.memory_bytes.unwrap_or(0),
                pids: l.pids.unwrap_or(0),
                ..Default::default()
            }),
            reservations: resources.reservations.as_ref().map(|r| Resources {
                nano_cpus: r.nano_cpus.unwrap_or(0),
                memory_bytes: r.memory_bytes.unwrap_or(0),
                ..Default::default()
            }),
        },
        restart_policy: RestartPolicy {
            condition: match restart
                .condition
                .map(|c| c.to_string())
                .as_deref()
                .unwrap_or("")
            {
                "" | "any" => RestartCondition::Any,
                "none" => RestartCondition::None,
                "on-failure" => RestartCondition::OnFailure,
                other => return Err(bad(format!("unrecognized restart condition {other}"))),
            },
            delay_ns: restart.delay,
            max_attempts: non_neg("RestartPolicy.MaxAttempts", restart.max_attempts)?,
            window_ns: i64::try_from(non_neg("RestartPolicy.Window", restart.window)?)
                .unwrap_or(i64::MAX),
        },
        placement: Placement {
            constraints: vec_or_empty(&placement.constraints),
            preferences,
            max_replicas: non_neg("Placement.MaxReplicas", placement.max_replicas)?,
            platforms: placement
                .platforms
                .iter()
                .flatten()
                .map(|p| Platform {
                    architecture: p.architecture.clone().unwrap_or_default(),
                    os: p.os.clone().unwrap_or_default(),
                })
                .collect(),
        },
        force_update: t.force_update.unwrap_or(0),
        networks: t
            .networks
            .iter()
            .flatten()
            .map(|n| NetworkAttachmentConfig {
                target: NetworkId::new(n.target.clone().unwrap_or_default()),
                aliases: vec_or_empty(&n.aliases),
                driver_opts: btree(&n.driver_opts),
            })
            .collect(),
        log_driver: t.log_driver.as_ref().and_then(|l| {
            l.name.clone().filter(|n| !n.is_empty()).map(|name| Driver {
                name,
                options: btree(&l.options),
            })
        }),
        // "container" is the only runtime; stored as the default so specs compare equal.
        runtime: String::new(),
    })
}

/// A secret or config file target's name, uid, gid and mode as Docker sends them.
type FileFields = (Option<String>, Option<String>, Option<String>, Option<u32>);

fn container_spec_from_api(c: &m::TaskSpecContainerSpec) -> Result<ContainerSpec, ClusterError> {
    if let Some(p) = &c.privileges {
        if p.credential_spec.is_some() {
            return Err(bad(
                "ContainerSpec.Privileges.CredentialSpec is not supported on Linux",
            ));
        }
        if p.se_linux_context
            .as_ref()
            .is_some_and(|s| s.disable == Some(false) && s.user.is_some())
        {
            return Err(bad(
                "ContainerSpec.Privileges.SELinuxContext is not supported by Shoal",
            ));
        }
        if p.seccomp
            .as_ref()
            .and_then(|s| s.mode)
            .is_some_and(|m| m.to_string() != "default" && !m.to_string().is_empty())
        {
            return Err(bad(
                "ContainerSpec.Privileges.Seccomp is not supported by Shoal",
            ));
        }
        if p.app_armor
            .as_ref()
            .and_then(|s| s.mode)
            .is_some_and(|m| m.to_string() != "default" && !m.to_string().is_empty())
        {
            return Err(bad(
                "ContainerSpec.Privileges.AppArmor is not supported by Shoal",
            ));
        }
        if p.no_new_privileges == Some(true) {
            return Err(bad(
                "ContainerSpec.Privileges.NoNewPrivileges is not supported by Shoal",
            ));
        }
    }
    if c.oom_score_adj.is_some_and(|v| v != 0) {
        return Err(bad("ContainerSpec.OomScoreAdj is not supported by Shoal"));
    }
    let isolation = c.isolation.map(|i| i.to_string()).unwrap_or_default();
    if !isolation.is_empty() && isolation != "default" {
        return Err(bad(format!(
            "ContainerSpec.Isolation {isolation:?} is not supported on Linux"
        )));
    }
    let mut mounts = Vec::new();
    for mt in c.mounts.iter().flatten() {
        mounts.push(mount_from_api(mt)?);
    }
    let file = |f: Option<FileFields>| {
        f.map(|(name, uid, gid, mode)| FileTarget {
            name: name.unwrap_or_default(),
            uid: uid.unwrap_or_default(),
            gid: gid.unwrap_or_default(),
            mode: mode.unwrap_or(0o444),
        })
    };
    Ok(ContainerSpec {
        // Not in the API's spec: the backend sets it from `X-Registry-Auth`.
        pull_options: None,
        image: c.image.clone().unwrap_or_default(),
        labels: btree(&c.labels),
        command: vec_or_empty(&c.command),
        args: vec_or_empty(&c.args),
        hostname: c.hostname.clone().unwrap_or_default(),
        env: vec_or_empty(&c.env),
        dir: c.dir.clone().unwrap_or_default(),
        user: c.user.clone().unwrap_or_default(),
        groups: vec_or_empty(&c.groups),
        tty: c.tty.unwrap_or(false),
        open_stdin: c.open_stdin.unwrap_or(false),
        read_only: c.read_only.unwrap_or(false),
        mounts,
        stop_signal: c.stop_signal.clone().unwrap_or_default(),
        stop_grace_period_ns: c.stop_grace_period,
        healthcheck: c.health_check.as_ref().map(|h| HealthConfig {
            test: vec_or_empty(&h.test),
            interval_ns: h.interval.unwrap_or(0),
            timeout_ns: h.timeout.unwrap_or(0),
            start_period_ns: h.start_period.unwrap_or(0),
            start_interval_ns: h.start_interval.unwrap_or(0),
            retries: u64::try_from(h.retries.unwrap_or(0)).unwrap_or(0),
        }),
        hosts: vec_or_empty(&c.hosts),
        dns_config: c
            .dns_config
            .as_ref()
            .filter(|d| {
                d.nameservers.as_ref().is_some_and(|v| !v.is_empty())
                    || d.search.as_ref().is_some_and(|v| !v.is_empty())
                    || d.options.as_ref().is_some_and(|v| !v.is_empty())
            })
            .map(|d| DnsConfig {
                nameservers: vec_or_empty(&d.nameservers),
                search: vec_or_empty(&d.search),
                options: vec_or_empty(&d.options),
            }),
        secrets: c
            .secrets
            .iter()
            .flatten()
            .map(|s| SecretReference {
                secret_id: SecretId::new(s.secret_id.clone().unwrap_or_default()),
                secret_name: s.secret_name.clone().unwrap_or_default(),
                file: file(
                    s.file
                        .as_ref()
                        .map(|f| (f.name.clone(), f.uid.clone(), f.gid.clone(), f.mode)),
                ),
            })
            .collect(),
        configs: c
            .configs
            .iter()
            .flatten()
            .map(|s| ConfigReference {
                config_id: ConfigId::new(s.config_id.clone().unwrap_or_default()),
                config_name: s.config_name.clone().unwrap_or_default(),
                file: file(
                    s.file
                        .as_ref()
                        .map(|f| (f.name.clone(), f.uid.clone(), f.gid.clone(), f.mode)),
                ),
                runtime: s.runtime.is_some(),
            })
            .collect(),
        init: c.init,
        sysctls: btree(&c.sysctls),
        capability_add: vec_or_empty(&c.capability_add),
        capability_drop: vec_or_empty(&c.capability_drop),
        ulimits: c
            .ulimits
            .iter()
            .flatten()
            .map(|u| Ulimit {
                name: u.name.clone().unwrap_or_default(),
                soft: u.soft.unwrap_or(0),
                hard: u.hard.unwrap_or(0),
            })
            .collect(),
        isolation,
    })
}

fn mount_from_api(mt: &m::Mount) -> Result<Mount, ClusterError> {
    let kind = match mt.typ.map(|t| t.to_string()).as_deref().unwrap_or("") {
        "bind" => MountType::Bind,
        "" | "volume" => MountType::Volume,
        "tmpfs" => MountType::Tmpfs,
        "npipe" => MountType::Npipe,
        "cluster" => MountType::Cluster,
        other => {
            return Err(bad(format!(
                "ContainerSpec.Mounts: mount type {other:?} is not supported by Shoal"
            )));
        }
    };
    if mt.image_options.is_some() {
        return Err(bad(
            "ContainerSpec.Mounts: image mounts are not supported by Shoal",
        ));
    }
    Ok(Mount {
        kind,
        source: mt.source.clone().unwrap_or_default(),
        target: mt.target.clone().unwrap_or_default(),
        read_only: mt.read_only.unwrap_or(false),
        consistency: mt.consistency.clone().unwrap_or_default(),
        bind_options: mt.bind_options.as_ref().map(|b| BindOptions {
            propagation: b.propagation.map(|p| p.to_string()).unwrap_or_default(),
            non_recursive: b.non_recursive.unwrap_or(false),
        }),
        volume_options: mt.volume_options.as_ref().map(|v| VolumeOptions {
            no_copy: v.no_copy.unwrap_or(false),
            labels: btree(&v.labels),
            driver_config: v.driver_config.as_ref().and_then(|d| {
                d.name.clone().map(|name| Driver {
                    name,
                    options: btree(&d.options),
                })
            }),
            subpath: v.subpath.clone().unwrap_or_default(),
        }),
        tmpfs_options: mt.tmpfs_options.as_ref().map(|t| TmpfsOptions {
            size_bytes: t.size_bytes.unwrap_or(0),
            mode: u32::try_from(t.mode.unwrap_or(0)).unwrap_or(0),
        }),
    })
}
