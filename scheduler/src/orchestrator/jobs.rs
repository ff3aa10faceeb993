//! The job orchestrators (swarmkit `orchestrator/jobs`): tasks run to completion (desired
//! state COMPLETE) and are never restarted once complete.
//!
//! - replicated job: slots `1..=total_completions`; at most `max_concurrent` run at once; a
//!   slot is done once one of its tasks completed;
//! - global job: one task per eligible node, done once it completed.
//!
//! Only tasks of the service's current `job_status.job_iteration` count; the control API bumps
//! the iteration when the job is updated, and tasks of older iterations are shut down.

use crate::ids::IdGen;
use crate::model::{Service, Task, TaskState};
use crate::placement::constraint;

use super::global::{by_node, eligible};
use super::slot::{self, SlotKind};
use super::{Pass, target_desired, wants_to_run};

/// The service's current job iteration.
pub(crate) fn iteration(service: &Service) -> u64 {
    service.job_status.map_or(0, |j| j.job_iteration)
}

/// Whether `t` belongs to the current iteration.
pub(crate) fn in_iteration(service: &Service, t: &Task) -> bool {
    t.job_iteration.unwrap_or(0) == iteration(service)
}

/// Shuts down tasks of older iterations, returns the current ones.
fn current<'a>(pass: &mut Pass<'_>, service: &Service, tasks: &[&'a Task]) -> Vec<&'a Task> {
    let mut out = Vec::with_capacity(tasks.len());
    for &t in tasks {
        if in_iteration(service, t) {
            out.push(t);
        } else if wants_to_run(pass.ch.task(t)) {
            pass.ch.task_mut(t).desired_state = TaskState::Shutdown;
        }
    }
    out
}

fn completed(pass: &Pass<'_>, tasks: &[&Task]) -> bool {
    tasks
        .iter()
        .any(|t| pass.ch.task(t).status.state == TaskState::Complete)
}

/// Reconciles a replicated job.
pub(crate) fn reconcile_replicated(
    pass: &mut Pass<'_>,
    service: &Service,
    tasks: &[&Task],
    max_concurrent: u64,
    total_completions: u64,
    ids: &mut dyn IdGen,
) {
    let cur = current(pass, service, tasks);
    let mut slots = slot::by_slot(&cur);
    for t in pass.ch.created() {
        if t.service_id == service.id {
            slots.entry(t.slot).or_default().created += 1;
        }
    }
    let mut done = 0u64;
    let mut active = 0u64;
    for s in slots.values() {
        if completed(pass, &s.tasks) {
            done += 1;
        } else if slot::kind(pass, service, s) == SlotKind::Runnable {
            active += 1;
        }
    }
    let want = max_concurrent
        .max(1)
        .min(total_completions.saturating_sub(done));
    let mut missing = want.saturating_sub(active);
    let mut n = 1;
    while missing > 0 && n <= total_completions {
        if !slots.contains_key(&n) {
            let mut t = Task::new(ids.task_id(), service, n, None, pass.now);
            t.desired_state = target_desired(service);
            pass.ch.create(t);
            missing -= 1;
        }
        n += 1;
    }
    for s in slots.values() {
        slot::dedupe(pass, s);
    }
}

/// Reconciles a global job.
pub(crate) fn reconcile_global(
    pass: &mut Pass<'_>,
    service: &Service,
    tasks: &[&Task],
    ids: &mut dyn IdGen,
) {
    let cur = current(pass, service, tasks);
    let by_node = by_node(pass, service, &cur);
    let constraints = constraint::parse_all(&service.spec.task_template.placement.constraints).ok();
    for node in pass.state.nodes().iter() {
        if !eligible(service, constraints.as_deref(), node) {
            continue;
        }
        let s = by_node.get(&node.id);
        if s.is_some_and(|s| completed(pass, &s.tasks)) {
            continue;
        }
        match s.map(|s| slot::kind(pass, service, s)) {
            Some(SlotKind::Runnable | SlotKind::Kept) => {}
            None | Some(SlotKind::Dead) => {
                let mut t = Task::new(ids.task_id(), service, 0, Some(node.id.clone()), pass.now);
                t.desired_state = target_desired(service);
                pass.ch.create(t);
            }
        }
    }
    for s in by_node.values() {
        slot::dedupe(pass, s);
    }
}
