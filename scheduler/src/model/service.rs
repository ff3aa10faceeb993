//! Services: the desired state the orchestrator reconciles tasks against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{NetworkId, ServiceId};
use super::meta::Meta;
use super::task::TaskSpec;

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
}

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Unique service name (a DNS label).
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Template every task of the service is created from.
    pub task_template: TaskSpec,
    /// Replicated or global.
    pub mode: ServiceMode,
    /// Networks the tasks attach to.
    pub networks: Vec<NetworkId>,
}

/// How many tasks a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMode {
    /// A fixed number of tasks, one per slot.
    Replicated {
        /// Desired task count.
        replicas: u64,
    },
    /// One task on every eligible node.
    Global,
}

impl Default for ServiceMode {
    fn default() -> Self {
        ServiceMode::Replicated { replicas: 1 }
    }
}
