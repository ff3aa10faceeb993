//! The assignments stream of one agent session: the node's tasks and the secrets and configs
//! they need, as a full set first and then as batched changes (swarmkit's
//! `Assignments`/`assignmentSet`).
//!
//! The session keeps its own copy of the state from [`shoal_raft::ClusterStore::view_and_watch`]
//! and recomputes the node's set after each burst of events, so it never polls; it ends when
//! the agent goes away, the store shuts down, or this manager stops leading.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::FutureExt;
use shoal_raft::WatchItem;
use shoal_scheduler::model::{
    ClusterState, Config, ConfigId, NodeId, Secret, SecretId, ServiceId, StoreEvent, Task, TaskId,
    TaskState,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use super::wire::{AssignmentBatch, ServiceInfo};

/// What one node holds: tasks by ID and the secrets/configs its live tasks reference.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct AssignmentSet {
    tasks: BTreeMap<TaskId, Task>,
    services: BTreeMap<ServiceId, ServiceInfo>,
    secrets: BTreeMap<SecretId, Secret>,
    configs: BTreeMap<ConfigId, Config>,
}

/// Whether the agent should hear about `t`: placed on this node by the scheduler.
fn assigned(t: &Task, node: &NodeId) -> bool {
    t.node_id.as_ref() == Some(node) && t.status.state >= TaskState::Assigned
}

impl AssignmentSet {
    /// The set of `node` in `state`. Secret and config data go only with tasks that still
    /// want to run.
    pub(crate) fn of(state: &ClusterState, node: &NodeId) -> Self {
        let mut set = AssignmentSet::default();
        for t in state.tasks_by_node(node).filter(|t| assigned(t, node)) {
            if t.desired_state <= TaskState::Complete && !t.status.state.is_terminal() {
                for id in crate::cluster::convert_service::secret_refs(&t.spec) {
                    if let Some(s) = state.secrets().get(&id) {
                        set.secrets.insert(id, s.clone());
                    }
                }
                for id in crate::cluster::convert_service::config_refs(&t.spec) {
                    if let Some(c) = state.configs().get(&id) {
                        set.configs.insert(id, c.clone());
                    }
                }
            }
            if let Some(s) = state.services().get(&t.service_id) {
                set.services.insert(
                    s.id.clone(),
                    ServiceInfo {
                        name: s.spec.name.clone(),
                        ports: s.spec.endpoint_spec.ports.clone(),
                    },
                );
            }
            set.tasks.insert(t.id.clone(), t.clone());
        }
        set
    }

    /// Everything in the set, as the first message of a session.
    pub(crate) fn full(&self) -> AssignmentBatch {
        AssignmentBatch {
            full: true,
            tasks: self.tasks.values().cloned().collect(),
            services: self.services.clone(),
            secrets: self.secrets.values().cloned().collect(),
            configs: self.configs.values().cloned().collect(),
            ..Default::default()
        }
    }

    /// What changed from `self` to `next`.
    pub(crate) fn diff(&self, next: &AssignmentSet) -> AssignmentBatch {
        fn changes<K: Ord + Clone, V: Clone + PartialEq>(
            old: &BTreeMap<K, V>,
            new: &BTreeMap<K, V>,
        ) -> (Vec<V>, Vec<K>) {
            let changed = new
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(*v))
                .map(|(_, v)| v.clone())
                .collect();
            let removed = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .cloned()
                .collect();
            (changed, removed)
        }
        let (tasks, removed_tasks) = changes(&self.tasks, &next.tasks);
        let (secrets, removed_secrets) = changes(&self.secrets, &next.secrets);
        let (configs, removed_configs) = changes(&self.configs, &next.configs);
        // Services are sent whole with any batch touching their tasks; a deleted service's
        // name stays with the agent, which still needs it to finish the tasks.
        let services = next
            .services
            .iter()
            .filter(|(id, info)| {
                self.services.get(*id) != Some(*info)
                    || tasks.iter().any(|t: &Task| &t.service_id == *id)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        AssignmentBatch {
            full: false,
            tasks,
            removed_tasks,
            services,
            secrets,
            removed_secrets,
            configs,
            removed_configs,
        }
    }
}

/// Applies a watch item to a session's copy of the state; true when it may concern `node`.
fn apply(state: &mut ClusterState, item: WatchItem, node: &NodeId) -> bool {
    match item {
        WatchItem::Resync { state: fresh, .. } => {
            *state = *fresh;
            true
        }
        WatchItem::Event(StoreEvent::Commit { .. }) => false,
        WatchItem::Event(StoreEvent::Created(o)) => {
            let relevant = relevant(&o, node);
            state.put(o);
            relevant
        }
        WatchItem::Event(StoreEvent::Updated { old, new }) => {
            let relevant = relevant(&old, node) || relevant(&new, node);
            state.put(new);
            relevant
        }
        WatchItem::Event(StoreEvent::Deleted(o)) => {
            let relevant = relevant(&o, node);
            state.remove(&o.object_ref());
            relevant
        }
    }
}

fn relevant(o: &shoal_scheduler::model::StoreObject, node: &NodeId) -> bool {
    use shoal_scheduler::model::StoreObject as O;
    match o {
        O::Task(t) => t.node_id.as_ref() == Some(node),
        O::Secret(_) | O::Config(_) | O::Service(_) => true,
        _ => false,
    }
}

impl Dispatcher {
    /// Streams `node`'s assignments into `tx` until the agent disconnects, `stop` fires or
    /// this manager stops leading.
    pub(crate) async fn assignments(
        self: Arc<Self>,
        node: NodeId,
        tx: mpsc::Sender<AssignmentBatch>,
        stop: CancellationToken,
    ) {
        let (mut state, _, mut watch) = self.ctx.store().view_and_watch();
        let mut current = AssignmentSet::of(&state, &node);
        if tx.send(current.full()).await.is_err() {
            return;
        }
        let mut metrics = self.ctx.store().metrics();
        loop {
            let item = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tx.closed() => return,
                changed = metrics.changed() => {
                    if changed.is_err() || !self.ctx.is_leader() {
                        return;
                    }
                    continue;
                }
                item = watch.next() => match item { Some(i) => i, None => return },
            };
            let mut dirty = apply(&mut state, item, &node);
            // Take the whole burst already queued before recomputing: one batch per burst.
            while let Some(Some(item)) = watch.next().now_or_never() {
                dirty |= apply(&mut state, item, &node);
            }
            if !dirty {
                continue;
            }
            let next = AssignmentSet::of(&state, &node);
            let batch = current.diff(&next);
            current = next;
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, node: &str, state: TaskState) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": id, "meta": {"version": {"index": 1}, "created_at": 0, "updated_at": 0},
            "service_id": "svc", "slot": 1, "node_id": node,
            "spec": {}, "desired_state": "running",
            "status": {"state": "new", "timestamp": 0, "message": "", "err": "", "container_id": ""}
        }))
        .unwrap();
        t.status.state = state;
        t
    }

    #[test]
    fn set_holds_assigned_tasks_of_the_node_and_diffs_changes() {
        let mut state = ClusterState::default();
        state.put(shoal_scheduler::model::StoreObject::Task(task(
            "a",
            "n1",
            TaskState::Assigned,
        )));
        state.put(shoal_scheduler::model::StoreObject::Task(task(
            "b",
            "n1",
            TaskState::Pending,
        )));
        state.put(shoal_scheduler::model::StoreObject::Task(task(
            "c",
            "n2",
            TaskState::Assigned,
        )));
        let n1 = NodeId::new("n1");
        let set = AssignmentSet::of(&state, &n1);
        let full = set.full();
        assert!(full.full);
        assert_eq!(full.tasks.len(), 1);
        assert_eq!(full.tasks[0].id.as_str(), "a");

        let mut moved = task("a", "n1", TaskState::Running);
        moved.desired_state = TaskState::Shutdown;
        state.put(shoal_scheduler::model::StoreObject::Task(moved));
        state.put(shoal_scheduler::model::StoreObject::Task(task(
            "b",
            "n1",
            TaskState::Assigned,
        )));
        let next = AssignmentSet::of(&state, &n1);
        let d = set.diff(&next);
        assert!(!d.full);
        assert_eq!(d.tasks.len(), 2);
        assert!(d.removed_tasks.is_empty());

        state.remove(&shoal_scheduler::model::ObjectRef::Task(TaskId::new("a")));
        let last = AssignmentSet::of(&state, &n1);
        let d = next.diff(&last);
        assert_eq!(d.removed_tasks, vec![TaskId::new("a")]);
        assert!(d.tasks.is_empty());
    }
}
