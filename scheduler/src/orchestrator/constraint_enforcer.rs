//! The constraint enforcer (swarmkit `orchestrator/constraintenforcer`): a running task whose
//! node no longer satisfies its placement constraints (a label was changed or removed) is
//! rejected, and the restart supervisor replaces it on a node that does.
//!
//! It runs on every pass over every running task, so results are cached per pass by
//! (constraint list, node): a service's tasks share one list, and a node is judged once per
//! list, not once per task.

use crate::fasthash::FastMap;
use crate::model::{ClusterState, NodeId, Task, TaskState, Timestamp};
use crate::placement::constraint::{self, Constraint};

/// Parsed constraint lists and node verdicts, for one pass.
#[derive(Debug, Default)]
pub(crate) struct Cache<'a> {
    sets: Vec<(&'a [String], Option<Vec<Constraint>>)>,
    verdicts: FastMap<(usize, &'a NodeId), bool>,
}

impl<'a> Cache<'a> {
    /// The index of a constraint list (parsed on first sight).
    pub(crate) fn set(&mut self, exprs: &'a [String]) -> usize {
        if let Some(p) = self.sets.iter().position(|(k, _)| *k == exprs) {
            return p;
        }
        self.sets.push((exprs, constraint::parse_all(exprs).ok()));
        self.sets.len() - 1
    }

    /// Whether `t` (stored in `state`, its constraints being list `set`) sits on a node that
    /// no longer satisfies them.
    pub(crate) fn violates(&mut self, state: &'a ClusterState, t: &'a Task, set: usize) -> bool {
        let st = t.status.state;
        if !(TaskState::Assigned..=TaskState::Running).contains(&st) {
            return false;
        }
        let Some(node_id) = &t.node_id else {
            return false;
        };
        if let Some(&v) = self.verdicts.get(&(set, node_id)) {
            return v;
        }
        let v = match (state.nodes().get(node_id), &self.sets[set].1) {
            (None, _) => false, // a missing node is the restart supervisor's "node down"
            (Some(n), Some(cs)) => !constraint::node_matches(cs, n),
            // Validated at create; a list that does not parse can never be satisfied.
            (Some(_), None) => true,
        };
        self.verdicts.insert((set, node_id), v);
        v
    }
}

/// Marks `t` rejected with swarmkit's texts.
pub fn reject(t: &mut Task, now: Timestamp) {
    t.status.state = TaskState::Rejected;
    t.status.message = "task rejected by constraint enforcer".into();
    t.status.err = "assigned node no longer meets constraints".into();
    t.status.timestamp = now;
}
