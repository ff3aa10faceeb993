//! Slots: the unit a replicated service counts (swarmkit `orchestrator/slot.go`). A slot is
//! every task, current and historic, with one slot number (or, for global services, on one
//! node); at most one of them should be running at a time.

use std::collections::BTreeMap;

use crate::model::{Service, Task, TaskState};

use super::restart::should_restart;
use super::{Pass, is_active, wants_to_run};

/// One slot's tasks as this pass sees them.
#[derive(Debug, Default)]
pub(crate) struct Slot<'a> {
    /// Every stored task of the slot.
    pub(crate) tasks: Vec<&'a Task>,
    /// Tasks created in this pass for the slot (restart replacements).
    pub(crate) created: usize,
}

/// How a slot counts towards the desired number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// Some task wants to run.
    Runnable,
    /// Nothing runs and the restart policy says nothing should (e.g. condition `none`, or
    /// attempts exhausted): the slot still counts, as in swarmkit.
    Kept,
    /// Nothing runs and nothing should block reuse (e.g. every task removed).
    Dead,
}

/// Groups a service's stored tasks by slot number.
pub(crate) fn by_slot<'a>(tasks: &[&'a Task]) -> BTreeMap<u64, Slot<'a>> {
    let mut slots: BTreeMap<u64, Slot<'a>> = BTreeMap::new();
    for &t in tasks {
        slots.entry(t.slot).or_default().tasks.push(t);
    }
    slots
}

/// The newest task of a slot: latest creation, then highest ID.
pub(crate) fn newest<'a>(tasks: &[&'a Task]) -> Option<&'a Task> {
    tasks
        .iter()
        .copied()
        .max_by(|a, b| (a.meta.created_at, &a.id).cmp(&(b.meta.created_at, &b.id)))
}

/// Classifies a slot, seeing this pass's changes.
pub(crate) fn kind(pass: &Pass<'_>, service: &Service, slot: &Slot<'_>) -> SlotKind {
    if slot.created > 0 || slot.tasks.iter().any(|t| wants_to_run(pass.ch.task(t))) {
        return SlotKind::Runnable;
    }
    match newest(&slot.tasks).map(|t| pass.ch.task(t)) {
        Some(t) if t.desired_state < TaskState::Remove && !should_restart(service, t, pass.now) => {
            SlotKind::Kept
        }
        _ => SlotKind::Dead,
    }
}

/// When a slot has more than one task that wants to run and they are not an update's
/// start-first pair, keeps the best one and shuts the others down. This repairs duplicates a
/// deposed leader may have proposed concurrently with its successor.
pub(crate) fn dedupe(pass: &mut Pass<'_>, slot: &Slot<'_>) {
    let live: Vec<&Task> = slot
        .tasks
        .iter()
        .copied()
        .filter(|t| is_active(pass.ch.task(t)))
        .collect();
    if live.len() < 2 {
        return;
    }
    let pair = live.iter().any(|t| {
        pass.ch
            .task(t)
            .restart
            .replaces
            .as_ref()
            .is_some_and(|r| live.iter().any(|o| &o.id == r))
    });
    if pair {
        return;
    }
    // Best: furthest along (running beats pending), then oldest, then lowest ID.
    let keep = live
        .iter()
        .copied()
        .min_by(|a, b| {
            let (a, b) = (pass.ch.task(a), pass.ch.task(b));
            (std::cmp::Reverse(a.status.state), a.meta.created_at, &a.id).cmp(&(
                std::cmp::Reverse(b.status.state),
                b.meta.created_at,
                &b.id,
            ))
        })
        .map(|t| t.id.clone());
    for t in live {
        if Some(&t.id) != keep.as_ref() {
            pass.ch.task_mut(t).desired_state = TaskState::Shutdown;
        }
    }
}

/// Whether the task was observed running, for scale-down ordering.
pub(crate) fn running(t: &Task) -> bool {
    t.status.state == TaskState::Running
}
