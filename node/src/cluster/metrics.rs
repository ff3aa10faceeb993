//! What the swarm contributes to a metrics scrape (read from the local replica).

use std::collections::BTreeMap;

use shoal_scheduler::model::TaskState;
use shoal_scheduler::model::node::NodeState;

use super::ClusterService;

/// The swarm's figures at one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwarmFigures {
    /// This node is a manager.
    pub manager: bool,
    /// This node is the Raft leader.
    pub leader: bool,
    /// Nodes by state (`ready`, `down`, `unknown`, `disconnected`): managers only.
    pub nodes_by_state: BTreeMap<&'static str, i64>,
    /// Tasks by state (`new`, ..., `running`, ...; every state, 0 when none): managers only.
    pub tasks_by_state: BTreeMap<&'static str, i64>,
    /// Objects in the store: `services`, `networks`, `secrets`, `configs`: managers only.
    pub totals: BTreeMap<&'static str, i64>,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn state_name(s: &NodeState) -> &'static str {
    match s {
        NodeState::Unknown => "unknown",
        NodeState::Down => "down",
        NodeState::Ready => "ready",
        NodeState::Disconnected => "disconnected",
    }
}

impl ClusterService {
    /// The figures for `swarm_manager_nodes`, `swarm_node_manager`, `swarm_manager_leader`,
    /// `swarm_manager_tasks_total` and the object totals: one pass over the local replica,
    /// under its read lock (counts only, nothing cloned).
    pub fn figures(&self) -> SwarmFigures {
        let view = self.inner.view.read().unwrap_or_else(|e| e.into_inner());
        let Some((_, Some(manager), _)) = view.as_ref() else {
            return SwarmFigures::default();
        };
        let mut nodes_by_state: BTreeMap<&'static str, i64> =
            ["ready", "down", "unknown", "disconnected"]
                .into_iter()
                .map(|s| (s, 0))
                .collect();
        let mut tasks_by_state: BTreeMap<&'static str, i64> =
            // Every state, so the gauge shows zeros rather than stale values.
            TaskState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let totals = manager.store().read(|s| {
            for n in s.nodes().iter() {
                *nodes_by_state
                    .entry(state_name(&n.status.state))
                    .or_default() += 1;
            }
            for t in s.tasks().iter() {
                *tasks_by_state.entry(t.status.state.as_str()).or_default() += 1;
            }
            [
                ("services", count(s.services().len())),
                ("networks", count(s.networks().len())),
                ("secrets", count(s.secrets().len())),
                ("configs", count(s.configs().len())),
            ]
            .into_iter()
            .collect()
        });
        SwarmFigures {
            manager: true,
            leader: manager.is_leader(),
            nodes_by_state,
            tasks_by_state,
            totals,
        }
    }
}
