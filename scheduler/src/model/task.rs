//! Tasks: one scheduled instance of a service (see [`super::task_state`]).
//!
//! Writers (one per field, swarmkit's task model): the orchestrator creates a task and owns
//! `desired_state`, `spec`, `spec_version`, `job_iteration`, `restart`; the allocator moves it
//! NEW → PENDING and fills `networks`; the scheduler moves it PENDING → ASSIGNED and sets
//! `node_id` and `assigned_generic_resources`; the agent (through the dispatcher) writes
//! `status` from ACCEPTED on; the reaper deletes it.

use serde::{Deserialize, Serialize};

use super::ids::{NetworkId, NodeId, ServiceId, TaskId};
use super::meta::{Meta, Timestamp};
use super::service::{Endpoint, PortConfig, Service};
use super::task_spec::GenericResource;
use super::task_state::TaskState;

pub use super::container::ContainerSpec;
pub use super::task_spec::TaskSpec;

/// A task object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task's ID.
    pub id: TaskId,
    /// Version and timestamps.
    pub meta: Meta,
    /// The owning service.
    pub service_id: ServiceId,
    /// Replica slot (1-based) for replicated services and jobs; 0 for global ones.
    pub slot: u64,
    /// The node it is assigned to, once scheduled (set at creation for global modes).
    pub node_id: Option<NodeId>,
    /// What to run, copied from the service at creation.
    pub spec: TaskSpec,
    /// The state the orchestrator wants the task in: RUNNING, READY (prepare but wait, e.g.
    /// during a restart delay), COMPLETE (jobs), SHUTDOWN or REMOVE.
    pub desired_state: TaskState,
    /// The observed state.
    pub status: TaskStatus,
    /// The service's `spec_version` the task was created from.
    #[serde(default)]
    pub spec_version: u64,
    /// For jobs: the job iteration the task belongs to.
    #[serde(default)]
    pub job_iteration: Option<u64>,
    /// Generic resources the scheduler reserved for this task on its node.
    #[serde(default)]
    pub assigned_generic_resources: Vec<GenericResource>,
    /// Network attachments (addresses are the next issue's; today the allocator records the
    /// networks only).
    #[serde(default)]
    pub networks: Vec<NetworkAttachment>,
    /// The service endpoint the task was allocated against.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Restart bookkeeping carried from the task this one replaced.
    #[serde(default)]
    pub restart: RestartInfo,
    /// The service's name and labels when the task was created (swarmkit's
    /// `ServiceAnnotations`): the agent needs them for container names, the
    /// `com.docker.swarm.service.name` label and templates without reading the service.
    #[serde(default)]
    pub service_annotations: Annotations,
}

/// A name and labels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Annotations {
    /// The name.
    pub name: String,
    /// The labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Task {
    /// A NEW task of `service` in `slot` (0 for global modes) as the orchestrator creates it:
    /// the service's current template, spec version and job iteration, desired RUNNING, and
    /// `node_id` preset for global modes.
    pub fn new(
        id: TaskId,
        service: &Service,
        slot: u64,
        node_id: Option<NodeId>,
        now: Timestamp,
    ) -> Self {
        Task {
            id,
            meta: Meta::new(now),
            service_id: service.id.clone(),
            slot,
            node_id,
            spec: service.spec.task_template.clone(),
            desired_state: TaskState::Running,
            status: TaskStatus {
                state: TaskState::New,
                timestamp: now,
                message: "created".into(),
                ..Default::default()
            },
            spec_version: service.spec_version,
            job_iteration: service.job_status.map(|j| j.job_iteration),
            assigned_generic_resources: Vec::new(),
            networks: Vec::new(),
            // Only an endpoint allocated for the current spec; the allocator fills it otherwise.
            endpoint: service
                .endpoint
                .clone()
                .filter(|e| e.spec == service.spec.endpoint_spec),
            restart: RestartInfo::default(),
            service_annotations: Annotations {
                name: service.spec.name.clone(),
                labels: service.spec.labels.clone(),
            },
        }
    }

    /// Docker's task name: `<service>.<slot>.<task id>`, or `<service>.<node id>.<task id>` for
    /// global modes.
    pub fn name(&self, service_name: &str) -> String {
        match (&self.node_id, self.slot) {
            (Some(node), 0) => format!("{service_name}.{node}.{}", self.id),
            _ => format!("{service_name}.{}.{}", self.slot, self.id),
        }
    }
}

/// Restart bookkeeping, kept in the store (not in the leader's memory as swarmkit does) so a
/// new leader counts restarts exactly as the old one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartInfo {
    /// Restarts of this slot (or node, for global) under the current spec version.
    pub attempts: u64,
    /// When each recent restart happened (only those that may still fall in the window).
    pub recent: Vec<Timestamp>,
    /// The task was created as a restart and must not start before this time; the
    /// orchestrator moves `desired_state` from READY to RUNNING once it is reached.
    pub not_before: Option<Timestamp>,
    /// The task this one replaced.
    pub replaces: Option<TaskId>,
}

/// A task's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    /// The network.
    pub network_id: NetworkId,
    /// CIDR addresses allocated on it.
    pub addresses: Vec<String>,
    /// DNS aliases.
    pub aliases: Vec<String>,
}

/// The observed state of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TaskStatus {
    /// Current state.
    pub state: TaskState,
    /// When the state was reached, stamped by the writer.
    pub timestamp: Timestamp,
    /// Short human-readable message ("started", "no suitable node (…)").
    pub message: String,
    /// Error text when the task failed or was rejected.
    pub err: String,
    /// The container, once the agent created it.
    pub container_status: Option<ContainerStatus>,
    /// Host-mode ports as bound on the node.
    pub port_status: Vec<PortConfig>,
}

impl TaskStatus {
    /// The container ID, or "" before the agent created one.
    pub fn container_id(&self) -> &str {
        self.container_status
            .as_ref()
            .map_or("", |c| c.container_id.as_str())
    }

    /// The exit code, once the container exited.
    pub fn exit_code(&self) -> Option<i64> {
        self.container_status.as_ref().and_then(|c| c.exit_code)
    }
}

/// Docker's `ContainerStatus` of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerStatus {
    /// The container ID on the node.
    pub container_id: String,
    /// The main process's PID while it runs (0 otherwise).
    pub pid: i64,
    /// The exit code once the container exited.
    pub exit_code: Option<i64>,
}

/// The stored form of [`TaskStatus`]; accepts the first format's top-level `container_id`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskStatusData {
    state: TaskState,
    timestamp: Timestamp,
    message: String,
    err: String,
    container_status: Option<ContainerStatus>,
    port_status: Vec<PortConfig>,
    /// The first format's container ID.
    container_id: String,
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = TaskStatusData::deserialize(d)?;
        let container_status = match data.container_status {
            Some(c) => Some(c),
            None if !data.container_id.is_empty() => Some(ContainerStatus {
                container_id: data.container_id,
                ..Default::default()
            }),
            None => None,
        };
        Ok(TaskStatus {
            state: data.state,
            timestamp: data.timestamp,
            message: data.message,
            err: data.err,
            container_status,
            port_status: data.port_status,
        })
    }
}
