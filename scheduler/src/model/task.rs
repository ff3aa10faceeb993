//! Tasks: one scheduled instance of a service, and the unit the agent runs.
//!
//! Writers: the orchestrator creates tasks and sets `desired_state`; the allocator moves them to
//! PENDING; the scheduler sets `node_id` and ASSIGNED; the agent (through the dispatcher) writes
//! `status` from ACCEPTED on. `status.state` never moves backwards (see [`super::task_state`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{NodeId, ServiceId, TaskId};
use super::meta::{Meta, Timestamp};
use super::task_state::TaskState;

/// A task object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task's ID.
    pub id: TaskId,
    /// Version and timestamps.
    pub meta: Meta,
    /// The owning service.
    pub service_id: ServiceId,
    /// Replica slot (1-based) for replicated services; 0 for global ones.
    pub slot: u64,
    /// The node it is assigned to, once scheduled.
    pub node_id: Option<NodeId>,
    /// What to run, copied from the service at creation.
    pub spec: TaskSpec,
    /// The state the orchestrator wants the task in.
    pub desired_state: TaskState,
    /// The observed state.
    pub status: TaskStatus,
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The container to run.
    pub container: ContainerSpec,
    /// Placement constraints, e.g. `node.role==manager`.
    pub constraints: Vec<String>,
}

/// The container part of a task spec.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Image reference.
    pub image: String,
    /// Entrypoint override.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
}

/// The observed state of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskStatus {
    /// Current state.
    pub state: TaskState,
    /// When the state was reached, stamped by the writer.
    pub timestamp: Timestamp,
    /// Short human-readable message ("started", "no suitable node (…)").
    pub message: String,
    /// Error text when the task failed or was rejected.
    pub err: String,
    /// The container ID on the node, once created.
    pub container_id: String,
}
