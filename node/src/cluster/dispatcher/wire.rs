//! Dispatcher wire messages (JSON inside `pb::Msg`, like the rest of `cluster.proto`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shoal_scheduler::model::service::PortConfig;
use shoal_scheduler::model::{
    Config, ConfigId, Secret, SecretId, ServiceId, Task, TaskId, TaskStatus,
};

/// What an agent needs to know of a task's service beyond the task itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service's name (container names and labels).
    pub name: String,
    /// Its published ports (host-mode ports bind on the task's node).
    pub ports: Vec<PortConfig>,
}

/// One message of the assignments stream.
///
/// The first message of a session has `full` set: it replaces everything the agent holds
/// (tasks missing from it are no longer the node's). Later messages carry only changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssignmentBatch {
    /// Whether this is the complete set.
    pub full: bool,
    /// Tasks added or changed (desired state, spec).
    pub tasks: Vec<Task>,
    /// Tasks no longer assigned (deleted from the store or moved away).
    pub removed_tasks: Vec<TaskId>,
    /// The services of the tasks in this batch.
    pub services: BTreeMap<ServiceId, ServiceInfo>,
    /// Secrets a task of this node needs, added or changed.
    pub secrets: Vec<Secret>,
    /// Secrets no task of this node needs any more.
    pub removed_secrets: Vec<SecretId>,
    /// Configs, as secrets.
    pub configs: Vec<Config>,
    /// Configs no task of this node needs any more.
    pub removed_configs: Vec<ConfigId>,
}

impl AssignmentBatch {
    /// Whether the batch carries nothing.
    pub fn is_empty(&self) -> bool {
        !self.full
            && self.tasks.is_empty()
            && self.removed_tasks.is_empty()
            && self.services.is_empty()
            && self.secrets.is_empty()
            && self.removed_secrets.is_empty()
            && self.configs.is_empty()
            && self.removed_configs.is_empty()
    }
}

/// One observed state change of a task on the reporting node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The task.
    pub task_id: TaskId,
    /// Its new status (state, message, error, container, exit code).
    pub status: TaskStatus,
}

/// `UpdateTaskStatus`: a batch of changes from one agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// In the order they happened.
    pub updates: Vec<StatusUpdate>,
}
