//! Placement preferences (`--placement-pref spread=node.labels.zone`) and the default
//! least-loaded strategy, as one tree (swarmkit `decision_tree.go`):
//!
//! - each preference level splits the eligible nodes by the node's value for the descriptor
//!   (nodes without it share the "" branch);
//! - a branch is chosen by the fewest tasks of the service already in it;
//! - at the leaves nodes are ordered by tasks of the service, then tasks in total, then ID.
//!
//! Every level is a min-heap, so placing one task costs O(depth × log nodes): a scale-up of
//! N tasks is one batch of N picks, not N sorts of the node list.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::model::ServiceId;

use super::constraint::{Attribute, Field};
use super::node_info::NodeInfo;

/// A tree of eligible nodes for one group.
#[derive(Debug)]
pub enum Tree {
    /// Nodes, keyed (service tasks, total tasks, index).
    Leaf(BinaryHeap<Reverse<(u64, u64, usize)>>),
    /// Branches, keyed (service tasks in the branch, child index).
    Branch {
        /// The heap of children.
        heap: BinaryHeap<Reverse<(u64, usize)>>,
        /// The children.
        children: Vec<Tree>,
    },
}

impl Tree {
    /// Builds the tree over `nodes` (indexes into `infos`) for `prefs` (spread descriptors).
    pub fn build(
        prefs: &[Field],
        nodes: &[usize],
        infos: &[NodeInfo<'_>],
        service: &ServiceId,
    ) -> Tree {
        let Some((first, rest)) = prefs.split_first() else {
            return Tree::Leaf(
                nodes
                    .iter()
                    .map(|&i| Reverse((infos[i].service_tasks(service), infos[i].total_tasks, i)))
                    .collect(),
            );
        };
        let mut branches: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in nodes {
            let value = match first.get(infos[i].node) {
                Attribute::Known(v) => v.unwrap_or(""),
                Attribute::UnknownKey => "",
            };
            branches.entry(value).or_default().push(i);
        }
        let mut heap = BinaryHeap::with_capacity(branches.len());
        let mut children = Vec::with_capacity(branches.len());
        for (ci, members) in branches.into_values().enumerate() {
            let count = members
                .iter()
                .map(|&i| infos[i].service_tasks(service))
                .sum();
            heap.push(Reverse((count, ci)));
            children.push(Tree::build(rest, &members, infos, service));
        }
        Tree::Branch { heap, children }
    }

    /// Picks the best node that `fits`, lets `place` account for the task on it, and returns
    /// its index; `None` when no node of the tree fits any more. Nodes that do not fit are
    /// dropped: within one group a node that cannot take a task cannot take the next either.
    pub fn pick(
        &mut self,
        infos: &mut [NodeInfo<'_>],
        service: &ServiceId,
        fits: &dyn Fn(&NodeInfo<'_>) -> bool,
        place: &mut dyn FnMut(&mut NodeInfo<'_>),
    ) -> Option<usize> {
        match self {
            Tree::Leaf(heap) => {
                while let Some(Reverse((_, _, i))) = heap.pop() {
                    if fits(&infos[i]) {
                        place(&mut infos[i]);
                        heap.push(Reverse((
                            infos[i].service_tasks(service),
                            infos[i].total_tasks,
                            i,
                        )));
                        return Some(i);
                    }
                }
                None
            }
            Tree::Branch { heap, children } => {
                while let Some(Reverse((count, ci))) = heap.pop() {
                    if let Some(i) = children[ci].pick(infos, service, fits, place) {
                        heap.push(Reverse((count + 1, ci)));
                        return Some(i);
                    }
                }
                None
            }
        }
    }
}
