//! The replicated orchestrator (swarmkit `orchestrator/replicated`): keeps `replicas` slots,
//! adding slots (reusing dead slot numbers first, then the lowest free numbers) and removing
//! the surplus (non-running first, then from the nodes with the most copies).

use std::collections::BTreeMap;

use crate::ids::IdGen;
use crate::model::{NodeId, Service, Task, TaskState};

use super::slot::{self, Slot, SlotKind};
use super::{Pass, target_desired, update, wants_to_run};

/// Reconciles one replicated service.
pub(crate) fn reconcile<'a>(
    pass: &mut Pass<'a>,
    service: &'a Service,
    tasks: &[&'a Task],
    replicas: u64,
    ids: &mut dyn IdGen,
) {
    let mut slots = slot::by_slot(tasks);
    for t in pass.ch.created() {
        if t.service_id == service.id {
            slots.entry(t.slot).or_default().created += 1;
        }
    }
    let mut runnable = Vec::new();
    let mut kept = Vec::new();
    let mut dead = Vec::new();
    for (&n, s) in &slots {
        match slot::kind(pass, service, s) {
            SlotKind::Runnable => runnable.push(n),
            SlotKind::Kept => kept.push(n),
            SlotKind::Dead => dead.push(n),
        }
    }
    let count = (runnable.len() + kept.len()) as u64;
    if replicas > count {
        let need = usize::try_from(replicas - count).unwrap_or(usize::MAX);
        let mut numbers: Vec<u64> = dead.iter().copied().take(need).collect();
        let mut n = 1;
        while numbers.len() < need {
            if !slots.contains_key(&n) {
                numbers.push(n);
            }
            n += 1;
        }
        for n in numbers {
            let mut t = Task::new(ids.task_id(), service, n, None, pass.now);
            t.desired_state = target_desired(service);
            pass.ch.create(t);
        }
    } else if count > replicas {
        let surplus = usize::try_from(count - replicas).unwrap_or(usize::MAX);
        let removed = choose_removals(pass, &slots, &runnable, &kept, surplus);
        for n in &removed {
            remove_slot(pass, service, *n, &slots[n]);
        }
        runnable.retain(|n| !removed.contains(n));
    }
    let kept_left: Vec<u64> = kept
        .iter()
        .copied()
        .filter(|n| {
            slots[n]
                .tasks
                .iter()
                .all(|t| pass.ch.task(t).desired_state < TaskState::Remove)
        })
        .collect();
    let units: Vec<update::Unit<'_, 'a>> = runnable
        .iter()
        .map(|n| (n, false))
        .chain(kept_left.iter().map(|n| (n, true)))
        .map(|(n, kept)| update::Unit {
            slot: *n,
            node: None,
            tasks: &slots[n],
            kept,
        })
        .collect();
    update::run(pass, service, &units, ids);
    for n in &runnable {
        slot::dedupe(pass, &slots[n]);
    }
}

/// Picks `surplus` slots to remove: kept (dead) slots first, then slots not running, then the
/// copies with the highest per-node index (nodes with the most copies), then high slot
/// numbers. Deterministic.
fn choose_removals(
    pass: &Pass<'_>,
    slots: &BTreeMap<u64, Slot<'_>>,
    runnable: &[u64],
    kept: &[u64],
    surplus: usize,
) -> Vec<u64> {
    let mut per_node: BTreeMap<&NodeId, u64> = BTreeMap::new();
    let mut keyed: Vec<(bool, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, u64)> = Vec::new();
    for &n in runnable {
        let live: Vec<&Task> = slots[&n]
            .tasks
            .iter()
            .map(|t| pass.ch.task(t))
            .filter(|t| wants_to_run(t))
            .collect();
        let running = live.iter().any(|t| slot::running(t));
        let index = match live.as_slice() {
            [t] => match &t.node_id {
                Some(node) => {
                    let c = per_node.entry(node).or_insert(0);
                    *c += 1;
                    *c
                }
                None => 0,
            },
            _ => 0,
        };
        keyed.push((running, std::cmp::Reverse(index), std::cmp::Reverse(n), n));
    }
    let mut out: Vec<u64> = kept.iter().rev().copied().take(surplus).collect();
    keyed.sort();
    out.extend(keyed.into_iter().take(surplus - out.len()).map(|k| k.3));
    out
}

/// Scale-down: every task of the slot gets desired REMOVE; the agent stops it and the reaper
/// deletes it.
fn remove_slot(pass: &mut Pass<'_>, service: &Service, n: u64, slot: &Slot<'_>) {
    for t in &slot.tasks {
        if pass.ch.task(t).desired_state < TaskState::Remove {
            pass.ch.task_mut(t).desired_state = TaskState::Remove;
        }
    }
    for t in pass.ch.created_mut() {
        if t.service_id == service.id && t.slot == n {
            t.desired_state = TaskState::Remove;
        }
    }
}
