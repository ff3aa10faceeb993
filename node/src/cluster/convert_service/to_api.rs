//! The replicated model to Docker's `Service` and `Task` shapes (`GET /services`, `/tasks`).

use std::collections::{BTreeMap, HashMap};

use shoal_api::models as m;
use shoal_scheduler::model::container::MountType;
use shoal_scheduler::model::service::{
    FailureAction, PortProtocol, PublishMode, ResolutionMode, ServiceMode, UpdateConfig,
    UpdateOrder,
};
use shoal_scheduler::model::{
    ContainerSpec, RestartCondition, Service, ServiceSpec, Task, TaskSpec, TaskState,
};

use crate::cluster::convert::time;

/// Running/desired/completed task counts (`GET /services?status=true`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    /// Tasks running.
    pub running: u64,
    /// Tasks wanted.
    pub desired: u64,
    /// Job tasks completed.
    pub completed: u64,
}

/// Docker's defaults (`insertDefaults`): swarmkit's `api/defaults`.
const DEFAULT_STOP_GRACE_NS: i64 = 10_000_000_000;
const DEFAULT_RESTART_DELAY_NS: i64 = 5_000_000_000;

fn hash(l: &BTreeMap<String, String>) -> HashMap<String, String> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn some_vec<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn some_str(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn version(index: u64) -> Option<m::ObjectVersion> {
    Some(m::ObjectVersion { index: Some(index) })
}

fn update_config(u: &UpdateConfig) -> m::ServiceSpecUpdateConfig {
    m::ServiceSpecUpdateConfig {
        parallelism: Some(i64::try_from(u.parallelism).unwrap_or(i64::MAX)),
        delay: (u.delay_ns != 0).then_some(u.delay_ns),
        failure_action: Some(match u.failure_action {
            FailureAction::Pause => m::ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            FailureAction::Continue => m::ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            FailureAction::Rollback => m::ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
        }),
        monitor: Some(u.monitor()),
        max_failure_ratio: Some(f64::from(u.max_failure_ratio)),
        order: Some(match u.order {
            UpdateOrder::StopFirst => m::ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => m::ServiceSpecUpdateConfigOrderEnum::START_FIRST,
        }),
    }
}

fn rollback_config(u: &UpdateConfig) -> m::ServiceSpecRollbackConfig {
    let c = update_config(u);
    m::ServiceSpecRollbackConfig {
        parallelism: c.parallelism,
        delay: c.delay,
        failure_action: c.failure_action.and_then(|a| a.to_string().parse().ok()),
        monitor: c.monitor,
        max_failure_ratio: c.max_failure_ratio,
        order: c.order.and_then(|o| o.to_string().parse().ok()),
    }
}

fn container_to_api(c: &ContainerSpec, defaults: bool) -> m::TaskSpecContainerSpec {
    let file = |f: &Option<shoal_scheduler::model::container::FileTarget>| {
        f.as_ref()
            .map(|f| (f.name.clone(), f.uid.clone(), f.gid.clone(), f.mode))
    };
    m::TaskSpecContainerSpec {
        image: some_str(&c.image),
        labels: (!c.labels.is_empty()).then(|| hash(&c.labels)),
        command: some_vec(&c.command),
        args: some_vec(&c.args),
        hostname: some_str(&c.hostname),
        env: some_vec(&c.env),
        dir: some_str(&c.dir),
        user: some_str(&c.user),
        groups: some_vec(&c.groups),
        tty: c.tty.then_some(true),
        open_stdin: c.open_stdin.then_some(true),
        read_only: c.read_only.then_some(true),
        mounts: some_vec(
            &c.mounts
                .iter()
                .map(|mt| m::Mount {
                    target: some_str(&mt.target),
                    source: some_str(&mt.source),
                    typ: Some(match mt.kind {
                        MountType::Bind => m::MountTypeEnum::BIND,
                        MountType::Volume => m::MountTypeEnum::VOLUME,
                        MountType::Tmpfs => m::MountTypeEnum::TMPFS,
                        MountType::Npipe => m::MountTypeEnum::NPIPE,
                        MountType::Cluster => m::MountTypeEnum::CLUSTER,
                    }),
                    read_only: mt.read_only.then_some(true),
                    consistency: some_str(&mt.consistency),
                    bind_options: mt.bind_options.as_ref().map(|b| m::MountBindOptions {
                        propagation: b.propagation.parse().ok(),
                        non_recursive: b.non_recursive.then_some(true),
                        ..Default::default()
                    }),
                    volume_options: mt.volume_options.as_ref().map(|v| m::MountVolumeOptions {
                        no_copy: v.no_copy.then_some(true),
                        labels: (!v.labels.is_empty()).then(|| hash(&v.labels)),
                        driver_config: v.driver_config.as_ref().map(|d| {
                            m::MountVolumeOptionsDriverConfig {
                                name: Some(d.name.clone()),
                                options: Some(hash(&d.options)),
                            }
                        }),
                        subpath: some_str(&v.subpath),
                    }),
                    tmpfs_options: mt.tmpfs_options.as_ref().map(|t| m::MountTmpfsOptions {
                        size_bytes: (t.size_bytes != 0).then_some(t.size_bytes),
                        mode: (t.mode != 0).then_some(i64::from(t.mode)),
                        options: None,
                    }),
                    image_options: None,
                })
                .collect::<Vec<_>>(),
        ),
        stop_signal: some_str(&c.stop_signal),
        stop_grace_period: c
            .stop_grace_period_ns
            .or(defaults.then_some(DEFAULT_STOP_GRACE_NS)),
        health_check: c.healthcheck.as_ref().map(|h| m::HealthConfig {
            test: some_vec(&h.test),
            interval: (h.interval_ns != 0).then_some(h.interval_ns),
            timeout: (h.timeout_ns != 0).then_some(h.timeout_ns),
            retries: (h.retries != 0).then(|| i64::try_from(h.retries).unwrap_or(i64::MAX)),
            start_period: (h.start_period_ns != 0).then_some(h.start_period_ns),
            start_interval: (h.start_interval_ns != 0).then_some(h.start_interval_ns),
        }),
        hosts: some_vec(&c.hosts),
        dns_config: match &c.dns_config {
            Some(d) => Some(m::TaskSpecContainerSpecDnsConfig {
                nameservers: some_vec(&d.nameservers),
                search: some_vec(&d.search),
                options: some_vec(&d.options),
            }),
            None => defaults.then(Default::default),
        },
        secrets: some_vec(
            &c.secrets
                .iter()
                .map(|s| m::TaskSpecContainerSpecSecrets {
                    file: file(&s.file).map(|(name, uid, gid, mode)| {
                        m::TaskSpecContainerSpecFile {
                            name: Some(name),
                            uid: Some(uid),
                            gid: Some(gid),
                            mode: Some(mode),
                        }
                    }),
                    secret_id: Some(s.secret_id.to_string()),
                    secret_name: Some(s.secret_name.clone()),
                })
                .collect::<Vec<_>>(),
        ),
        oom_score_adj: None,
        configs: some_vec(
            &c.configs
                .iter()
                .map(|s| m::TaskSpecContainerSpecConfigs {
                    file: file(&s.file).map(|(name, uid, gid, mode)| {
                        m::TaskSpecContainerSpecFile1 {
                            name: Some(name),
                            uid: Some(uid),
                            gid: Some(gid),
                            mode: Some(mode),
                        }
                    }),
                    runtime: s.runtime.then(HashMap::new),
                    config_id: Some(s.config_id.to_string()),
                    config_name: Some(s.config_name.clone()),
                })
                .collect::<Vec<_>>(),
        ),
        isolation: Some(
            c.isolation
                .parse()
                .unwrap_or(m::TaskSpecContainerSpecIsolationEnum::DEFAULT),
        ),
        init: c.init,
        sysctls: (!c.sysctls.is_empty()).then(|| hash(&c.sysctls)),
        capability_add: some_vec(&c.capability_add),
        capability_drop: some_vec(&c.capability_drop),
        ulimits: some_vec(
            &c.ulimits
                .iter()
                .map(|u| m::ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect::<Vec<_>>(),
        ),
        privileges: None,
    }
}

/// A model task spec as Docker shows it (`defaults`: fill Docker's default values).
pub fn task_spec_to_api(t: &TaskSpec, defaults: bool) -> m::TaskSpec {
    let r = &t.restart_policy;
    m::TaskSpec {
        container_spec: Some(container_to_api(&t.container, defaults)),
        resources: Some(m::TaskSpecResources {
            limits: t.resources.limits.as_ref().map(|l| m::Limit {
                nano_cpus: (l.nano_cpus != 0).then_some(l.nano_cpus),
                memory_bytes: (l.memory_bytes != 0).then_some(l.memory_bytes),
                pids: (l.pids != 0).then_some(l.pids),
            }),
            reservations: t
                .resources
                .reservations
                .as_ref()
                .map(|l| m::ResourceObject {
                    nano_cpus: (l.nano_cpus != 0).then_some(l.nano_cpus),
                    memory_bytes: (l.memory_bytes != 0).then_some(l.memory_bytes),
                    generic_resources: None,
                }),
        }),
        restart_policy: Some(m::TaskSpecRestartPolicy {
            condition: Some(match r.condition {
                RestartCondition::Any => m::TaskSpecRestartPolicyConditionEnum::ANY,
                RestartCondition::None => m::TaskSpecRestartPolicyConditionEnum::NONE,
                RestartCondition::OnFailure => m::TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            }),
            delay: r.delay_ns.or(defaults.then_some(DEFAULT_RESTART_DELAY_NS)),
            max_attempts: Some(i64::try_from(r.max_attempts).unwrap_or(i64::MAX)),
            window: (r.window_ns != 0).then_some(r.window_ns),
        }),
        placement: Some(m::TaskSpecPlacement {
            constraints: some_vec(&t.placement.constraints),
            preferences: some_vec(
                &t.placement
                    .preferences
                    .iter()
                    .map(|p| m::TaskSpecPlacementPreferences {
                        spread: Some(m::TaskSpecPlacementSpread {
                            spread_descriptor: Some(p.spread.clone()),
                        }),
                    })
                    .collect::<Vec<_>>(),
            ),
            max_replicas: (t.placement.max_replicas != 0)
                .then(|| i64::try_from(t.placement.max_replicas).unwrap_or(i64::MAX)),
            platforms: some_vec(
                &t.placement
                    .platforms
                    .iter()
                    .map(|p| m::Platform {
                        architecture: some_str(&p.architecture),
                        os: some_str(&p.os),
                    })
                    .collect::<Vec<_>>(),
            ),
        }),
        force_update: Some(t.force_update),
        runtime: Some(if t.runtime.is_empty() {
            "container".into()
        } else {
            t.runtime.clone()
        }),
        networks: some_vec(
            &t.networks
                .iter()
                .map(|n| m::NetworkAttachmentConfig {
                    target: Some(n.target.to_string()),
                    aliases: some_vec(&n.aliases),
                    driver_opts: (!n.driver_opts.is_empty()).then(|| hash(&n.driver_opts)),
                })
                .collect::<Vec<_>>(),
        ),
        log_driver: t.log_driver.as_ref().map(|d| m::TaskSpecLogDriver {
            name: Some(d.name.clone()),
            options: Some(hash(&d.options)),
        }),
        plugin_spec: None,
        network_attachment_spec: None,
    }
}

fn endpoint_ports(
    ports: &[shoal_scheduler::model::service::PortConfig],
) -> Vec<m::EndpointPortConfig> {
    ports
        .iter()
        .map(|p| m::EndpointPortConfig {
            name: some_str(&p.name),
            protocol: Some(match p.protocol {
                PortProtocol::Tcp => m::EndpointPortConfigProtocolEnum::TCP,
                PortProtocol::Udp => m::EndpointPortConfigProtocolEnum::UDP,
                PortProtocol::Sctp => m::EndpointPortConfigProtocolEnum::SCTP,
            }),
            target_port: Some(i64::from(p.target_port)),
            published_port: (p.published_port != 0).then_some(i64::from(p.published_port)),
            publish_mode: Some(match p.publish_mode {
                PublishMode::Ingress => m::EndpointPortConfigPublishModeEnum::INGRESS,
                PublishMode::Host => m::EndpointPortConfigPublishModeEnum::HOST,
            }),
        })
        .collect()
}

/// A model service spec as Docker shows it.
pub fn service_spec_to_api(s: &ServiceSpec, defaults: bool) -> m::ServiceSpec {
    let mode = match s.mode {
        ServiceMode::Replicated { replicas } => m::ServiceSpecMode {
            replicated: Some(m::ServiceSpecModeReplicated {
                replicas: Some(i64::try_from(replicas).unwrap_or(i64::MAX)),
            }),
            ..Default::default()
        },
        ServiceMode::Global => m::ServiceSpecMode {
            global: Some(HashMap::new()),
            ..Default::default()
        },
        ServiceMode::ReplicatedJob {
            max_concurrent,
            total_completions,
        } => m::ServiceSpecMode {
            replicated_job: Some(m::ServiceSpecModeReplicatedJob {
                max_concurrent: Some(i64::try_from(max_concurrent).unwrap_or(i64::MAX)),
                total_completions: Some(i64::try_from(total_completions).unwrap_or(i64::MAX)),
            }),
            ..Default::default()
        },
        ServiceMode::GlobalJob => m::ServiceSpecMode {
            global_job: Some(HashMap::new()),
            ..Default::default()
        },
    };
    let default_update = defaults.then(UpdateConfig::default);
    m::ServiceSpec {
        name: Some(s.name.clone()),
        labels: Some(hash(&s.labels)),
        task_template: Some(task_spec_to_api(&s.task_template, defaults)),
        mode: Some(mode),
        update_config: s
            .update_config
            .or(default_update)
            .as_ref()
            .map(update_config),
        rollback_config: s
            .rollback_config
            .or(default_update)
            .as_ref()
            .map(rollback_config),
        networks: some_vec(
            &s.networks
                .iter()
                .map(|n| m::NetworkAttachmentConfig {
                    target: Some(n.to_string()),
                    ..Default::default()
                })
                .collect::<Vec<_>>(),
        ),
        endpoint_spec: Some(m::EndpointSpec {
            mode: Some(match s.endpoint_spec.mode {
                ResolutionMode::Vip => m::EndpointSpecModeEnum::VIP,
                ResolutionMode::Dnsrr => m::EndpointSpecModeEnum::DNSRR,
            }),
            ports: some_vec(&endpoint_ports(&s.endpoint_spec.ports)),
        }),
    }
}

/// A service as `GET /services` shows it; `counts` fills `ServiceStatus` when asked for.
pub fn service_to_api(s: &Service, defaults: bool, counts: Option<ServiceCounts>) -> m::Service {
    m::Service {
        id: Some(s.id.to_string()),
        version: version(s.meta.version.index),
        created_at: Some(time(s.meta.created_at)),
        updated_at: Some(time(s.meta.updated_at)),
        spec: Some(service_spec_to_api(&s.spec, defaults)),
        endpoint: Some(m::ServiceEndpoint {
            spec: Some(m::EndpointSpec {
                mode: Some(match s.spec.endpoint_spec.mode {
                    ResolutionMode::Vip => m::EndpointSpecModeEnum::VIP,
                    ResolutionMode::Dnsrr => m::EndpointSpecModeEnum::DNSRR,
                }),
                ports: some_vec(&endpoint_ports(&s.spec.endpoint_spec.ports)),
            }),
            ports: s
                .endpoint
                .as_ref()
                .and_then(|e| some_vec(&endpoint_ports(&e.ports))),
            virtual_ips: None,
        }),
        update_status: s.update_status.as_ref().map(|u| m::ServiceUpdateStatus {
            state: u.state.as_str().parse().ok(),
            started_at: u.started_at.map(time),
            completed_at: u.completed_at.map(time),
            message: some_str(&u.message),
        }),
        service_status: counts.map(|c| m::ServiceServiceStatus {
            running_tasks: Some(c.running),
            desired_tasks: Some(c.desired),
            completed_tasks: Some(c.completed),
        }),
        job_status: s.job_status.as_ref().map(|j| m::ServiceJobStatus {
            job_iteration: version(j.job_iteration),
            last_execution: j.last_execution.map(time),
        }),
    }
}

fn task_state(s: TaskState) -> m::TaskState {
    s.as_str().parse().unwrap_or(m::TaskState::NEW)
}

/// A task as `GET /tasks` shows it.
pub fn task_to_api(t: &Task) -> m::Task {
    let cs = t.status.container_status.as_ref();
    m::Task {
        id: Some(t.id.to_string()),
        version: version(t.meta.version.index),
        created_at: Some(time(t.meta.created_at)),
        updated_at: Some(time(t.meta.updated_at)),
        name: None,
        labels: Some(HashMap::new()),
        spec: Some(task_spec_to_api(&t.spec, false)),
        service_id: Some(t.service_id.to_string()),
        slot: (t.slot != 0).then(|| i64::try_from(t.slot).unwrap_or(i64::MAX)),
        node_id: t.node_id.as_ref().map(|n| n.to_string()),
        assigned_generic_resources: None,
        status: Some(m::TaskStatus {
            timestamp: Some(time(t.status.timestamp)),
            state: Some(task_state(t.status.state)),
            message: Some(t.status.message.clone()),
            err: some_str(&t.status.err),
            container_status: cs.map(|c| m::ContainerStatus {
                container_id: some_str(&c.container_id),
                pid: Some(c.pid),
                exit_code: c.exit_code,
            }),
            port_status: Some(m::PortStatus {
                ports: some_vec(&endpoint_ports(&t.status.port_status)),
            }),
        }),
        desired_state: Some(task_state(t.desired_state)),
        job_iteration: t.job_iteration.and_then(version_opt),
    }
}

fn version_opt(i: u64) -> Option<m::ObjectVersion> {
    version(i)
}
