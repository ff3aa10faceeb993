//! `docker service logs -f` keeps showing a service's output across task replacements,
//! scaling and updates, as swarmkit's subscriptions do by watching for new tasks of their
//! selector: the leader watches its store and extends the subscription to each task of the
//! followed services once its container has started.

use std::collections::HashSet;
use std::sync::Arc;

use shoal_raft::{ClusterStore, WatchItem};
use shoal_scheduler::model::task_state::TaskState;
use shoal_scheduler::model::{ServiceId, StoreEvent, StoreObject, Task, TaskId};

use super::broker::{LogBroker, Subscription};
use super::wire::LogOptions;

/// Watches `store` until `sub` is dropped and adds each task of `services` that reaches a
/// state with a container and is not in `known` (the tasks the subscription began with).
pub fn new_tasks_of(
    store: ClusterStore,
    broker: Arc<LogBroker>,
    sub: &Subscription,
    services: Vec<ServiceId>,
    known: HashSet<TaskId>,
    options: LogOptions,
) {
    let id = sub.id().to_owned();
    let gone = sub.gone();
    let mut follower = Follower {
        broker,
        id,
        services,
        known,
        // `--tail` limits what was written before the follow began; a task that started
        // after it has no such lines, so all of its output is shown (`--since` still holds).
        options: LogOptions {
            tail: None,
            ..options
        },
    };
    tokio::spawn(async move {
        // Tasks that started between the caller's read and this copy count too.
        let (state, _, mut watch) = store.view_and_watch();
        if !follower.consider_all(state.tasks().iter()) {
            return;
        }
        drop(state);
        loop {
            let item = tokio::select! {
                _ = gone.cancelled() => return,
                item = watch.next() => item,
            };
            let alive = match item {
                None => return,
                Some(WatchItem::Event(
                    StoreEvent::Created(StoreObject::Task(t))
                    | StoreEvent::Updated {
                        new: StoreObject::Task(t),
                        ..
                    },
                )) => follower.consider(&t),
                Some(WatchItem::Resync { state, .. }) => {
                    follower.consider_all(state.tasks().iter())
                }
                Some(WatchItem::Event(_)) => true,
            };
            if !alive {
                return;
            }
        }
    });
}

struct Follower {
    broker: Arc<LogBroker>,
    id: String,
    services: Vec<ServiceId>,
    known: HashSet<TaskId>,
    options: LogOptions,
}

impl Follower {
    fn consider_all<'a>(&mut self, tasks: impl Iterator<Item = &'a Task>) -> bool {
        for t in tasks {
            if !self.consider(t) {
                return false;
            }
        }
        true
    }

    /// Extends the subscription with `t` if it is new and has a container; false once the
    /// subscription is gone.
    fn consider(&mut self, t: &Task) -> bool {
        let Some(node) = &t.node_id else {
            return true;
        };
        if !has_container(t.status.state)
            || !self.services.contains(&t.service_id)
            || self.known.contains(&t.id)
        {
            return true;
        }
        self.known.insert(t.id.clone());
        self.broker
            .extend(&self.id, t.id.clone(), node.clone(), self.options.clone())
    }
}

/// States the agent reaches only after creating the task's container.
fn has_container(s: TaskState) -> bool {
    matches!(
        s,
        TaskState::Running | TaskState::Complete | TaskState::Shutdown | TaskState::Failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_states_after_the_container_exists_count() {
        assert!(has_container(TaskState::Running));
        assert!(has_container(TaskState::Failed));
        for s in [
            TaskState::New,
            TaskState::Assigned,
            TaskState::Preparing,
            TaskState::Starting,
            TaskState::Rejected,
            TaskState::Orphaned,
        ] {
            assert!(!has_container(s), "{s:?}");
        }
    }
}
