//! The filter pipeline: runs the filters in order, counts on which filter each node failed,
//! and words the "no suitable node (…)" explanation as swarmkit does (most failures first).

use super::filter::Filter;
use super::filters::{
    ConstraintFilter, HostPortFilter, MaxReplicasFilter, PlatformFilter, ReadyFilter,
    ResourceFilter,
};
use super::group::Group;
use super::node_info::NodeInfo;

/// The filters enabled for one group.
#[derive(Debug)]
pub struct Pipeline {
    filters: Vec<Box<dyn Filter>>,
}

impl Pipeline {
    /// swarmkit's order: ready, resources, constraints, platform, host ports, max replicas.
    pub fn new(group: &Group<'_>) -> Self {
        let all: Vec<Box<dyn Filter>> = vec![
            Box::new(ReadyFilter),
            Box::new(ResourceFilter),
            Box::new(ConstraintFilter),
            Box::new(PlatformFilter),
            Box::new(HostPortFilter),
            Box::new(MaxReplicasFilter),
        ];
        Pipeline {
            filters: all.into_iter().filter(|f| f.enabled(group)).collect(),
        }
    }

    /// `Ok` if the node passes every filter, else the index of the first that failed.
    pub fn check(&self, group: &Group<'_>, node: &NodeInfo<'_>) -> Result<(), usize> {
        match self.filters.iter().position(|f| !f.check(group, node)) {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }

    /// "no suitable node (…)" for the nodes given, as they are now.
    pub fn explain<'x, 'y: 'x>(
        &self,
        group: &Group<'_>,
        nodes: impl Iterator<Item = &'x NodeInfo<'y>>,
    ) -> String {
        let mut failures = vec![0usize; self.filters.len()];
        for n in nodes {
            if let Err(i) = self.check(group, n) {
                failures[i] += 1;
            }
        }
        let mut order: Vec<usize> = (0..self.filters.len())
            .filter(|&i| failures[i] > 0)
            .collect();
        // Most failures first; ties keep pipeline order.
        order.sort_by_key(|&i| std::cmp::Reverse(failures[i]));
        let parts: Vec<String> = order
            .into_iter()
            .map(|i| self.filters[i].explain(failures[i]))
            .collect();
        if parts.is_empty() {
            "no suitable node".into()
        } else {
            format!("no suitable node ({})", parts.join("; "))
        }
    }
}
