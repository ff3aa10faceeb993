//! [`Group`]: pending tasks of one service with one spec, placed together (swarmkit groups by
//! service and spec version so filters run once per group, not once per task).

use crate::model::service::PortProtocol;
use crate::model::{ServiceId, Task, TaskSpec};

use super::constraint::{self, Constraint};
use super::node_info::host_ports;

/// What the filters need to know about a group of identical tasks.
#[derive(Debug)]
pub struct Group<'a> {
    /// The service.
    pub service: &'a ServiceId,
    /// The shared spec.
    pub spec: &'a TaskSpec,
    /// Parsed constraints (`None`: they do not parse, so nothing matches).
    pub constraints: Option<Vec<Constraint>>,
    /// Host-mode ports the tasks bind.
    pub host_ports: Vec<(PortProtocol, u32)>,
    /// The tasks, ordered by ID.
    pub tasks: Vec<&'a Task>,
}

impl<'a> Group<'a> {
    /// A group for tasks like `first`.
    pub fn new(first: &'a Task) -> Self {
        Group {
            service: &first.service_id,
            spec: &first.spec,
            constraints: constraint::parse_all(&first.spec.placement.constraints).ok(),
            host_ports: host_ports(first).collect(),
            tasks: vec![first],
        }
    }

    /// Whether `t` belongs in this group.
    pub fn accepts(&self, t: &Task) -> bool {
        &t.service_id == self.service
            && t.spec == *self.spec
            && host_ports(t).eq(self.host_ports.iter().copied())
    }
}
