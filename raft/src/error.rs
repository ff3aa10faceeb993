//! [`StoreError`]: every way a store operation can fail, classified for the API layer.

use serde::{Deserialize, Serialize};
use shoal_scheduler::model::ApplyError;

use crate::types::{RaftId, RaftNode, typ};

/// The current leader, as far as this member knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    /// The leader's Raft id.
    pub id: RaftId,
    /// The leader's Raft address, when known.
    pub node: Option<RaftNode>,
}

/// Errors of [`crate::ClusterStore`] operations.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// This member is not the leader; forward to `leader` (the network's job), or report
    /// Unavailable when there is none.
    #[error("this node is not the raft leader")]
    NotLeader {
        /// The leader if one is known.
        leader: Option<LeaderInfo>,
    },
    /// The update carried a stale `Version.index`. Docker's exact text.
    #[error("update out of sequence")]
    OutOfSequence(#[source] ApplyError),
    /// The object to update or delete does not exist.
    #[error("{0}")]
    NotFound(#[source] ApplyError),
    /// The ID or unique name is taken.
    #[error("{0}")]
    Conflict(#[source] ApplyError),
    /// The command was well-formed but not allowed (e.g. a task state moving backwards).
    #[error("{0}")]
    InvalidArgument(#[source] ApplyError),
    /// No quorum, shutting down, or a forwarded call could not reach the leader.
    #[error("raft unavailable: {0}")]
    Unavailable(String),
    /// A membership change was refused.
    #[error("membership change refused: {0}")]
    Membership(String),
    /// Local storage failed.
    #[error("storage error: {0}")]
    Storage(#[from] typ::StorageError),
    /// Opening the sled database failed.
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
    /// Filesystem error (snapshot directory).
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// The store configuration is inconsistent.
    #[error("invalid raft config: {0}")]
    InvalidConfig(String),
    /// Raft data could not be decrypted (wrong data encryption key, corrupt data), or the
    /// store's encryption does not match the configuration.
    #[error("raft data encryption: {0}")]
    Encryption(String),
    /// TLS material could not be loaded, or the transport could not be built.
    #[error("transport setup: {0}")]
    Transport(String),
}

impl From<ApplyError> for StoreError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::OutOfSequence { .. } => StoreError::OutOfSequence(e),
            ApplyError::NotFound(_) => StoreError::NotFound(e),
            ApplyError::Exists(_) | ApplyError::NameConflict { .. } => StoreError::Conflict(e),
            ApplyError::InvalidTransition { .. }
            | ApplyError::InUse { .. }
            | ApplyError::Immutable(_) => StoreError::InvalidArgument(e),
        }
    }
}

impl From<crate::cipher::CipherError> for StoreError {
    fn from(e: crate::cipher::CipherError) -> Self {
        StoreError::Encryption(e.to_string())
    }
}

impl From<typ::ClientWriteError> for StoreError {
    fn from(e: typ::ClientWriteError) -> Self {
        match e {
            openraft::error::ClientWriteError::ForwardToLeader(f) => StoreError::from(f),
            openraft::error::ClientWriteError::ChangeMembershipError(c) => {
                StoreError::Membership(c.to_string())
            }
        }
    }
}

impl From<typ::ForwardToLeader> for StoreError {
    fn from(f: typ::ForwardToLeader) -> Self {
        StoreError::NotLeader {
            leader: f.leader_id.map(|id| LeaderInfo {
                id,
                node: f.leader_node,
            }),
        }
    }
}

impl From<typ::CheckIsLeaderError> for StoreError {
    fn from(e: typ::CheckIsLeaderError) -> Self {
        match e {
            openraft::error::CheckIsLeaderError::ForwardToLeader(f) => StoreError::from(f),
            openraft::error::CheckIsLeaderError::QuorumNotEnough(q) => {
                StoreError::Unavailable(q.to_string())
            }
        }
    }
}

/// Flattens openraft's `RaftError<E>` into a [`StoreError`].
pub(crate) fn from_raft<E: Into<StoreError>>(e: typ::RaftError<E>) -> StoreError {
    match e {
        openraft::error::RaftError::APIError(api) => api.into(),
        openraft::error::RaftError::Fatal(f) => StoreError::Unavailable(f.to_string()),
    }
}

impl From<openraft::error::InitializeError<RaftId, RaftNode>> for StoreError {
    fn from(e: openraft::error::InitializeError<RaftId, RaftNode>) -> Self {
        StoreError::Membership(e.to_string())
    }
}

/// A [`StoreError`] in a form that crosses the wire on a forwarded proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireError {
    NotLeader { leader: Option<LeaderInfo> },
    Unavailable(String),
    Membership(String),
    Internal(String),
}

impl From<StoreError> for WireError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotLeader { leader } => WireError::NotLeader { leader },
            StoreError::Unavailable(s) => WireError::Unavailable(s),
            StoreError::Membership(s) => WireError::Membership(s),
            other => WireError::Internal(other.to_string()),
        }
    }
}

impl From<WireError> for StoreError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::NotLeader { leader } => StoreError::NotLeader { leader },
            WireError::Unavailable(s) => StoreError::Unavailable(s),
            WireError::Membership(s) => StoreError::Membership(s),
            WireError::Internal(s) => StoreError::Unavailable(format!("leader failed: {s}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_scheduler::model::{ObjectRef, ServiceId};

    #[test]
    fn apply_errors_keep_docker_texts() {
        let e = StoreError::from(ApplyError::OutOfSequence {
            object: ObjectRef::Service(ServiceId::new("s")),
            current: 2,
            given: 1,
        });
        assert!(matches!(e, StoreError::OutOfSequence(_)));
        assert_eq!(e.to_string(), "update out of sequence");
        let e = StoreError::from(ApplyError::NotFound(ObjectRef::Service(ServiceId::new(
            "s",
        ))));
        assert_eq!(e.to_string(), "service s not found");
    }
}
