//! [`NodeInfo`]: what placement knows about a node, built once per [`super::schedule`] call
//! and updated as tasks are placed (swarmkit `nodeinfo.go`).

use std::collections::BTreeSet;

use crate::fasthash::FastMap;

use crate::model::service::{PortProtocol, PublishMode};
use crate::model::{ClusterState, Node, ServiceId, Task, TaskState};

/// A node with the load placed on it.
#[derive(Debug, Clone)]
pub struct NodeInfo<'a> {
    /// The node.
    pub node: &'a Node,
    /// CPU not reserved by its tasks (nano CPUs).
    pub available_nano_cpus: i64,
    /// Memory not reserved by its tasks (bytes).
    pub available_memory: i64,
    /// Active tasks per service.
    pub tasks_by_service: FastMap<ServiceId, u64>,
    /// Active tasks in total.
    pub total_tasks: u64,
    /// Host-mode published ports in use.
    pub host_ports: BTreeSet<(PortProtocol, u32)>,
}

/// Whether a task holds resources on its node: from PENDING to RUNNING, whatever its desired
/// state (a task being shut down still uses them until it stopped), as swarmkit counts.
pub fn holds_resources(t: &Task) -> bool {
    (TaskState::Pending..=TaskState::Running).contains(&t.status.state)
}

/// The host-mode published ports a task binds.
pub fn host_ports(t: &Task) -> impl Iterator<Item = (PortProtocol, u32)> + '_ {
    t.endpoint
        .iter()
        .flat_map(|e| e.ports.iter())
        .filter(|p| p.publish_mode == PublishMode::Host && p.published_port != 0)
        .map(|p| (p.protocol, p.published_port))
}

impl<'a> NodeInfo<'a> {
    /// The node with every task assigned to it in `state`.
    pub fn new(state: &'a ClusterState, node: &'a Node) -> Self {
        let tasks: Vec<&Task> = state.tasks_by_node(&node.id).collect();
        Self::with_tasks(node, &tasks)
    }

    /// The node with `tasks` (those assigned to it).
    pub fn with_tasks(node: &'a Node, tasks: &[&Task]) -> Self {
        let (cpus, mem) = node.description.as_ref().map_or((0, 0), |d| {
            (d.resources.nano_cpus, d.resources.memory_bytes)
        });
        let mut info = NodeInfo {
            node,
            available_nano_cpus: cpus,
            available_memory: mem,
            tasks_by_service: FastMap::default(),
            total_tasks: 0,
            host_ports: BTreeSet::new(),
        };
        for &t in tasks {
            if holds_resources(t) {
                info.add(t);
            }
        }
        info
    }

    /// Accounts for a task placed on the node.
    pub fn add(&mut self, t: &Task) {
        if let Some(r) = &t.spec.resources.reservations {
            self.available_nano_cpus -= r.nano_cpus;
            self.available_memory -= r.memory_bytes;
        }
        *self
            .tasks_by_service
            .entry(t.service_id.clone())
            .or_insert(0) += 1;
        self.total_tasks += 1;
        self.host_ports.extend(host_ports(t));
    }

    /// Active tasks of `service` on the node.
    pub fn service_tasks(&self, service: &ServiceId) -> u64 {
        self.tasks_by_service.get(service).copied().unwrap_or(0)
    }
}
