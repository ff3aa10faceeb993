//! The restart supervisor (swarmkit `orchestrator/restart`): a task that ended, sits on a
//! down or drained node, or was rejected by the constraint enforcer is shut down and, if the
//! restart policy allows, replaced in its slot (or on its node, for global modes).
//!
//! Unlike swarmkit, nothing is kept in the leader's memory: the restart count and recent
//! restart times travel on the replacement task ([`RestartInfo`]), and the delay is a
//! `not_before` time on it, so a new leader decides exactly as the old one would have.
//!
//! A replacement is created with desired state READY (the agent may prepare it) and moved to
//! RUNNING by `open_gates` once `not_before` has passed and the task it replaces has stopped.

use crate::fasthash::FastSet;
use crate::ids::IdGen;
use crate::model::task_spec::RestartCondition;
use crate::model::{RestartInfo, Service, Task, TaskId, TaskState, Timestamp};

use super::{
    NodeHealth, Pass, after, constraint_enforcer, is_active, target_desired, wants_to_run,
};

/// Why a task is being restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The task reached a terminal state (complete, failed, rejected, shutdown, orphaned).
    Ended,
    /// Its node is down or gone.
    NodeDown,
    /// Its node is drained.
    Drained,
    /// Its node no longer satisfies its constraints.
    Constraints,
}

/// Whether the restart policy lets `t` (which ended, or is being moved) be replaced.
///
/// Condition `none` never restarts; `on-failure` (and `any`, for jobs) does not restart a task
/// that completed; `max_attempts` counts restarts under the current spec, within `window`
/// when one is set.
pub fn should_restart(service: &Service, t: &Task, now: Timestamp) -> bool {
    let policy = &t.spec.restart_policy;
    let completed = t.status.state == TaskState::Complete;
    let allowed = match policy.condition {
        RestartCondition::None => false,
        RestartCondition::OnFailure => !completed,
        RestartCondition::Any => !(service.spec.mode.is_job() && completed),
    };
    if !allowed {
        return false;
    }
    if policy.max_attempts == 0 || t.spec_version != service.spec_version {
        return true;
    }
    restarts_counted(t, now) < policy.max_attempts
}

fn restarts_counted(t: &Task, now: Timestamp) -> u64 {
    let window = t.spec.restart_policy.window_ns;
    if window <= 0 {
        return t.restart.attempts;
    }
    let since = Timestamp(now.0.saturating_sub(window));
    t.restart.recent.iter().filter(|&&r| r > since).count() as u64
}

/// The restart bookkeeping for the task that replaces `old` at `now`.
fn next_info(service: &Service, old: &Task, now: Timestamp) -> RestartInfo {
    if old.spec_version != service.spec_version {
        // A new spec starts a new restart history (swarmkit resets it per spec version).
        return RestartInfo {
            attempts: 1,
            recent: vec![now],
            not_before: None,
            replaces: Some(old.id.clone()),
        };
    }
    let window = old.spec.restart_policy.window_ns;
    let mut recent: Vec<Timestamp> = if window > 0 {
        let since = Timestamp(now.0.saturating_sub(window));
        old.restart
            .recent
            .iter()
            .copied()
            .filter(|&r| r > since)
            .collect()
    } else {
        Vec::new()
    };
    recent.push(now);
    RestartInfo {
        attempts: old.restart.attempts + 1,
        recent,
        not_before: None,
        replaces: Some(old.id.clone()),
    }
}

/// Shuts down and (policy permitting) replaces every task of `service` that needs it.
pub(crate) fn handle_failures<'a>(
    pass: &mut Pass<'a>,
    service: &'a Service,
    tasks: &[&'a Task],
    ids: &mut dyn IdGen,
) {
    let global = service.spec.mode.is_global();
    let template = &service.spec.task_template.placement.constraints;
    let template_set = (!template.is_empty()).then(|| pass.constraints.set(template));
    // Tasks that already have a replacement (a previous pass's create applied but its update
    // of the old task did not): they are only shut down, not replaced twice.
    let replaced: FastSet<&TaskId> = tasks
        .iter()
        .filter_map(|t| t.restart.replaces.as_ref())
        .collect();
    for &stored in tasks {
        let t = pass.ch.task(stored);
        if !wants_to_run(t) {
            orphan_if_node_removed(pass, stored);
            continue;
        }
        if service.spec.mode.is_job() && t.status.state == TaskState::Complete {
            continue; // a job task that completed is done, not failed
        }
        let health = t.node_id.as_ref().map(|n| pass.node_health(n));
        let cause = if t.status.state.is_terminal() {
            Cause::Ended
        } else if health == Some(NodeHealth::Down) {
            Cause::NodeDown
        } else if health == Some(NodeHealth::Drained) {
            Cause::Drained
        } else if violates(pass, service, stored, template_set) {
            Cause::Constraints
        } else {
            continue;
        };
        let now = pass.now;
        let m = pass.ch.task_mut(stored);
        if cause == Cause::Constraints {
            constraint_enforcer::reject(m, now);
        }
        m.desired_state = TaskState::Shutdown;
        let old = m.clone();
        // Global tasks belong to their node: when the node goes away, is drained or no longer
        // qualifies, the global orchestrator adds a task back once it qualifies again.
        if global && cause != Cause::Ended {
            continue;
        }
        if replaced.contains(&old.id) || !should_restart(service, &old, now) {
            continue;
        }
        if service.spec.mode.is_job() && !super::jobs::in_iteration(service, &old) {
            continue; // a task of an older job iteration is not replaced
        }
        let mut new = Task::new(
            ids.task_id(),
            service,
            old.slot,
            if global { old.node_id.clone() } else { None },
            now,
        );
        new.restart = next_info(service, &old, now);
        // swarmkit applies no delay when moving tasks off a drained node (or a dead one).
        let delay = match cause {
            Cause::Drained | Cause::NodeDown => 0,
            _ => old.spec.restart_policy.delay(),
        };
        if delay > 0 {
            new.restart.not_before = Some(after(now, delay));
        }
        new.desired_state = TaskState::Ready;
        if gate_open(pass, &new) {
            new.desired_state = target_desired(service);
        } else if let Some(nb) = new.restart.not_before {
            pass.wake_at(nb);
        }
        pass.ch.create(new);
    }
}

/// A task that was told to stop on a node that no longer exists will never report again: it
/// is marked ORPHANED (as swarmkit's dispatcher does for lost nodes) so the reaper can delete
/// it and `docker service ps` stops showing it as running.
fn orphan_if_node_removed(pass: &mut Pass<'_>, stored: &Task) {
    let t = pass.ch.task(stored);
    if t.status.state.is_terminal() || t.status.state < TaskState::Assigned {
        return;
    }
    let Some(node) = &t.node_id else {
        return;
    };
    if pass.state.nodes().get(node).is_some() {
        return;
    }
    let now = pass.now;
    let m = pass.ch.task_mut(stored);
    m.status.state = TaskState::Orphaned;
    m.status.message = "task orphaned: its node was removed from the swarm".into();
    m.status.timestamp = now;
}

/// The constraint enforcer's verdict for a stored task; tasks of the current spec share the
/// service template's list, so only tasks of older specs compare lists.
fn violates<'a>(
    pass: &mut Pass<'a>,
    service: &Service,
    t: &'a Task,
    template: Option<usize>,
) -> bool {
    let exprs = &t.spec.placement.constraints;
    if exprs.is_empty() {
        return false;
    }
    let set = match template {
        Some(s) if t.spec_version != 0 && t.spec_version == service.spec_version => s,
        _ => pass.constraints.set(exprs),
    };
    pass.constraints.violates(pass.state, t, set)
}

/// Whether a READY task may start: its delay passed and the task it replaces is no longer
/// running (ended, never assigned, or on a node that is down).
pub(crate) fn gate_open(pass: &Pass<'_>, t: &Task) -> bool {
    if t.restart.not_before.is_some_and(|nb| nb > pass.now) {
        return false;
    }
    let Some(old_id) = &t.restart.replaces else {
        return true;
    };
    let Some(stored) = pass.state.tasks().get(old_id) else {
        return true;
    };
    let old = pass.ch.task(stored);
    // An old task that is still wanted (start-first update) does not hold the new one back.
    if wants_to_run(old) {
        return true;
    }
    let st = old.status.state;
    st.is_terminal()
        || st < TaskState::Assigned
        || old
            .node_id
            .as_ref()
            .is_some_and(|n| pass.node_health(n) == NodeHealth::Down)
}

/// READY tasks whose gate opened become RUNNING (COMPLETE for jobs); start-first replacements
/// that run shut the task they replace down.
pub(crate) fn open_gates(pass: &mut Pass<'_>, service: &Service, tasks: &[&Task]) {
    let target = target_desired(service);
    for &stored in tasks {
        let t = pass.ch.task(stored);
        if t.desired_state == TaskState::Ready {
            if gate_open(pass, t) {
                pass.ch.task_mut(stored).desired_state = target;
            } else if let Some(nb) = t.restart.not_before.filter(|&nb| nb > pass.now) {
                pass.wake_at(nb);
            }
            continue;
        }
        if t.status.state == TaskState::Running
            && let Some(old_id) = &t.restart.replaces
            && let Some(old) = pass.state.tasks().get(old_id)
            && is_active(pass.ch.task(old))
        {
            pass.ch.task_mut(old).desired_state = TaskState::Shutdown;
        }
    }
}
