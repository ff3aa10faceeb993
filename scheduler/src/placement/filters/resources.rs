//! CPU, memory and generic resource reservations against what the node has left.

use crate::placement::filter::{Filter, on_nodes};
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Passes nodes with enough unreserved CPU and memory. Nodes advertise no generic resources
/// yet, so a task reserving any fits nowhere.
#[derive(Debug, Clone, Copy)]
pub struct ResourceFilter;

impl Filter for ResourceFilter {
    fn enabled(&self, g: &Group<'_>) -> bool {
        g.spec.resources.reservations.as_ref().is_some_and(|r| {
            r.nano_cpus > 0 || r.memory_bytes > 0 || !r.generic_resources.is_empty()
        })
    }
    fn check(&self, g: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        let Some(r) = &g.spec.resources.reservations else {
            return true;
        };
        r.nano_cpus <= n.available_nano_cpus
            && r.memory_bytes <= n.available_memory
            && r.generic_resources.is_empty()
    }
    fn explain(&self, nodes: usize) -> String {
        on_nodes("insufficient resources", nodes)
    }
}
