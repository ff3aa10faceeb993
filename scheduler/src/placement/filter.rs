//! The [`Filter`] trait: one reason a node may not take a task (swarmkit `filter.go`).

use super::group::Group;
use super::node_info::NodeInfo;

/// A placement filter, built for one group of identical tasks.
pub trait Filter: std::fmt::Debug {
    /// Whether the filter applies to the group at all (e.g. no constraints: nothing to check).
    fn enabled(&self, group: &Group<'_>) -> bool;
    /// Whether the node passes.
    fn check(&self, group: &Group<'_>, node: &NodeInfo<'_>) -> bool;
    /// swarmkit's explanation for `nodes` nodes failing this filter.
    fn explain(&self, nodes: usize) -> String;
}

/// "… on 1 node" / "… on N nodes".
pub(crate) fn on_nodes(what: &str, nodes: usize) -> String {
    if nodes == 1 {
        format!("{what} on 1 node")
    } else {
        format!("{what} on {nodes} nodes")
    }
}
