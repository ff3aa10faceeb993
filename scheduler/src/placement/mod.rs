//! The scheduler: PENDING tasks get a node (swarmkit `manager/scheduler`, split small).
//!
//! [`schedule`] groups pending tasks by service and spec ([`group`]), runs the filter
//! [`pipeline`] once per group over every node, builds the [`spread`] tree of eligible nodes
//! and places the group's tasks one pick at a time, re-checking only the picked node (its
//! resources, ports and per-service count changed). Tasks left over stay PENDING with
//! swarmkit's explanation in `status.err`, e.g. `no suitable node (scheduling constraints not
//! satisfied on 5 nodes)`. Global tasks arrive with their node set and are only checked.

pub mod constraint;
pub mod filter;
pub mod filters;
pub mod group;
pub mod node_info;
pub mod pipeline;
pub mod spread;

use crate::fasthash::FastMap;

use crate::model::{
    ClusterCommand, ClusterState, NodeId, ServiceId, StoreObject, Task, TaskState, Timestamp,
};
use crate::orchestrator::wants_to_run;

use group::Group;
use node_info::NodeInfo;
use pipeline::Pipeline;
use spread::Tree;

/// swarmkit's status message for an assigned task.
pub const ASSIGNED_MESSAGE: &str = "scheduler assigned task to node";

/// Places every PENDING task that wants to run: an `Update` to ASSIGNED with `node_id` for
/// each placed task, and an `Update` of `status.err` (only when it changed) for each task that
/// cannot be placed. Deterministic (tasks by ID, nodes by ID on ties); O(tasks) when nothing
/// is pending.
pub fn schedule(state: &ClusterState, now: Timestamp) -> Vec<ClusterCommand> {
    let pending: Vec<&Task> = state
        .tasks()
        .iter()
        .filter(|t| t.status.state == TaskState::Pending && wants_to_run(t))
        .collect();
    if pending.is_empty() {
        return Vec::new();
    }
    let mut infos: Vec<NodeInfo<'_>> = state
        .nodes()
        .iter()
        .map(|n| NodeInfo::new(state, n))
        .collect();
    let index: FastMap<&NodeId, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, n)| (&n.node.id, i))
        .collect();

    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut by_service: FastMap<&ServiceId, Vec<usize>> = FastMap::default();
    for t in pending {
        let list = by_service.entry(&t.service_id).or_default();
        match list.iter().copied().find(|&g| groups[g].accepts(t)) {
            Some(g) => groups[g].tasks.push(t),
            None => {
                list.push(groups.len());
                groups.push(Group::new(t));
            }
        }
    }

    let mut out = Vec::new();
    for g in &groups {
        place_group(g, &mut infos, &index, now, &mut out);
    }
    out
}

fn assigned(t: &Task, node: &NodeId, now: Timestamp) -> ClusterCommand {
    let mut u = t.clone();
    u.node_id = Some(node.clone());
    u.status.state = TaskState::Assigned;
    u.status.message = ASSIGNED_MESSAGE.into();
    u.status.err.clear();
    u.status.timestamp = now;
    u.meta.updated_at = now;
    ClusterCommand::Update(StoreObject::Task(u))
}

fn unplaced(t: &Task, why: &str, now: Timestamp, out: &mut Vec<ClusterCommand>) {
    if t.status.err == why {
        return;
    }
    let mut u = t.clone();
    u.status.err = why.to_owned();
    u.status.timestamp = now;
    u.meta.updated_at = now;
    out.push(ClusterCommand::Update(StoreObject::Task(u)));
}

fn place_group(
    g: &Group<'_>,
    infos: &mut [NodeInfo<'_>],
    index: &FastMap<&NodeId, usize>,
    now: Timestamp,
    out: &mut Vec<ClusterCommand>,
) {
    let pipeline = Pipeline::new(g);
    let mut floating = Vec::new();
    for &t in &g.tasks {
        let Some(node) = &t.node_id else {
            floating.push(t);
            continue;
        };
        // A global task: only its own node will do.
        match index.get(node) {
            Some(&i) if pipeline.check(g, &infos[i]).is_ok() => {
                infos[i].add(t);
                out.push(assigned(t, node, now));
            }
            Some(&i) => {
                let why = pipeline.explain(g, std::iter::once(&infos[i]));
                unplaced(t, &why, now, out);
            }
            None => unplaced(t, "no suitable node", now, out),
        }
    }
    if floating.is_empty() {
        return;
    }
    let eligible: Vec<usize> = (0..infos.len())
        .filter(|&i| pipeline.check(g, &infos[i]).is_ok())
        .collect();
    let prefs: Vec<constraint::Field> = g
        .spec
        .placement
        .preferences
        .iter()
        .map(|p| constraint::Field::parse(&p.spread))
        .collect();
    let mut tree = Tree::build(&prefs, &eligible, infos, g.service);
    let mut left = Vec::new();
    for t in floating {
        let fits = |n: &NodeInfo<'_>| pipeline.check(g, n).is_ok();
        let mut place = |n: &mut NodeInfo<'_>| n.add(t);
        match tree.pick(infos, g.service, &fits, &mut place) {
            Some(i) => out.push(assigned(t, &infos[i].node.id, now)),
            None => left.push(t),
        }
    }
    if !left.is_empty() {
        let why = pipeline.explain(g, infos.iter());
        for t in left {
            unplaced(t, &why, now, out);
        }
    }
}

#[cfg(test)]
mod tests;
