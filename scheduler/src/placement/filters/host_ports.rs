//! Host-mode published ports already bound on the node.

use crate::placement::filter::{Filter, on_nodes};
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Passes nodes where none of the task's host-mode published ports is taken.
#[derive(Debug, Clone, Copy)]
pub struct HostPortFilter;

impl Filter for HostPortFilter {
    fn enabled(&self, g: &Group<'_>) -> bool {
        !g.host_ports.is_empty()
    }
    fn check(&self, g: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        g.host_ports.iter().all(|p| !n.host_ports.contains(p))
    }
    fn explain(&self, nodes: usize) -> String {
        on_nodes("host-mode port already in use", nodes)
    }
}
