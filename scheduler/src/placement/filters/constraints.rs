//! Placement constraints.

use crate::placement::constraint::node_matches;
use crate::placement::filter::{Filter, on_nodes};
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Passes nodes satisfying every constraint (none pass when a constraint does not parse).
#[derive(Debug, Clone, Copy)]
pub struct ConstraintFilter;

impl Filter for ConstraintFilter {
    fn enabled(&self, g: &Group<'_>) -> bool {
        !g.spec.placement.constraints.is_empty()
    }
    fn check(&self, g: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        g.constraints
            .as_deref()
            .is_some_and(|cs| node_matches(cs, n.node))
    }
    fn explain(&self, nodes: usize) -> String {
        on_nodes("scheduling constraints not satisfied", nodes)
    }
}
