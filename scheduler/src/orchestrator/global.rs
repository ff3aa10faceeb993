//! The global orchestrator (swarmkit `orchestrator/global`): one task on every node that is
//! ready, active, and satisfies the service's constraints and platforms. It follows nodes as
//! they join, become ready, are drained or paused, go down or leave: tasks on a drained or
//! down node are shut down (by [`super::restart`]) and a task is added back once the node
//! qualifies again.

use std::collections::BTreeMap;

use crate::ids::IdGen;
use crate::model::node::{Node, NodeAvailability, NodeState};
use crate::model::{NodeId, Service, Task};
use crate::placement::constraint;
use crate::placement::filters::platform_matches;

use super::slot::{self, Slot, SlotKind};
use super::{Pass, target_desired, update};

/// Whether a global service wants a task on `node`.
pub(crate) fn eligible(
    service: &Service,
    constraints: Option<&[constraint::Constraint]>,
    node: &Node,
) -> bool {
    node.status.state == NodeState::Ready
        && node.spec.availability == NodeAvailability::Active
        && constraints.is_some_and(|cs| constraint::node_matches(cs, node))
        && platform_matches(&service.spec.task_template.placement.platforms, node)
}

/// Groups a service's tasks by node (tasks without a node are ignored: global tasks are
/// created with theirs).
pub(crate) fn by_node<'a>(
    pass: &Pass<'_>,
    service: &Service,
    tasks: &[&'a Task],
) -> BTreeMap<NodeId, Slot<'a>> {
    let mut nodes: BTreeMap<NodeId, Slot<'a>> = BTreeMap::new();
    for &t in tasks {
        if let Some(n) = &t.node_id {
            nodes.entry(n.clone()).or_default().tasks.push(t);
        }
    }
    for t in pass.ch.created() {
        if t.service_id == service.id
            && let Some(n) = &t.node_id
        {
            nodes.entry(n.clone()).or_default().created += 1;
        }
    }
    nodes
}

/// Reconciles one global service.
pub(crate) fn reconcile<'a>(
    pass: &mut Pass<'a>,
    service: &'a Service,
    tasks: &[&'a Task],
    ids: &mut dyn IdGen,
) {
    let by_node = by_node(pass, service, tasks);
    let constraints = constraint::parse_all(&service.spec.task_template.placement.constraints).ok();
    let mut runnable: Vec<&NodeId> = Vec::new();
    let mut kept: Vec<&NodeId> = Vec::new();
    for node in pass.state.nodes().iter() {
        if !eligible(service, constraints.as_deref(), node) {
            continue;
        }
        let kind = by_node.get(&node.id).map(|s| slot::kind(pass, service, s));
        match kind {
            Some(SlotKind::Runnable) => runnable.push(&node.id),
            Some(SlotKind::Kept) => kept.push(&node.id),
            None | Some(SlotKind::Dead) => {
                let mut t = Task::new(ids.task_id(), service, 0, Some(node.id.clone()), pass.now);
                t.desired_state = target_desired(service);
                pass.ch.create(t);
            }
        }
    }
    let units: Vec<update::Unit<'_, 'a>> = runnable
        .iter()
        .map(|n| (n, false))
        .chain(kept.iter().map(|n| (n, true)))
        .map(|(n, kept)| update::Unit {
            slot: 0,
            node: Some((*n).clone()),
            tasks: &by_node[*n],
            kept,
        })
        .collect();
    update::run(pass, service, &units, ids);
    for n in runnable {
        slot::dedupe(pass, &by_node[n]);
    }
}
