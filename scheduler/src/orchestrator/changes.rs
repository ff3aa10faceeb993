//! The write set of one orchestrator pass: modified copies of stored tasks and services and
//! newly created tasks, turned into commands at the end, one per object.

use std::collections::BTreeMap;

use crate::model::{
    ClusterCommand, ClusterState, Service, ServiceId, StoreObject, Task, TaskId, Timestamp,
};

/// Modified copies of stored objects, keyed by ID, plus creates.
///
/// Reads go through [`Changes::task`] so that a later step of the pass sees what an earlier
/// step decided. Each object yields at most one command, carrying the version it was read at.
#[derive(Debug)]
pub(crate) struct Changes<'a> {
    state: &'a ClusterState,
    now: Timestamp,
    tasks: BTreeMap<TaskId, Task>,
    services: BTreeMap<ServiceId, Service>,
    created: Vec<Task>,
}

impl<'a> Changes<'a> {
    pub(crate) fn new(state: &'a ClusterState, now: Timestamp) -> Self {
        Self {
            state,
            now,
            tasks: BTreeMap::new(),
            services: BTreeMap::new(),
            created: Vec::new(),
        }
    }

    /// The task as this pass sees it (modified copy or stored version).
    pub(crate) fn task<'b>(&'b self, t: &'b Task) -> &'b Task {
        self.tasks.get(&t.id).unwrap_or(t)
    }

    /// A modifiable copy of a stored task.
    pub(crate) fn task_mut(&mut self, t: &Task) -> &mut Task {
        self.tasks.entry(t.id.clone()).or_insert_with(|| t.clone())
    }

    /// The service as this pass sees it.
    pub(crate) fn service<'b>(&'b self, s: &'b Service) -> &'b Service {
        self.services.get(&s.id).unwrap_or(s)
    }

    /// A modifiable copy of a stored service.
    pub(crate) fn service_mut(&mut self, s: &Service) -> &mut Service {
        self.services
            .entry(s.id.clone())
            .or_insert_with(|| s.clone())
    }

    /// Queues a new task.
    pub(crate) fn create(&mut self, t: Task) {
        self.created.push(t);
    }

    /// Tasks created so far in this pass, modifiable.
    pub(crate) fn created_mut(&mut self) -> &mut [Task] {
        &mut self.created
    }

    /// Tasks created so far in this pass.
    pub(crate) fn created(&self) -> &[Task] {
        &self.created
    }

    /// The commands: creates first, then updates of objects that really changed (stamped
    /// `updated_at = now`, carrying the version they were read at).
    pub(crate) fn into_commands(self) -> Vec<ClusterCommand> {
        let (state, now) = (self.state, self.now);
        let mut out: Vec<ClusterCommand> = self
            .created
            .into_iter()
            .map(|t| ClusterCommand::Create(StoreObject::Task(t)))
            .collect();
        for mut s in self.services.into_values() {
            if state.services().get(&s.id).is_some_and(|cur| *cur != s) {
                s.meta.updated_at = now;
                out.push(ClusterCommand::Update(StoreObject::Service(s)));
            }
        }
        for mut t in self.tasks.into_values() {
            if state.tasks().get(&t.id).is_some_and(|cur| *cur != t) {
                t.meta.updated_at = now;
                out.push(ClusterCommand::Update(StoreObject::Task(t)));
            }
        }
        out
    }
}
