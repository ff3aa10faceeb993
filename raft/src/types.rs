//! openraft type configuration and every alias the crate uses (openraft's `typ` pattern).

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};
use shoal_scheduler::model::{ApplyError, ClusterCommand, StoreEvent, Timestamp};

/// Raft member id of a manager. Distinct from the swarm node ID string: openraft needs a
/// small ordered integer.
pub type RaftId = u64;

/// What the cluster knows about a Raft member: where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RaftNode {
    /// `host:port` of the member's Raft gRPC listener.
    pub addr: String,
}

impl RaftNode {
    /// A member reachable at `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into() }
    }
}

impl fmt::Display for RaftNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// The Raft log payload: a cluster command plus who proposed it and when, and the other
/// proposals coalesced into the same entry by the leader's batcher.
///
/// The metadata is informational (audit, debugging); apply never depends on it. Each
/// command of an entry (`command`, then every `batched` one in order) is applied on its
/// own, all-or-nothing, with its own result: one rejected command does not fail the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The change to apply.
    pub command: ClusterCommand,
    /// The Raft id of the member that accepted the proposal from its caller.
    pub proposer: RaftId,
    /// The proposer's clock when it proposed.
    pub proposed_at: Timestamp,
    /// Further independent proposals carried by the same log entry. Absent in entries
    /// written before proposal batching (and in single-proposal entries), so both formats
    /// read the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batched: Vec<Proposal>,
}

/// One proposal coalesced into another's log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The change to apply.
    pub command: ClusterCommand,
    /// The member that accepted it from its caller.
    pub proposer: RaftId,
    /// The proposer's clock when it proposed.
    pub proposed_at: Timestamp,
}

impl Request {
    /// A request carrying one proposal.
    pub fn single(command: ClusterCommand, proposer: RaftId, proposed_at: Timestamp) -> Self {
        Self {
            command,
            proposer,
            proposed_at,
            batched: Vec::new(),
        }
    }

    /// Number of independent proposals in the entry.
    pub fn proposals(&self) -> usize {
        1 + self.batched.len()
    }

    /// Number of primitive object changes in the entry.
    pub fn op_count(&self) -> usize {
        self.command.op_count()
            + self
                .batched
                .iter()
                .map(|p| p.command.op_count())
                .sum::<usize>()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Request{{proposals: {}, ops: {}, proposer: {}}}",
            self.proposals(),
            self.op_count(),
            self.proposer
        )
    }
}

/// The outcome of applying one log entry on the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The object events of `Request::command`, or why it was rejected (identically on
    /// every replica).
    pub result: Result<Vec<StoreEvent>, ApplyError>,
    /// The results of `Request::batched`, in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batched: Vec<Result<Vec<StoreEvent>, ApplyError>>,
}

impl Response {
    /// The response of an entry without commands (blank or membership).
    pub fn empty() -> Self {
        Self {
            result: Ok(Vec::new()),
            batched: Vec::new(),
        }
    }
}

openraft::declare_raft_types!(
    /// Shoal's openraft type configuration.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = RaftId,
        Node = RaftNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Aliases of openraft's generic types for [`TypeConfig`].
pub mod typ {
    use super::{RaftId, RaftNode, TypeConfig};

    /// A Raft instance.
    pub type Raft = openraft::Raft<TypeConfig>;
    /// A log entry.
    pub type Entry = openraft::Entry<TypeConfig>;
    /// A log id.
    pub type LogId = openraft::LogId<RaftId>;
    /// A vote.
    pub type Vote = openraft::Vote<RaftId>;
    /// Snapshot metadata.
    pub type SnapshotMeta = openraft::SnapshotMeta<RaftId, RaftNode>;
    /// A snapshot with its data.
    pub type Snapshot = openraft::Snapshot<TypeConfig>;
    /// Membership as stored with its log id.
    pub type StoredMembership = openraft::StoredMembership<RaftId, RaftNode>;
    /// A storage error.
    pub type StorageError = openraft::StorageError<RaftId>;
    /// Metrics.
    pub type RaftMetrics = openraft::RaftMetrics<RaftId, RaftNode>;
    /// A Raft API error.
    pub type RaftError<E = openraft::error::Infallible> = openraft::error::RaftError<RaftId, E>;
    /// An RPC error as seen by the network layer.
    pub type RpcError<E = openraft::error::Infallible> =
        openraft::error::RPCError<RaftId, RaftNode, RaftError<E>>;
    /// Errors from `client_write`.
    pub type ClientWriteError = openraft::error::ClientWriteError<RaftId, RaftNode>;
    /// Errors from `ensure_linearizable`.
    pub type CheckIsLeaderError = openraft::error::CheckIsLeaderError<RaftId, RaftNode>;
    /// Where the leader is.
    pub type ForwardToLeader = openraft::error::ForwardToLeader<RaftId, RaftNode>;
    /// Vote request.
    pub type VoteRequest = openraft::raft::VoteRequest<RaftId>;
    /// Vote response.
    pub type VoteResponse = openraft::raft::VoteResponse<RaftId>;
    /// Append request.
    pub type AppendEntriesRequest = openraft::raft::AppendEntriesRequest<TypeConfig>;
    /// Append response.
    pub type AppendEntriesResponse = openraft::raft::AppendEntriesResponse<RaftId>;
    /// Snapshot chunk request.
    pub type InstallSnapshotRequest = openraft::raft::InstallSnapshotRequest<TypeConfig>;
    /// Snapshot chunk response.
    pub type InstallSnapshotResponse = openraft::raft::InstallSnapshotResponse<RaftId>;
}
