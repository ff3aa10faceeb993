//! The task reaper (swarmkit `orchestrator/taskreaper`): deletes
//!
//! - tasks with desired state REMOVE once they are shut down (or were never assigned): scaled
//!   down slots and tasks of deleted services;
//! - history beyond the cluster's `TaskHistoryRetentionLimit` (default 5) per slot (per node
//!   for global services), oldest first, only tasks that ended or will never run. As in
//!   swarmkit, a service with `max_attempts` > 0 keeps `max_attempts + 1` per slot instead;
//!   a negative limit keeps everything.

use std::collections::BTreeMap;

use crate::fasthash::FastMap;

use crate::model::{ClusterCommand, ClusterState, NodeId, ObjectRef, ServiceId, Task, TaskState};

/// Ended, or will never run (never assigned and no longer wanted).
fn finished(t: &Task) -> bool {
    t.status.state.is_terminal()
        || (t.status.state < TaskState::Assigned && t.desired_state > TaskState::Complete)
}

/// The deletes to propose (one per task, ordered by task ID within a service).
pub fn reap(state: &ClusterState) -> Vec<ClusterCommand> {
    let limit = state
        .clusters()
        .iter()
        .next()
        .map_or(5, |c| c.spec.orchestration.task_history_retention_limit);
    let mut out = Vec::new();
    let mut grouped: Vec<(&ServiceId, Vec<&Task>)> =
        state.tasks_grouped_by_service().into_iter().collect();
    grouped.sort_by(|a, b| a.0.cmp(b.0));
    for (sid, all) in grouped {
        let service = state.services().get(sid);
        let global = service.is_some_and(|s| s.spec.mode.is_global());
        let key = |t: &Task| -> (u64, Option<NodeId>) {
            if global {
                (0, t.node_id.clone())
            } else {
                (t.slot, None)
            }
        };
        let keep = service.map(|s| {
            let max_attempts = s.spec.task_template.restart_policy.max_attempts;
            if max_attempts > 0 {
                i64::try_from(max_attempts)
                    .unwrap_or(i64::MAX)
                    .saturating_add(1)
            } else {
                limit
            }
        });
        // Negative: keep all history. A deleted service keeps none beyond its removals.
        let keep = keep.map(|k| usize::try_from(k).ok());
        // First a count per slot (cheap, no task lists), then lists only for the slots over.
        let mut counts: FastMap<(u64, Option<NodeId>), usize> = FastMap::default();
        for &t in &all {
            if t.desired_state >= TaskState::Remove && finished(t) {
                out.push(ClusterCommand::Delete(ObjectRef::Task(t.id.clone())));
                continue;
            }
            if let Some(Some(_)) = keep {
                *counts.entry(key(t)).or_insert(0) += 1;
            }
        }
        let Some(Some(keep)) = keep else {
            continue;
        };
        let over: FastMap<(u64, Option<NodeId>), usize> = counts
            .into_iter()
            .filter(|(_, n)| *n > keep)
            .map(|(k, n)| (k, n - keep))
            .collect();
        if over.is_empty() {
            continue;
        }
        let mut groups: BTreeMap<(u64, Option<NodeId>), Vec<&Task>> = BTreeMap::new();
        for &t in &all {
            if t.desired_state >= TaskState::Remove && finished(t) {
                continue;
            }
            let k = key(t);
            if over.contains_key(&k) {
                groups.entry(k).or_default().push(t);
            }
        }
        for (k, mut tasks) in groups {
            tasks.sort_by(|a, b| {
                (a.status.timestamp, a.meta.created_at, &a.id).cmp(&(
                    b.status.timestamp,
                    b.meta.created_at,
                    &b.id,
                ))
            });
            let mut excess = over[&k];
            for t in tasks {
                if excess == 0 {
                    break;
                }
                if finished(t) {
                    out.push(ClusterCommand::Delete(ObjectRef::Task(t.id.clone())));
                    excess -= 1;
                }
            }
        }
    }
    out
}
