//! Nodes that are ready and active.

use crate::model::node::{NodeAvailability, NodeState};
use crate::placement::filter::Filter;
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Passes nodes that are READY with availability `active`.
#[derive(Debug, Clone, Copy)]
pub struct ReadyFilter;

impl Filter for ReadyFilter {
    fn enabled(&self, _group: &Group<'_>) -> bool {
        true
    }
    fn check(&self, _group: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        n.node.status.state == NodeState::Ready
            && n.node.spec.availability == NodeAvailability::Active
    }
    fn explain(&self, nodes: usize) -> String {
        if nodes == 1 {
            "1 node not available for new tasks".into()
        } else {
            format!("{nodes} nodes not available for new tasks")
        }
    }
}
