//! `--replicas-max-per-node`.

use crate::placement::filter::Filter;
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Passes nodes running fewer than `max_replicas` tasks of the service.
#[derive(Debug, Clone, Copy)]
pub struct MaxReplicasFilter;

impl Filter for MaxReplicasFilter {
    fn enabled(&self, g: &Group<'_>) -> bool {
        g.spec.placement.max_replicas > 0
    }
    fn check(&self, g: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        n.service_tasks(g.service) < g.spec.placement.max_replicas
    }
    fn explain(&self, _nodes: usize) -> String {
        // swarmkit's text, which carries no count.
        "max replicas per node limit exceed".into()
    }
}
