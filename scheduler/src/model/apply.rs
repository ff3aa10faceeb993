//! Deterministic application of [`ClusterCommand`]s to [`ClusterState`].
//!
//! Rules (swarmkit's store semantics):
//! - the new `Version.index` of every written object is the Raft log index passed in, so it
//!   is identical on every replica;
//! - an update must carry the version it read, else "update out of sequence";
//! - create fails if the ID, or the unique name of a named kind, is taken;
//! - a task's observed state only moves forward;
//! - a secret's or config's data never changes (only labels may), and one referenced by a
//!   service cannot be deleted (swarmkit checks both in its control API; here they hold for
//!   every proposer, with no read-check-write race between managers);
//! - a command (a batch included) applies completely or not at all.
//!
//! No clocks, no randomness: the same state and command always give the same result.

use super::command::ClusterCommand;
use super::event::StoreEvent;
use super::meta::Version;
use super::object::{Object, ObjectKind, ObjectRef, StoreObject};
use super::state::ClusterState;
use super::task_state::{TransitionError, check_transition};

/// Why a command was rejected. Rejection is deterministic: every replica rejects it the same
/// way and the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ApplyError {
    /// The update was based on a stale read. Docker's exact text.
    #[error("update out of sequence")]
    OutOfSequence {
        /// The object being updated.
        object: ObjectRef,
        /// The stored version.
        current: u64,
        /// The version the update carried.
        given: u64,
    },
    /// The object does not exist.
    #[error("{0} not found")]
    NotFound(ObjectRef),
    /// An object with this ID already exists.
    #[error("{0} already exists")]
    Exists(ObjectRef),
    /// Another object of the kind already has this name.
    #[error("name conflicts with an existing object: {kind} {name} already exists")]
    NameConflict {
        /// The kind.
        kind: ObjectKind,
        /// The taken name.
        name: String,
    },
    /// A secret or config still referenced by services. Docker's text (swarmkit controlapi).
    #[error("{kind} '{name}' is in use by the following {}: {}", if services.len() == 1 { "service" } else { "services" }, services.join(", "))]
    InUse {
        /// Secret or config.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// Names of the services using it, sorted.
        services: Vec<String>,
    },
    /// An update tried to change a secret's or config's data. Docker's text.
    #[error("only updates to Labels are allowed")]
    Immutable(ObjectRef),
    /// A task's state would move backwards.
    #[error("task {task}: {source}")]
    InvalidTransition {
        /// The task.
        task: String,
        /// The rejected transition.
        #[source]
        source: TransitionError,
    },
}

type Undo = Vec<(ObjectRef, Option<StoreObject>)>;

impl ClusterState {
    /// Applies `cmd`, the payload of the Raft log entry at `index`.
    ///
    /// Returns the object events in apply order (the state machine appends the
    /// [`StoreEvent::Commit`]). On error the state is left exactly as it was.
    pub fn apply(
        &mut self,
        index: u64,
        cmd: ClusterCommand,
    ) -> Result<Vec<StoreEvent>, ApplyError> {
        let mut undo = Undo::new();
        let mut events = Vec::new();
        match self.apply_inner(index, cmd, &mut undo, &mut events) {
            Ok(()) => Ok(events),
            Err(e) => {
                for (r, prev) in undo.into_iter().rev() {
                    match prev {
                        Some(p) => self.put(p),
                        None => self.remove(&r),
                    };
                }
                Err(e)
            }
        }
    }

    fn apply_inner(
        &mut self,
        index: u64,
        cmd: ClusterCommand,
        undo: &mut Undo,
        events: &mut Vec<StoreEvent>,
    ) -> Result<(), ApplyError> {
        match cmd {
            ClusterCommand::Create(obj) => match obj {
                StoreObject::Cluster(o) => self.create(index, o, undo, events),
                StoreObject::Node(o) => self.create(index, o, undo, events),
                StoreObject::Service(o) => self.create(index, o, undo, events),
                StoreObject::Task(o) => self.create(index, o, undo, events),
                StoreObject::Network(o) => self.create(index, o, undo, events),
                StoreObject::Secret(o) => self.create(index, o, undo, events),
                StoreObject::Config(o) => self.create(index, o, undo, events),
            },
            ClusterCommand::Update(obj) => match obj {
                StoreObject::Cluster(o) => self.update(index, o, undo, events),
                StoreObject::Node(o) => self.update(index, o, undo, events),
                StoreObject::Service(o) => self.update(index, o, undo, events),
                StoreObject::Task(o) => {
                    // A stale update is reported as out of sequence (by `update`), not as a
                    // bad transition computed against a state the proposer never saw.
                    if let Some(cur) = self.tasks().get(&o.id)
                        && cur.meta.version == o.meta.version
                    {
                        check_transition(cur.status.state, o.status.state).map_err(|source| {
                            ApplyError::InvalidTransition {
                                task: o.id.to_string(),
                                source,
                            }
                        })?;
                    }
                    self.update(index, o, undo, events)
                }
                StoreObject::Network(o) => self.update(index, o, undo, events),
                StoreObject::Secret(o) => {
                    if let Some(cur) = self.secrets().get(&o.id)
                        && (cur.spec.data != o.spec.data
                            || cur.spec.name != o.spec.name
                            || cur.spec.templating != o.spec.templating
                            || cur.spec.driver != o.spec.driver)
                    {
                        return Err(ApplyError::Immutable(o.object_ref()));
                    }
                    self.update(index, o, undo, events)
                }
                StoreObject::Config(o) => {
                    if let Some(cur) = self.configs().get(&o.id)
                        && (cur.spec.data != o.spec.data
                            || cur.spec.name != o.spec.name
                            || cur.spec.templating != o.spec.templating)
                    {
                        return Err(ApplyError::Immutable(o.object_ref()));
                    }
                    self.update(index, o, undo, events)
                }
            },
            ClusterCommand::Delete(r) => {
                self.check_not_in_use(&r)?;
                let prev = self
                    .remove(&r)
                    .ok_or_else(|| ApplyError::NotFound(r.clone()))?;
                undo.push((r, Some(prev.clone())));
                events.push(StoreEvent::Deleted(prev));
                Ok(())
            }
            ClusterCommand::Batch(cmds) => {
                for c in cmds {
                    self.apply_inner(index, c, undo, events)?;
                }
                Ok(())
            }
        }
    }

    /// Names of the services whose container spec satisfies `uses`.
    fn services_referencing(
        &self,
        uses: impl Fn(&super::task::ContainerSpec) -> bool,
    ) -> Vec<String> {
        self.services()
            .iter()
            .filter(|svc| uses(&svc.spec.task_template.container))
            .map(|svc| svc.spec.name.clone())
            .collect()
    }

    /// Refuses to delete a secret or config that a service's spec references.
    fn check_not_in_use(&self, r: &ObjectRef) -> Result<(), ApplyError> {
        let (kind, name, services): (ObjectKind, String, Vec<String>) = match r {
            ObjectRef::Secret(id) => {
                let Some(s) = self.secrets().get(id) else {
                    return Ok(());
                };
                let users =
                    self.services_referencing(|c| c.secrets.iter().any(|x| &x.secret_id == id));
                (ObjectKind::Secret, s.spec.name.clone(), users)
            }
            ObjectRef::Config(id) => {
                let Some(c) = self.configs().get(id) else {
                    return Ok(());
                };
                let users =
                    self.services_referencing(|c| c.configs.iter().any(|x| &x.config_id == id));
                (ObjectKind::Config, c.spec.name.clone(), users)
            }
            _ => return Ok(()),
        };
        if services.is_empty() {
            return Ok(());
        }
        let mut services = services;
        services.sort();
        Err(ApplyError::InUse {
            kind,
            name,
            services,
        })
    }

    fn create<T: Object>(
        &mut self,
        index: u64,
        mut o: T,
        undo: &mut Undo,
        events: &mut Vec<StoreEvent>,
    ) -> Result<(), ApplyError> {
        let table = T::table(self);
        if table.get(o.id()).is_some() {
            return Err(ApplyError::Exists(o.object_ref()));
        }
        if let Some(name) = o.unique_name()
            && table.get_by_name(name).is_some()
        {
            return Err(ApplyError::NameConflict {
                kind: T::KIND,
                name: name.to_owned(),
            });
        }
        o.meta_mut().version = Version { index };
        let obj: StoreObject = o.into();
        undo.push((obj.object_ref(), None));
        self.put(obj.clone());
        events.push(StoreEvent::Created(obj));
        Ok(())
    }

    fn update<T: Object>(
        &mut self,
        index: u64,
        mut o: T,
        undo: &mut Undo,
        events: &mut Vec<StoreEvent>,
    ) -> Result<(), ApplyError> {
        let table = T::table(self);
        let cur = table
            .get(o.id())
            .ok_or_else(|| ApplyError::NotFound(o.object_ref()))?;
        if cur.meta().version != o.meta().version {
            return Err(ApplyError::OutOfSequence {
                object: o.object_ref(),
                current: cur.meta().version.index,
                given: o.meta().version.index,
            });
        }
        if let Some(name) = o.unique_name()
            && let Some(other) = table.get_by_name(name)
            && other.id() != o.id()
        {
            return Err(ApplyError::NameConflict {
                kind: T::KIND,
                name: name.to_owned(),
            });
        }
        let created_at = cur.meta().created_at;
        let meta = o.meta_mut();
        meta.created_at = created_at;
        meta.version = Version { index };
        let new: StoreObject = o.into();
        let r = new.object_ref();
        // The lookup above proved the object exists, so `put` returns the old version.
        if let Some(old) = self.put(new.clone()) {
            undo.push((r, Some(old.clone())));
            events.push(StoreEvent::Updated { old, new });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
