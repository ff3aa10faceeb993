//! [`StoreEvent`]: what watchers see after a command is applied.

use serde::{Deserialize, Serialize};

use super::object::{ObjectKind, StoreObject};

/// One change to the replicated state, in apply order.
///
/// Applying a log entry yields zero or more object events followed by exactly one
/// [`StoreEvent::Commit`] carrying the entry's index (also for entries that changed nothing,
/// e.g. a rejected command or a membership change), so watchers can track progress.
// Updates dominate the event stream, so boxing them would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreEvent {
    /// An object was created (with its stamped version).
    Created(StoreObject),
    /// An object was replaced.
    Updated {
        /// The object before the update.
        old: StoreObject,
        /// The object after the update.
        new: StoreObject,
    },
    /// An object was deleted (its last stored version).
    Deleted(StoreObject),
    /// Everything up to this Raft log index has been applied.
    Commit {
        /// The applied log index.
        index: u64,
    },
}

impl StoreEvent {
    /// The kind of object the event is about, or `None` for [`StoreEvent::Commit`].
    pub fn kind(&self) -> Option<ObjectKind> {
        match self {
            StoreEvent::Created(o)
            | StoreEvent::Deleted(o)
            | StoreEvent::Updated { new: o, .. } => Some(o.kind()),
            StoreEvent::Commit { .. } => None,
        }
    }

    /// The object after the change (the deleted object for deletes).
    pub fn object(&self) -> Option<&StoreObject> {
        match self {
            StoreEvent::Created(o)
            | StoreEvent::Deleted(o)
            | StoreEvent::Updated { new: o, .. } => Some(o),
            StoreEvent::Commit { .. } => None,
        }
    }
}
