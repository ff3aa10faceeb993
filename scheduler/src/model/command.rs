//! [`ClusterCommand`]: the one payload of the Raft log.
//!
//! Everything non-deterministic (IDs, timestamps, the proposing node) is decided by the proposer
//! and carried inside the command, so applying it gives the same result on every replica.

use serde::{Deserialize, Serialize};

use super::object::{ObjectRef, StoreObject};

/// A change to the replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterCommand {
    /// Create an object. Its ID (and unique name, for named kinds) must be free.
    /// `meta.created_at`/`updated_at` are the proposer's; `meta.version` is overwritten.
    Create(StoreObject),
    /// Replace an object. `meta.version` must equal the stored version ("update out of
    /// sequence" otherwise); `meta.updated_at` is the proposer's; `created_at` is kept.
    Update(StoreObject),
    /// Delete an object by reference.
    Delete(ObjectRef),
    /// Apply several commands atomically: all of them or none.
    Batch(Vec<ClusterCommand>),
}

impl ClusterCommand {
    /// Number of primitive (non-batch) operations in the command.
    pub fn op_count(&self) -> usize {
        match self {
            ClusterCommand::Batch(cmds) => cmds.iter().map(ClusterCommand::op_count).sum(),
            _ => 1,
        }
    }
}
