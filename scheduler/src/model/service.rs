//! Services: the desired state the orchestrator reconciles tasks against.
//!
//! Writers: `spec`, `previous_spec` and `spec_version` by the control API (`docker service
//! create/update/rollback`); `update_status` and `job_status` by the orchestrator; `endpoint`
//! by the allocator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{NetworkId, ServiceId};
use super::meta::{Meta, Timestamp};
use super::task_spec::TaskSpec;

/// A service object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The service's ID.
    pub id: ServiceId,
    /// Version and timestamps.
    pub meta: Meta,
    /// The operator's desired state (`docker service create/update`).
    pub spec: ServiceSpec,
    /// The spec before the last update, kept for `docker service rollback`.
    pub previous_spec: Option<ServiceSpec>,
    /// Counts spec changes: the control API sets 1 on create and adds 1 on every update of
    /// `spec` (Docker's `Version` of the spec; tasks record the value they were made from).
    #[serde(default)]
    pub spec_version: u64,
    /// The `spec_version` of `previous_spec`, restored with it on rollback.
    #[serde(default)]
    pub previous_spec_version: u64,
    /// Progress of the last rolling update or rollback, written by the orchestrator.
    #[serde(default)]
    pub update_status: Option<UpdateStatus>,
    /// Progress of a job service, written by the control API (iteration) and orchestrator.
    #[serde(default)]
    pub job_status: Option<JobStatus>,
    /// The published ports as allocated, written by the allocator.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
}

/// What the operator asked for (Docker's `ServiceSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    /// Unique service name (a DNS label).
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Template every task of the service is created from.
    pub task_template: TaskSpec,
    /// Replicated, global or a job.
    pub mode: ServiceMode,
    /// Networks the tasks attach to (Docker's deprecated `ServiceSpec.Networks`; new specs
    /// use [`TaskSpec::networks`]).
    pub networks: Vec<NetworkId>,
    /// How a spec change is rolled out (`None`: Docker's defaults, [`UpdateConfig::default`]).
    pub update_config: Option<UpdateConfig>,
    /// How a rollback is rolled out (`None`: Docker's defaults).
    pub rollback_config: Option<UpdateConfig>,
    /// Published ports and the resolution mode.
    pub endpoint_spec: EndpointSpec,
}

/// Docker's default stop grace period: 10 s.
pub const DEFAULT_STOP_GRACE_PERIOD_NS: i64 = 10_000_000_000;

impl ServiceSpec {
    /// The spec with Docker's defaults filled in where the user left a field unset, as
    /// `GET /services/{id}?insertDefaults=true` shows it (swarmkit `api/defaults`): restart
    /// delay 5 s, update and rollback config (parallelism 1, pause, monitor 5 s, stop-first),
    /// stop grace period 10 s, an empty DNS config.
    pub fn with_defaults(&self) -> ServiceSpec {
        let mut s = self.clone();
        let t = &mut s.task_template;
        t.restart_policy
            .delay_ns
            .get_or_insert(super::task_spec::DEFAULT_RESTART_DELAY_NS);
        t.container
            .stop_grace_period_ns
            .get_or_insert(DEFAULT_STOP_GRACE_PERIOD_NS);
        t.container.dns_config.get_or_insert_with(Default::default);
        if !s.mode.is_job() {
            s.update_config.get_or_insert_with(UpdateConfig::default);
            s.rollback_config.get_or_insert_with(UpdateConfig::default);
        }
        s
    }
}

/// How many tasks a service runs (Docker's `Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// A fixed number of tasks, one per slot.
    Replicated {
        /// Desired task count.
        replicas: u64,
    },
    /// One task on every eligible node.
    Global,
    /// Run tasks to completion until `total_completions` succeeded, at most `max_concurrent` at
    /// a time.
    ReplicatedJob {
        /// Tasks running at once (Docker's default: 1).
        max_concurrent: u64,
        /// Successful completions wanted (Docker's default: `max_concurrent`).
        total_completions: u64,
    },
    /// Run one task to completion on every eligible node.
    GlobalJob,
}

impl Default for ServiceMode {
    fn default() -> Self {
        ServiceMode::Replicated { replicas: 1 }
    }
}

impl ServiceMode {
    /// Whether the mode is a job (tasks run to completion, never restarted once complete).
    pub fn is_job(&self) -> bool {
        matches!(
            self,
            ServiceMode::ReplicatedJob { .. } | ServiceMode::GlobalJob
        )
    }

    /// Whether tasks are per node rather than per slot.
    pub fn is_global(&self) -> bool {
        matches!(self, ServiceMode::Global | ServiceMode::GlobalJob)
    }
}

/// What to do when an update's failures exceed `max_failure_ratio`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Stop updating; the status says `paused` (Docker's default).
    #[default]
    Pause,
    /// Keep going.
    Continue,
    /// Roll back to the previous spec.
    Rollback,
}

/// Which of the old and the new task runs first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop the old task, then start the new one (Docker's default).
    #[default]
    StopFirst,
    /// Start the new task; stop the old one once the new one runs.
    StartFirst,
}

/// Docker's default monitor period after each updated task: 5 s.
pub const DEFAULT_UPDATE_MONITOR_NS: i64 = 5_000_000_000;

/// Docker's `UpdateConfig` (also used for `RollbackConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Tasks updated at once; 0 means all at once (Docker's default: 1).
    pub parallelism: u64,
    /// Pause between batches.
    pub delay_ns: i64,
    /// What to do when too many updated tasks fail.
    pub failure_action: FailureAction,
    /// How long an updated task is watched for failure (0: [`DEFAULT_UPDATE_MONITOR_NS`]).
    pub monitor_ns: i64,
    /// Fraction of updated tasks allowed to fail, 0..=1.
    pub max_failure_ratio: f32,
    /// Stop-first or start-first.
    pub order: UpdateOrder,
}

// `max_failure_ratio` is validated to be a number in 0..=1 (never NaN), so equality is total.
impl Eq for UpdateConfig {}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            parallelism: 1,
            delay_ns: 0,
            failure_action: FailureAction::Pause,
            monitor_ns: DEFAULT_UPDATE_MONITOR_NS,
            max_failure_ratio: 0.0,
            order: UpdateOrder::StopFirst,
        }
    }
}

impl UpdateConfig {
    /// The effective monitor period.
    pub fn monitor(&self) -> i64 {
        if self.monitor_ns > 0 {
            self.monitor_ns
        } else {
            DEFAULT_UPDATE_MONITOR_NS
        }
    }
}

/// Docker's `UpdateStatus.State`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// A rolling update is in progress.
    #[default]
    Updating,
    /// The update stopped after failures (failure action pause).
    Paused,
    /// Every task runs the new spec.
    Completed,
    /// A rollback is in progress.
    RollbackStarted,
    /// The rollback stopped after failures.
    RollbackPaused,
    /// Every task runs the previous spec again.
    RollbackCompleted,
}

impl UpdateState {
    /// Docker's wire name (`updating`, `rollback_started`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollbackStarted => "rollback_started",
            UpdateState::RollbackPaused => "rollback_paused",
            UpdateState::RollbackCompleted => "rollback_completed",
        }
    }

    /// Whether the update or rollback is still moving.
    pub fn in_progress(self) -> bool {
        matches!(self, UpdateState::Updating | UpdateState::RollbackStarted)
    }
}

/// Docker's `UpdateStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateStatus {
    /// Where the update is.
    pub state: UpdateState,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it completed (or paused).
    pub completed_at: Option<Timestamp>,
    /// Docker's text, e.g. "update in progress", "update paused due to failure or early
    /// termination of task X".
    pub message: String,
}

/// Docker's `JobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStatus {
    /// Bumped by the control API every time the job is (re)started by a spec update; tasks of
    /// older iterations do not count towards completion.
    pub job_iteration: u64,
    /// When the current iteration started.
    pub last_execution: Option<Timestamp>,
}

/// How a service's name resolves (`--endpoint-mode`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionMode {
    /// A virtual IP load-balancing the tasks (Docker's default).
    #[default]
    Vip,
    /// DNS round robin over the tasks' addresses.
    Dnsrr,
}

/// Transport of a published port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    /// TCP (default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// How a port is published.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// On every node through the routing mesh (Docker's default; not wired yet in Shoal).
    #[default]
    Ingress,
    /// On the node running the task only.
    Host,
}

/// One published port (Docker's `EndpointPortConfig`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortConfig {
    /// Optional name.
    pub name: String,
    /// tcp, udp or sctp.
    pub protocol: PortProtocol,
    /// The port inside the container.
    pub target_port: u32,
    /// The port on the node(s); 0 lets the allocator pick one (ingress) or the engine pick an
    /// ephemeral one (host).
    pub published_port: u32,
    /// Ingress or host.
    pub publish_mode: PublishMode,
}

/// Docker's `EndpointSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSpec {
    /// vip or dnsrr.
    pub mode: ResolutionMode,
    /// Published ports.
    pub ports: Vec<PortConfig>,
}

/// Docker's `Endpoint`: the spec as allocated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    /// The spec this allocation was made for.
    pub spec: EndpointSpec,
    /// The ports with published ports filled in.
    pub ports: Vec<PortConfig>,
}

impl Service {
    /// A new service as the control API creates it: spec version 1 and, for jobs, iteration 0
    /// started at `now`.
    pub fn new(id: ServiceId, spec: ServiceSpec, now: Timestamp) -> Self {
        let job_status = spec.mode.is_job().then_some(JobStatus {
            job_iteration: 0,
            last_execution: Some(now),
        });
        Self {
            id,
            meta: Meta::new(now),
            spec,
            previous_spec: None,
            previous_spec_version: 0,
            spec_version: 1,
            update_status: None,
            job_status,
            endpoint: None,
        }
    }
}

/// `docker service rollback` on a service that has no previous spec. swarmkit's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service {0} does not have a previous spec")]
pub struct NoPreviousSpec(pub ServiceId);

impl Service {
    /// The service after `docker service update` with `spec` at `now`, as swarmkit's control
    /// API does it: the current spec becomes the previous one, the spec version moves on, the
    /// update status is cleared (so the orchestrator starts a new rolling update), and a job
    /// starts a new iteration. The caller proposes the result as an `Update`.
    pub fn with_new_spec(&self, spec: ServiceSpec, now: Timestamp) -> Service {
        let mut s = self.clone();
        s.previous_spec = Some(std::mem::replace(&mut s.spec, spec));
        // Unique for the service's life: the read version's log index is above every spec
        // version handed out before (swarmkit uses the service's Meta.Version the same way).
        let next = self
            .meta
            .version
            .index
            .max(self.spec_version)
            .max(self.previous_spec_version)
            + 1;
        s.previous_spec_version = s.spec_version;
        s.spec_version = next;
        s.update_status = None;
        if s.spec.mode.is_job() {
            let iteration = s.job_status.map_or(0, |j| j.job_iteration + 1);
            s.job_status = Some(JobStatus {
                job_iteration: iteration,
                last_execution: Some(now),
            });
        }
        s.meta.updated_at = now;
        s
    }

    /// The service after `docker service rollback` (`rollback=previous`) at `now`: the previous
    /// spec comes back (and the current one becomes the previous), with state
    /// `rollback_started` and Docker's "manually requested rollback".
    pub fn rolled_back(&self, now: Timestamp) -> Result<Service, NoPreviousSpec> {
        let mut s = self.clone();
        let prev = s
            .previous_spec
            .take()
            .ok_or_else(|| NoPreviousSpec(self.id.clone()))?;
        s.previous_spec = Some(std::mem::replace(&mut s.spec, prev));
        std::mem::swap(&mut s.spec_version, &mut s.previous_spec_version);
        s.update_status = Some(UpdateStatus {
            state: UpdateState::RollbackStarted,
            started_at: Some(now),
            completed_at: None,
            message: "manually requested rollback".into(),
        });
        s.meta.updated_at = now;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers() {
        let s = ServiceSpec::default().with_defaults();
        assert_eq!(s.task_template.restart_policy.delay_ns, Some(5_000_000_000));
        assert_eq!(
            s.task_template.container.stop_grace_period_ns,
            Some(10_000_000_000)
        );
        let u = s.update_config.unwrap();
        assert_eq!(
            (u.parallelism, u.failure_action, u.monitor_ns, u.order),
            (
                1,
                FailureAction::Pause,
                5_000_000_000,
                UpdateOrder::StopFirst
            )
        );
        assert!(s.rollback_config.is_some());
        let job = ServiceSpec {
            mode: ServiceMode::GlobalJob,
            ..Default::default()
        };
        assert!(
            job.with_defaults().update_config.is_none(),
            "jobs take no update config"
        );
    }

    #[test]
    fn spec_versions_never_repeat_across_updates_and_rollbacks() {
        let mut s = Service::new(ServiceId::new("s"), ServiceSpec::default(), Timestamp(1));
        s.meta.version.index = 3;
        let mut seen = vec![s.spec_version];
        for i in 0..4 {
            let mut spec = s.spec.clone();
            spec.labels.insert("i".into(), i.to_string());
            s = s.with_new_spec(spec, Timestamp(2));
            s.meta.version.index += 2;
            assert!(
                !seen.contains(&s.spec_version),
                "{seen:?} {}",
                s.spec_version
            );
            seen.push(s.spec_version);
            let back = s.rolled_back(Timestamp(3)).unwrap();
            assert_eq!(back.spec_version, seen[seen.len() - 2], "rollback restores");
        }
    }
}
