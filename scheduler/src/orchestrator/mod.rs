//! The orchestrators: desired state (services) against actual state (tasks), one module per
//! mode or concern, as swarmkit's `manager/orchestrator`.
//!
//! [`reconcile`] runs every concern over every service in one pass and returns the commands;
//! [`reconcile_with_wakeup`] also says when the next time-driven step is due (a restart delay,
//! an update delay or monitor period ending), so the runner needs no polling loop.
//!
//! Order inside a service's pass: [`restart`] (exited tasks, tasks on down/drained nodes,
//! tasks rejected by the [`constraint_enforcer`]) → gates (READY → RUNNING once a restart
//! delay passed and the replaced task stopped; start-first old tasks shut down once the new one
//! runs) → mode ([`replicated`], [`global`], [`jobs`]: add/remove slots) → [`update`] (rolling
//! update or rollback of dirty slots) → [`slot`] de-duplication.

pub(crate) mod changes;
pub mod constraint_enforcer;
pub mod global;
pub mod jobs;
pub mod replicated;
pub mod restart;
pub mod slot;
pub mod update;

use crate::fasthash::FastMap;
use crate::ids::IdGen;
use crate::model::ServiceId;
use crate::model::node::Node;
use crate::model::node::{NodeAvailability, NodeState};
use crate::model::{
    ClusterCommand, ClusterState, NodeId, Service, ServiceMode, Task, TaskState, Timestamp,
};

use changes::Changes;

/// The result of one orchestrator pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Commands to propose, at most one per object (each an `Update` carrying the version read,
    /// or a `Create`).
    pub commands: Vec<ClusterCommand>,
    /// The earliest time a pass must run again even if the store does not change.
    pub next_wakeup: Option<Timestamp>,
}

/// One orchestrator pass over every service: see the module docs. Deterministic: the same
/// state, `now` and IDs give the same commands.
pub fn reconcile(state: &ClusterState, now: Timestamp, ids: &mut dyn IdGen) -> Vec<ClusterCommand> {
    reconcile_with_wakeup(state, now, ids).commands
}

/// When the orchestrator next has time-driven work (restart delay, update delay or monitor
/// period ending) if the store stays as it is; `None` when only a store change can make it act.
pub fn next_wakeup(state: &ClusterState, now: Timestamp) -> Option<Timestamp> {
    reconcile_with_wakeup(state, now, &mut crate::ids::SequentialIds::new("wakeup-")).next_wakeup
}

/// [`reconcile`] and [`next_wakeup`] in one pass.
pub fn reconcile_with_wakeup(
    state: &ClusterState,
    now: Timestamp,
    ids: &mut dyn IdGen,
) -> Reconciled {
    let mut pass = Pass {
        state,
        now,
        ch: Changes::new(state, now),
        wakeup: None,
        health: state
            .nodes()
            .iter()
            .map(|n| (&n.id, health_of(n)))
            .collect(),
        constraints: constraint_enforcer::Cache::default(),
    };
    let mut grouped = state.tasks_grouped_by_service();
    for service in state.services().iter() {
        let tasks = grouped.remove(&service.id).unwrap_or_default();
        pass.service(service, &tasks, ids);
    }
    // What is left belongs to deleted services.
    let mut orphans: Vec<(&ServiceId, Vec<&Task>)> = grouped.into_iter().collect();
    orphans.sort_by(|a, b| a.0.cmp(b.0));
    for (_, tasks) in orphans {
        pass.orphaned_tasks(&tasks);
    }
    Reconciled {
        next_wakeup: pass.wakeup,
        commands: pass.ch.into_commands(),
    }
}

/// Shared state of one pass.
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    pub(crate) state: &'a ClusterState,
    pub(crate) now: Timestamp,
    pub(crate) ch: Changes<'a>,
    pub(crate) wakeup: Option<Timestamp>,
    /// Every node's health, looked up once per pass.
    health: FastMap<&'a NodeId, NodeHealth>,
    /// Constraint verdicts per (list, node).
    pub(crate) constraints: constraint_enforcer::Cache<'a>,
}

fn health_of(n: &Node) -> NodeHealth {
    if n.status.state == NodeState::Down {
        return NodeHealth::Down;
    }
    match n.spec.availability {
        NodeAvailability::Drain => NodeHealth::Drained,
        NodeAvailability::Pause => NodeHealth::Paused,
        NodeAvailability::Active => NodeHealth::Active,
    }
}

impl<'a> Pass<'a> {
    /// Asks for a pass at `at` (ignored if not in the future).
    pub(crate) fn wake_at(&mut self, at: Timestamp) {
        if at > self.now {
            self.wakeup = Some(self.wakeup.map_or(at, |w| w.min(at)));
        }
    }

    fn service(&mut self, service: &'a Service, tasks: &[&'a Task], ids: &mut dyn IdGen) {
        restart::handle_failures(self, service, tasks, ids);
        restart::open_gates(self, service, tasks);
        match service.spec.mode {
            ServiceMode::Replicated { replicas } => {
                replicated::reconcile(self, service, tasks, replicas, ids)
            }
            ServiceMode::Global => global::reconcile(self, service, tasks, ids),
            ServiceMode::ReplicatedJob {
                max_concurrent,
                total_completions,
            } => jobs::reconcile_replicated(
                self,
                service,
                tasks,
                max_concurrent,
                total_completions,
                ids,
            ),
            ServiceMode::GlobalJob => jobs::reconcile_global(self, service, tasks, ids),
        }
    }

    /// Tasks whose service was deleted are removed: desired REMOVE, the agent stops them and the
    /// reaper deletes them.
    fn orphaned_tasks(&mut self, tasks: &[&'a Task]) {
        for &t in tasks {
            if self.ch.task(t).desired_state < TaskState::Remove {
                self.ch.task_mut(t).desired_state = TaskState::Remove;
            }
        }
    }

    /// How a node looks to the orchestrator.
    pub(crate) fn node_health(&self, node: &NodeId) -> NodeHealth {
        // A node that is gone counts as down: its tasks are replaced.
        self.health.get(node).copied().unwrap_or(NodeHealth::Down)
    }
}

/// A node's fitness for running tasks, from the orchestrator's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeHealth {
    /// Takes new tasks.
    Active,
    /// Keeps its tasks, takes no new ones.
    Paused,
    /// Its tasks move away.
    Drained,
    /// Missed heartbeats or removed: its tasks are replaced elsewhere.
    Down,
}

/// Whether the orchestrator wants the task to run: desired READY, RUNNING or (jobs) COMPLETE.
pub fn wants_to_run(t: &Task) -> bool {
    t.desired_state <= TaskState::Complete
}

/// Whether the task wants to run and has not ended.
pub fn is_active(t: &Task) -> bool {
    wants_to_run(t) && !t.status.state.is_terminal()
}

/// The desired state of a started task of `service`: COMPLETE for jobs (run to completion),
/// RUNNING otherwise.
pub fn target_desired(service: &Service) -> TaskState {
    if service.spec.mode.is_job() {
        TaskState::Complete
    } else {
        TaskState::Running
    }
}

/// Whether a task runs an outdated spec of its service (swarmkit `IsTaskDirty`): the spec
/// version differs and the template or the endpoint differs. A change of constraints alone
/// does not make a task dirty while its node still satisfies them.
pub fn is_dirty(state: &ClusterState, service: &Service, t: &Task) -> bool {
    if t.spec_version != 0 && t.spec_version == service.spec_version {
        return false;
    }
    let tmpl = &service.spec.task_template;
    let endpoint_dirty = t
        .endpoint
        .as_ref()
        .is_some_and(|e| e.spec != service.spec.endpoint_spec);
    if endpoint_dirty {
        return true;
    }
    if t.spec == *tmpl {
        return false;
    }
    if t.spec.placement.constraints != tmpl.placement.constraints {
        let mut same = tmpl.clone();
        same.placement.constraints = t.spec.placement.constraints.clone();
        if same == t.spec {
            let node = t.node_id.as_ref().and_then(|n| state.nodes().get(n));
            let fits = match (
                node,
                crate::placement::constraint::parse_all(&tmpl.placement.constraints),
            ) {
                (Some(n), Ok(cs)) => crate::placement::constraint::node_matches(&cs, n),
                _ => false,
            };
            return !fits;
        }
    }
    true
}

/// Duration arithmetic on timestamps, saturating.
pub(crate) fn after(t: Timestamp, ns: i64) -> Timestamp {
    Timestamp(t.0.saturating_add(ns.max(0)))
}

#[cfg(test)]
mod modes_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod update_tests;
