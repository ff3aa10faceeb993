//! Rolling updates and rollbacks (swarmkit `orchestrator/update`), derived from the store on
//! every pass instead of held by worker goroutines:
//!
//! - a slot is dirty when its running task has an outdated spec ([`super::is_dirty`]);
//! - an update starts when dirty slots appear and the service has no `update_status`
//!   (the control API clears it on every spec update): state `updating`, "update in progress";
//! - at most `parallelism` slots are in flight: a slot is in flight from the moment its new
//!   task is created until that task has run for `delay`;
//! - stop-first: the old task is shut down and the new one waits in READY until it stopped;
//!   start-first: the new one starts at once and the old one is shut down once it runs;
//! - a task created by this update that fails (failed, rejected, or completed while it
//!   should run) counts as a failure; when failures exceed `max_failure_ratio` of the slots,
//!   the failure action applies: `pause` ("update paused due to failure or early termination
//!   of task X"), `rollback` (the previous spec comes back, "update rolled back due to ...";
//!   a failing rollback pauses: "rollback paused ..."), or `continue`;
//! - when no slot is dirty and every new task has run for `monitor`, the update completes:
//!   "update completed" / "rollback completed".
//!
//! Failures are counted for the whole time the update is in progress, not in a per-task
//! window as swarmkit does; the ratio's denominator is the service's slot count.

use crate::ids::IdGen;
use crate::model::service::{FailureAction, UpdateConfig, UpdateOrder, UpdateState, UpdateStatus};
use crate::model::{NodeId, Service, Task, TaskState, Timestamp};

use super::slot::Slot;
use super::{Pass, after, is_dirty, restart::gate_open, target_desired, wants_to_run};

/// One updatable unit: a replicated slot, or a global service's tasks on one node.
#[derive(Debug)]
pub(crate) struct Unit<'s, 'a> {
    /// The slot number (0 for global).
    pub(crate) slot: u64,
    /// The node, for global services.
    pub(crate) node: Option<NodeId>,
    /// The unit's tasks.
    pub(crate) tasks: &'s Slot<'a>,
    /// Nothing runs and the restart policy keeps it so; its newest task is updated if dirty
    /// (swarmkit updates such slots too, so a fixed spec runs again).
    pub(crate) kept: bool,
}

impl Unit<'_, '_> {
    /// The tasks an update replaces: those that want to run, or the newest of a kept unit.
    fn current<'p>(&'p self, pass: &'p Pass<'_>) -> Vec<&'p Task> {
        if self.kept {
            return super::slot::newest(&self.tasks.tasks)
                .map(|t| pass.ch.task(t))
                .into_iter()
                .collect();
        }
        self.tasks
            .tasks
            .iter()
            .map(|t| pass.ch.task(t))
            .filter(|t| wants_to_run(t))
            .collect()
    }
}

/// Docker's texts.
const IN_PROGRESS: &str = "update in progress";

/// Runs the update state machine for one service over its runnable units.
pub(crate) fn run(
    pass: &mut Pass<'_>,
    service: &Service,
    units: &[Unit<'_, '_>],
    ids: &mut dyn IdGen,
) {
    if service.spec.mode.is_job() {
        return;
    }
    let status = pass.ch.service(service).update_status.clone();
    let state = status.as_ref().map(|s| s.state);
    let rolling_back = state == Some(UpdateState::RollbackStarted);
    let cfg: UpdateConfig = if rolling_back {
        service.spec.rollback_config
    } else {
        service.spec.update_config
    }
    .unwrap_or_default();

    let now = pass.now;
    let started = status.as_ref().and_then(|s| s.started_at).unwrap_or(now);
    // Tasks this update created: current spec, created since the update started.
    let is_new = |t: &Task| t.meta.created_at >= started && t.spec == service.spec.task_template;

    let mut dirty: Vec<&Unit<'_, '_>> = Vec::new();
    let mut busy = 0usize;
    let mut monitoring_until: Option<Timestamp> = None;
    let mut failed: Option<(Timestamp, String)> = None;
    let mut failures = 0usize;
    let mut wakeups = Vec::new();
    for u in units {
        // Only an update in progress has tasks of its own to watch.
        if state.is_some_and(UpdateState::in_progress) {
            for t in u.tasks.tasks.iter().map(|t| pass.ch.task(t)) {
                if !is_new(t) {
                    continue;
                }
                let st = t.status.state;
                let failure = matches!(st, TaskState::Failed | TaskState::Rejected)
                    || (st == TaskState::Complete && !service.spec.mode.is_job());
                if failure {
                    failures += 1;
                    let key = (t.status.timestamp, t.id.to_string());
                    if failed.as_ref().is_none_or(|f| key < *f) {
                        failed = Some(key);
                    }
                } else if wants_to_run(t) {
                    if st < TaskState::Running {
                        busy += 1;
                    } else if st == TaskState::Running {
                        let delay_end = after(t.status.timestamp, cfg.delay_ns);
                        if delay_end > now {
                            busy += 1;
                            wakeups.push(delay_end);
                        }
                        let mon_end = after(t.status.timestamp, cfg.monitor());
                        if mon_end > now {
                            monitoring_until =
                                Some(monitoring_until.map_or(mon_end, |m| m.max(mon_end)));
                        }
                    }
                }
            }
        }
        if u.tasks.created > 0 {
            continue; // a restart replacement was just made from the current spec
        }
        let live = u.current(pass);
        let (mut has_clean, mut has_dirty) = (false, false);
        for t in &live {
            if is_dirty(pass.state, service, t) {
                has_dirty = true;
            } else {
                has_clean = true;
            }
        }
        if has_dirty && !has_clean {
            dirty.push(u);
        }
    }

    for w in wakeups {
        pass.wake_at(w);
    }
    let in_progress = state.is_some_and(UpdateState::in_progress);
    if cfg.failure_action != FailureAction::Continue && in_progress {
        let slots = units.len().max(1);
        // The ratio compares counts as swarmkit does, in f32.
        #[allow(clippy::cast_precision_loss)]
        let ratio = failures as f32 / slots as f32;
        if let Some((_, task)) = failed.filter(|_| ratio > cfg.max_failure_ratio) {
            fail(pass, service, cfg.failure_action, rolling_back, &task);
            return;
        }
    }

    if dirty.is_empty() {
        if in_progress && busy == 0 {
            match monitoring_until {
                Some(until) => pass.wake_at(until),
                None => complete(pass, service, rolling_back),
            }
        }
        return;
    }
    match state {
        None => {
            pass.ch.service_mut(service).update_status = Some(UpdateStatus {
                state: UpdateState::Updating,
                started_at: Some(now),
                completed_at: None,
                message: IN_PROGRESS.into(),
            });
        }
        Some(UpdateState::Paused | UpdateState::RollbackPaused) => return,
        _ => {}
    }

    let free = if cfg.parallelism == 0 {
        dirty.len()
    } else {
        usize::try_from(cfg.parallelism)
            .unwrap_or(usize::MAX)
            .saturating_sub(busy)
    };
    for u in dirty.into_iter().take(free) {
        update_unit(pass, service, u, cfg.order, ids);
    }
}

/// Replaces a dirty unit's task with one of the current spec.
fn update_unit(
    pass: &mut Pass<'_>,
    service: &Service,
    u: &Unit<'_, '_>,
    order: UpdateOrder,
    ids: &mut dyn IdGen,
) {
    let now = pass.now;
    let old: Vec<&Task> = u
        .tasks
        .tasks
        .iter()
        .copied()
        .filter(|t| wants_to_run(pass.ch.task(t)))
        .collect();
    let replaced = u.current(pass).first().map(|t| t.id.clone());
    let mut new = Task::new(ids.task_id(), service, u.slot, u.node.clone(), now);
    new.restart.replaces = replaced;
    match order {
        UpdateOrder::StopFirst => {
            for t in &old {
                pass.ch.task_mut(t).desired_state = TaskState::Shutdown;
            }
            new.desired_state = TaskState::Ready;
            if gate_open(pass, &new) {
                new.desired_state = target_desired(service);
            }
        }
        UpdateOrder::StartFirst => {
            // Extra old tasks beyond the one being replaced go now.
            for t in old.iter().skip(1) {
                pass.ch.task_mut(t).desired_state = TaskState::Shutdown;
            }
            new.desired_state = target_desired(service);
        }
    }
    pass.ch.create(new);
}

fn complete(pass: &mut Pass<'_>, service: &Service, rolling_back: bool) {
    let now = pass.now;
    if let Some(st) = pass.ch.service_mut(service).update_status.as_mut() {
        if rolling_back {
            st.state = UpdateState::RollbackCompleted;
            st.message = "rollback completed".into();
        } else {
            st.state = UpdateState::Completed;
            st.message = "update completed".into();
        }
        st.completed_at = Some(now);
    }
}

fn fail(
    pass: &mut Pass<'_>,
    service: &Service,
    action: FailureAction,
    rolling_back: bool,
    task: &str,
) {
    let svc = pass.ch.service_mut(service);
    let Some(st) = svc.update_status.as_mut() else {
        return;
    };
    if rolling_back {
        // Never roll back a rollback.
        st.state = UpdateState::RollbackPaused;
        st.message = format!("rollback paused due to failure or early termination of task {task}");
        return;
    }
    if action == FailureAction::Rollback
        && let Some(prev) = svc.previous_spec.take()
    {
        let st = svc.update_status.get_or_insert_with(UpdateStatus::default);
        st.state = UpdateState::RollbackStarted;
        st.message =
            format!("update rolled back due to failure or early termination of task {task}");
        svc.spec = prev;
        svc.spec_version = svc.previous_spec_version;
        svc.previous_spec_version = 0;
        return;
    }
    if let Some(st) = svc.update_status.as_mut() {
        st.state = UpdateState::Paused;
        st.message = format!("update paused due to failure or early termination of task {task}");
    }
}
