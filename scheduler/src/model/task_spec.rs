//! [`TaskSpec`]: Docker's `TaskTemplate`, what every task of a service is created from.
//!
//! The orchestrator copies the service's template into each task it creates; a task whose copy
//! differs from the service's template is "dirty" and replaced by a rolling update.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::container::{ContainerSpec, Driver};
use super::ids::NetworkId;
use super::node::Platform;

/// Docker's default restart delay (`docker service create --restart-delay`): 5 s.
pub const DEFAULT_RESTART_DELAY_NS: i64 = 5_000_000_000;

/// What a task runs and how it is placed and restarted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TaskSpec {
    /// The container to run.
    pub container: ContainerSpec,
    /// CPU, memory and pids limits and reservations.
    pub resources: ResourceRequirements,
    /// When a task that exited is replaced.
    pub restart_policy: RestartPolicy,
    /// Constraints, preferences, max replicas per node, platforms.
    pub placement: Placement,
    /// Bumped by `docker service update --force` to replace tasks whose spec is unchanged.
    pub force_update: u64,
    /// Networks the task attaches to.
    pub networks: Vec<NetworkAttachmentConfig>,
    /// Log driver for the task's container (`None`: the node's default).
    pub log_driver: Option<Driver>,
    /// The runtime: always empty, meaning `container` (the only one Shoal knows). The API's
    /// `"container"` is stored as empty so that a spec the CLI read back and posted again
    /// (`docker service scale`) equals the one it created and restarts no task.
    pub runtime: String,
}

/// The stored form of [`TaskSpec`]: it accepts the first format's top-level `constraints`,
/// which now live in [`Placement::constraints`].
#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct TaskSpecData {
    container: ContainerSpec,
    resources: ResourceRequirements,
    restart_policy: RestartPolicy,
    placement: Placement,
    force_update: u64,
    networks: Vec<NetworkAttachmentConfig>,
    log_driver: Option<Driver>,
    runtime: String,
    /// The first format's placement constraints.
    constraints: Vec<String>,
}

impl<'de> Deserialize<'de> for TaskSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut data = TaskSpecData::deserialize(d)?;
        if data.placement.constraints.is_empty() {
            data.placement.constraints = std::mem::take(&mut data.constraints);
        }
        Ok(TaskSpec {
            container: data.container,
            resources: data.resources,
            restart_policy: data.restart_policy,
            placement: data.placement,
            force_update: data.force_update,
            networks: data.networks,
            log_driver: data.log_driver,
            // Specs stored before the API's "container" was normalised away.
            runtime: if data.runtime == "container" {
                String::new()
            } else {
                data.runtime
            },
        })
    }
}

/// Docker's `ResourceRequirements`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRequirements {
    /// Hard limits enforced on the container (`--limit-cpu`, `--limit-memory`, `--limit-pids`).
    pub limits: Option<Resources>,
    /// Amounts the scheduler reserves on the node (`--reserve-cpu`, `--reserve-memory`,
    /// `--generic-resource`).
    pub reservations: Option<Resources>,
}

/// An amount of CPU, memory, pids and generic resources; 0 means unset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// CPU in units of 1e-9 CPUs.
    pub nano_cpus: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Maximum number of processes (limits only).
    pub pids: i64,
    /// Generic resources (reservations only), e.g. `gpu=2`.
    pub generic_resources: Vec<GenericResource>,
}

/// A user-defined resource a node advertises and a task may reserve.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenericResource {
    /// A resource identified by a name, e.g. a GPU with UUID `value`.
    Named {
        /// The resource kind, e.g. `gpu`.
        kind: String,
        /// The resource's identifier.
        value: String,
    },
    /// A countable resource, e.g. `ssd=2`.
    Discrete {
        /// The resource kind.
        kind: String,
        /// The count.
        value: i64,
    },
}

/// When a task that exited is replaced (`--restart-condition`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// Never.
    None,
    /// Only when it failed (non-zero exit, rejected, node lost).
    OnFailure,
    /// Always (Docker's default). For jobs this behaves as `on-failure`.
    #[default]
    Any,
}

/// Docker's `RestartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// When to restart.
    pub condition: RestartCondition,
    /// Time between the old task stopping and the new one starting (`None`:
    /// [`DEFAULT_RESTART_DELAY_NS`]).
    pub delay_ns: Option<i64>,
    /// Restarts allowed (within `window_ns` if set); 0 means unlimited.
    pub max_attempts: u64,
    /// The window restarts are counted in; 0 means forever.
    pub window_ns: i64,
}

impl RestartPolicy {
    /// The effective delay.
    pub fn delay(&self) -> i64 {
        self.delay_ns.unwrap_or(DEFAULT_RESTART_DELAY_NS).max(0)
    }
}

/// Docker's `Placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// Constraints, e.g. `node.role==manager`, `node.labels.zone!=b`.
    pub constraints: Vec<String>,
    /// Spread preferences, applied in order (a tree, as swarmkit).
    pub preferences: Vec<PlacementPreference>,
    /// Most tasks of the service on one node (`--replicas-max-per-node`); 0 means unlimited.
    pub max_replicas: u64,
    /// Platforms the image supports; the node's must match one (empty: any).
    pub platforms: Vec<Platform>,
}

/// One placement preference; Docker knows only `spread`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementPreference {
    /// The descriptor to spread over, e.g. `node.labels.zone`.
    pub spread: String,
}

/// A network a task attaches to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachmentConfig {
    /// The network's ID (the control API resolves names).
    pub target: NetworkId,
    /// DNS aliases on that network.
    pub aliases: Vec<String>,
    /// Driver options for the attachment.
    pub driver_opts: BTreeMap<String, String>,
}
